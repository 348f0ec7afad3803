//! Decoding steps in host memory: one token for each of several sequences,
//! each after its own KV cache. Every projection is one Q8 product over the
//! whole batch (each weight row is read once per step, not once per sequence);
//! norms, rotary positions, attention over the cache and the SwiGLU run on
//! plain `f32` rows, with no tensor allocated per operation. Each row is
//! computed on its own, so a sequence gets the same logits in any batch, to the bit.

use rayon::prelude::*;

use crate::cache::KvCache;
use crate::error::{ModelError, Result};
use crate::packed::{Heads, Packed};

impl Packed {
    /// Runs the embedded tokens `x[i]` after `caches[i]` for every `i`,
    /// extends the caches and returns each sequence's next-token logits.
    pub fn decode(
        &self,
        mut x: Vec<Vec<f32>>,
        caches: &mut [&mut KvCache],
    ) -> Result<Vec<Vec<f32>>> {
        if x.len() != caches.len() {
            return Err(ModelError::Setup(format!(
                "a decoding step got {} tokens and {} caches",
                x.len(),
                caches.len(),
            )));
        }
        let shape = self.shape;
        let n = x.len();
        let rotations: Vec<Rotation> = caches
            .iter()
            .map(|c| Rotation::at(self.rope_theta, shape.dim, c.len()))
            .collect();
        let q_width = shape.heads * shape.dim;
        let kv_width = shape.kv_heads * shape.dim;
        for (i, p) in self.layers.iter().enumerate() {
            let normed = rms_norm_rows(&x, &p.input_norm, self.norm_eps);
            let qkv = p.qkv.matmul(&slices(&normed));
            let mut queries = Vec::with_capacity(n);
            for ((row, rotation), cache) in qkv.into_iter().zip(&rotations).zip(caches.iter_mut()) {
                let mut q = row[..q_width].to_vec();
                let mut k = row[q_width..q_width + kv_width].to_vec();
                rotation.apply(&mut q);
                rotation.apply(&mut k);
                cache.layer_mut(i).push(&k, &row[q_width + kv_width..]);
                queries.push(q);
            }
            let layers: Vec<(&[f32], &[f32])> = caches
                .iter()
                .map(|c| (c.layer(i).keys(), c.layer(i).values()))
                .collect();
            let heads = attend(&queries, &layers, shape);
            add_rows(&mut x, p.o.matmul(&slices(&heads)));
            let normed = rms_norm_rows(&x, &p.post_attention_norm, self.norm_eps);
            let hidden: Vec<Vec<f32>> = p
                .gate_up
                .matmul(&slices(&normed))
                .iter()
                .map(|row| {
                    let (gate, up) = row.split_at(row.len() / 2);
                    gate.iter().zip(up).map(|(&g, &u)| silu(g) * u).collect()
                })
                .collect();
            add_rows(&mut x, p.down.matmul(&slices(&hidden)));
        }
        for cache in caches.iter_mut() {
            cache.advance(1);
        }
        let normed = rms_norm_rows(&x, &self.final_norm, self.norm_eps);
        Ok(self.head.matmul(&slices(&normed)))
    }
}

/// The rotary angles of one position (HF's `rotate_half` layout).
struct Rotation {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rotation {
    fn at(theta: f64, head_dim: usize, position: usize) -> Self {
        let (cos, sin) = (0..head_dim / 2)
            .map(|i| {
                let angle = position as f64 * theta.powf(-((2 * i) as f64) / head_dim as f64);
                (angle.cos() as f32, angle.sin() as f32)
            })
            .unzip();
        Self { cos, sin }
    }

    /// Rotates every head of `x` (heads side by side) in place.
    fn apply(&self, x: &mut [f32]) {
        let half = self.cos.len();
        for head in x.chunks_exact_mut(2 * half) {
            let (x1, x2) = head.split_at_mut(half);
            for i in 0..half {
                let (a, b) = (x1[i], x2[i]);
                x1[i] = a * self.cos[i] - b * self.sin[i];
                x2[i] = b * self.cos[i] + a * self.sin[i];
            }
        }
    }
}

/// Attention of each sequence's query (all heads side by side) over its own
/// cache, one task per sequence and KV head: the heads' outputs side by side.
fn attend(queries: &[Vec<f32>], caches: &[(&[f32], &[f32])], shape: Heads) -> Vec<Vec<f32>> {
    let group = shape.heads / shape.kv_heads;
    let span = group * shape.dim;
    let mut out = vec![vec![0f32; shape.heads * shape.dim]; queries.len()];
    let mut tasks: Vec<(usize, usize, &mut [f32])> = Vec::new();
    for (s, row) in out.iter_mut().enumerate() {
        for (g, chunk) in row.chunks_exact_mut(span).enumerate() {
            tasks.push((s, g, chunk));
        }
    }
    tasks.into_par_iter().for_each(|(s, g, out)| {
        let (keys, values) = caches[s];
        let queries = &queries[s][g * span..(g + 1) * span];
        attend_group(queries, keys, values, g, shape, out);
    });
    out
}

/// The `group` query heads that share KV head `g`: scores over every cached
/// position, softmax, and the weighted sum of the values. Each cached key and
/// value row is read once for the whole group (the cache outgrows the caches
/// of the CPU at long contexts); each head's arithmetic runs in the same order
/// as it would alone.
fn attend_group(
    queries: &[f32],
    keys: &[f32],
    values: &[f32],
    g: usize,
    shape: Heads,
    out: &mut [f32],
) {
    let (dim, stride) = (shape.dim, shape.kv_heads * shape.dim);
    let positions = keys.len() / stride;
    let scale = 1.0 / (dim as f32).sqrt();
    // `weights[h * positions + t]`: head h's score, then attention weight, at t.
    let mut weights = vec![0f32; queries.len() / dim * positions];
    for t in 0..positions {
        let key = &keys[t * stride + g * dim..][..dim];
        for (h, q) in queries.chunks_exact(dim).enumerate() {
            weights[h * positions + t] = dot(q, key) * scale;
        }
    }
    for scores in weights.chunks_exact_mut(positions.max(1)) {
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            total += *s;
        }
        for s in scores.iter_mut() {
            *s /= total;
        }
    }
    for t in 0..positions {
        let value = &values[t * stride + g * dim..][..dim];
        for (h, o) in out.chunks_exact_mut(dim).enumerate() {
            let w = weights[h * positions + t];
            for (o, v) in o.iter_mut().zip(value) {
                *o += w * v;
            }
        }
    }
}

/// A dot product with eight running sums, so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

fn rms_norm_rows(rows: &[Vec<f32>], weight: &[f32], eps: f64) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|row| {
            let mean_square = row.iter().map(|v| v * v).sum::<f32>() / row.len().max(1) as f32;
            let rms = (mean_square + eps as f32).sqrt();
            row.iter().zip(weight).map(|(v, w)| v / rms * w).collect()
        })
        .collect()
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

fn add_rows(x: &mut [Vec<f32>], delta: Vec<Vec<f32>>) {
    for (row, d) in x.iter_mut().zip(delta) {
        for (v, d) in row.iter_mut().zip(d) {
            *v += d;
        }
    }
}

fn slices(rows: &[Vec<f32>]) -> Vec<&[f32]> {
    rows.iter().map(Vec::as_slice).collect()
}
