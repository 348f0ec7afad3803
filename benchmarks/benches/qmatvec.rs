//! The decoding kernels alone: one activation row through the 30 gate/up
//! projections of a SmolLM2-135M-shaped model (3,072 × 576 each, 53 M weights:
//! 40 MB as Q4_1, 60 MB as Q8_0, more than L2 holds), with the weights as exact
//! Q4_1 and as Q8_0, and eight rows at once (a batched decoding step); and
//! the same weights dequantised back to f32, as a lean engine's prefill does
//! once per layer and prompt.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use half::f16;
use toolgrad_model::qmatvec::QMatrix;

const LAYERS: usize = 30;
const ROWS: usize = 3072;
const COLS: usize = 576;

/// Pseudo-random weights; on a Q4_1 grid (as a Q4_1 GGUF dequantises) or off it.
fn weights(layer: usize, on_grid: bool) -> Vec<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ layer as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..ROWS * COLS / 32)
        .flat_map(|_| {
            let d = f16::from_f32(0.002 + (next() % 100) as f32 * 1e-4).to_f32();
            let m = f16::from_f32(-8.0 * d).to_f32();
            // Codes 0 and 15 in every block, as ggml's Q4_1 quantiser writes.
            (0..32)
                .map(|j| {
                    let code = match j {
                        0 => 0.0,
                        1 => 15.0,
                        _ => (next() % 16) as f32,
                    };
                    if on_grid {
                        code * d + m
                    } else {
                        code * d + m + (next() % 1000) as f32 * 1e-7
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let x: Vec<Vec<f32>> = (0..8)
        .map(|s| {
            (0..COLS)
                .map(|i| ((i * (7 + s)) % 23) as f32 / 11.0 - 1.0)
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("30 projections of 3072 x 576");
    group.throughput(Throughput::Elements((LAYERS * ROWS * COLS) as u64));
    for (name, on_grid) in [("q4_1", true), ("q8_0", false)] {
        let layers: Vec<QMatrix> = (0..LAYERS)
            .map(|l| {
                let m =
                    QMatrix::from_f32(&weights(l, on_grid), ROWS, COLS).expect("576 is 18 blocks");
                assert_eq!(m.is_q4_1(), on_grid);
                m
            })
            .collect();
        group.bench_function(format!("{name}, 1 row"), |b| {
            b.iter(|| layers.iter().map(|m| m.matvec(&x[0])[0]).sum::<f32>())
        });
        let rows: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        group.bench_function(format!("{name}, 8 rows"), |b| {
            b.iter(|| layers.iter().map(|m| m.matmul(&rows)[7][0]).sum::<f32>())
        });
        group.bench_function(format!("{name}, dequantised to f32"), |b| {
            b.iter(|| layers.iter().map(|m| m.to_f32()[7]).sum::<f32>())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
