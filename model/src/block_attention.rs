//! Causal attention of a block of new positions (a prefill block, or one
//! token) over a sequence's host KV cache, for inference. Per query head, one
//! GEMM gives the scores against every cached key, a softmax with a
//! vectorised exponential stops at each query's own position, and a second
//! GEMM sums the values. The cache is read where it lies: a tensor attention
//! copied the whole cache into tensors for every block and layer, filled a
//! mask, and exponentiated one score at a time with libm, which at 2,000
//! tokens of context was most of the prefill's attention time
//! (results/model-engine.md).

use rayon::prelude::*;
use wide::f32x8;

use crate::packed::Heads;

/// The heads' outputs for `queries`, the rows of positions `start..start +
/// len` with every head side by side and rotary positions applied. `keys` and
/// `values` are one layer's cache, `[positions][kv_heads][dim]`, holding at
/// least `start + len` positions, the block's own included. Query `i` sees
/// the keys of positions `0..=start + i`. The result is laid out like
/// `queries`.
pub(crate) fn attend_block(
    queries: &[f32],
    keys: &[f32],
    values: &[f32],
    start: usize,
    shape: Heads,
) -> Vec<f32> {
    let Heads {
        heads,
        kv_heads,
        dim,
    } = shape;
    let width = heads * dim;
    let stride = kv_heads * dim;
    let len = queries.len() / width;
    let positions = start + len;
    assert!(
        queries.len() == len * width
            && keys.len() >= positions * stride
            && values.len() >= positions * stride
            && heads % kv_heads == 0,
        "attend_block: {} query values, {} cached keys, {} values for {len} rows after {start} ({shape:?})",
        queries.len(),
        keys.len(),
        values.len(),
    );
    let group = heads / kv_heads;
    let scale = 1.0 / (dim as f32).sqrt();
    let per_head: Vec<Vec<f32>> = (0..heads)
        .into_par_iter()
        .map(|head| {
            let kv = head / group;
            let mut scores = vec![0f32; len * positions];
            // SAFETY: every pointer walks inside its slice: query rows
            // `i · width + head · dim + c` (i < len, c < dim), keys and values
            // `t · stride + kv · dim + c` (t < positions, checked above),
            // scores `i · positions + t` and out `i · dim + c`.
            unsafe {
                gemm::gemm(
                    len,
                    positions,
                    dim,
                    scores.as_mut_ptr(),
                    1,
                    positions as isize,
                    false,
                    queries.as_ptr().add(head * dim),
                    1,
                    width as isize,
                    keys.as_ptr().add(kv * dim),
                    stride as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for (i, row) in scores.chunks_exact_mut(positions).enumerate() {
                let (seen, future) = row.split_at_mut(start + i + 1);
                softmax(seen);
                future.fill(0.0);
            }
            let mut out = vec![0f32; len * dim];
            // SAFETY: as above.
            unsafe {
                gemm::gemm(
                    len,
                    dim,
                    positions,
                    out.as_mut_ptr(),
                    1,
                    dim as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    positions as isize,
                    values.as_ptr().add(kv * dim),
                    1,
                    stride as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            out
        })
        .collect();
    let mut out = vec![0f32; len * width];
    for (head, rows) in per_head.iter().enumerate() {
        for (i, row) in rows.chunks_exact(dim).enumerate() {
            out[i * width + head * dim..][..dim].copy_from_slice(row);
        }
    }
    out
}

/// Softmax in place, eight lanes at a time; the last `len % 8` scores go in
/// one lane set padded with −∞, whose exponential is 0. Whole lane sets are
/// copied as fixed-size arrays, which compile to vector loads and stores.
fn softmax(scores: &mut [f32]) {
    let whole = scores.len() / 8 * 8;
    let load = |chunk: &[f32]| {
        let mut lanes = [0f32; 8];
        lanes.copy_from_slice(chunk);
        f32x8::from(lanes)
    };
    let padded = |tail: &[f32]| {
        let mut lanes = [f32::NEG_INFINITY; 8];
        lanes[..tail.len()].copy_from_slice(tail);
        f32x8::from(lanes)
    };
    let (body, tail) = scores.split_at_mut(whole);
    let max = body
        .chunks_exact(8)
        .map(load)
        .fold(padded(tail), f32x8::max)
        .to_array()
        .into_iter()
        .fold(f32::NEG_INFINITY, f32::max);
    let max = f32x8::splat(max);
    let mut total = f32x8::ZERO;
    for chunk in body.chunks_exact_mut(8) {
        let e = (load(chunk) - max).exp();
        total += e;
        chunk.copy_from_slice(&e.to_array());
    }
    if !tail.is_empty() {
        let e = (padded(tail) - max).exp();
        total += e;
        let n = tail.len();
        tail.copy_from_slice(&e.to_array()[..n]);
    }
    let inverse = 1.0 / total.reduce_add();
    for p in scores.iter_mut() {
        *p *= inverse;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook attention, in f64, one query row and head at a time.
    fn reference(
        queries: &[f32],
        keys: &[f32],
        values: &[f32],
        start: usize,
        shape: Heads,
    ) -> Vec<f32> {
        let Heads {
            heads,
            kv_heads,
            dim,
        } = shape;
        let (width, stride) = (heads * dim, kv_heads * dim);
        let len = queries.len() / width;
        let mut out = vec![0f32; queries.len()];
        for i in 0..len {
            for head in 0..heads {
                let kv = head / (heads / kv_heads);
                let q = &queries[i * width + head * dim..][..dim];
                let scores: Vec<f64> = (0..=start + i)
                    .map(|t| {
                        let k = &keys[t * stride + kv * dim..][..dim];
                        let dot: f64 = q.iter().zip(k).map(|(a, b)| *a as f64 * *b as f64).sum();
                        dot / (dim as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for c in 0..dim {
                    let sum: f64 = weights
                        .iter()
                        .enumerate()
                        .map(|(t, w)| w * values[t * stride + kv * dim + c] as f64)
                        .sum();
                    out[i * width + head * dim + c] = (sum / total) as f32;
                }
            }
        }
        out
    }

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn blocks_after_a_cache_match_the_textbook_attention() {
        let shape = Heads {
            heads: 6,
            kv_heads: 2,
            dim: 16,
        };
        let stride = shape.kv_heads * shape.dim;
        // A first block, a block after 37 cached positions, and one token.
        for (start, len) in [(0, 13), (37, 11), (50, 1)] {
            let positions = start + len;
            let keys = noise(positions * stride, 1);
            let values = noise(positions * stride, 2);
            let queries = noise(len * shape.heads * shape.dim, 3 + start as u32);
            let ours = attend_block(&queries, &keys, &values, start, shape);
            let exact = reference(&queries, &keys, &values, start, shape);
            let worst = ours
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "start {start}, len {len}: {worst}");
        }
    }

    #[test]
    fn softmax_sums_to_one_at_every_length() {
        for n in [1, 7, 8, 9, 40] {
            let mut scores = noise(n, n as u32);
            scores[0] = -1e30;
            softmax(&mut scores);
            let total: f32 = scores.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "{n}: {total}");
            assert!(scores.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }
}
