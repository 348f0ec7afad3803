//! A Q8_0 matrix-vector kernel for decoding steps (one row, or one row per
//! sequence of a batch): weights held as
//! 8-bit blocks of 32 with one f32 scale, the activation quantised the same way,
//! integer dot products (AVX2 when the CPU has it), rows split across threads.
//! Decoding reads every weight once per token, so a quarter of the f32 bytes
//! is what makes it fast; prefill and training keep the f32 burn matmul.

use rayon::prelude::*;

const BLOCK: usize = 32;

/// Rows per parallel task: large enough to amortise scheduling.
const ROWS_PER_TASK: usize = 64;

/// A row-major matrix in Q8_0 blocks.
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    quants: Vec<i8>,
    scales: Vec<f32>,
}

/// Quantises one row of `BLOCK`-multiple length into `quants` / `scales`.
fn quantize_into(x: &[f32], quants: &mut [i8], scales: &mut [f32]) {
    for ((block, q), d) in x
        .chunks_exact(BLOCK)
        .zip(quants.chunks_exact_mut(BLOCK))
        .zip(scales)
    {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        *d = amax / 127.0;
        let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        for (qi, v) in q.iter_mut().zip(block) {
            *qi = (v * inv).round() as i8;
        }
    }
}

impl Q8Matrix {
    /// `None` when `cols` is not a multiple of the block size.
    pub fn from_f32(w: &[f32], rows: usize, cols: usize) -> Option<Self> {
        if !cols.is_multiple_of(BLOCK) || w.len() != rows * cols {
            return None;
        }
        let mut quants = vec![0i8; rows * cols];
        let mut scales = vec![0f32; rows * cols / BLOCK];
        quants
            .par_chunks_mut(cols)
            .zip(scales.par_chunks_mut(cols / BLOCK))
            .zip(w.par_chunks(cols))
            .for_each(|((q, d), row)| quantize_into(row, q, d));
        Some(Self {
            rows,
            cols,
            quants,
            scales,
        })
    }

    /// The rows of `parts` one after another; `None` if their widths differ.
    pub fn stack(parts: Vec<Q8Matrix>) -> Option<Self> {
        let cols = parts.first()?.cols;
        let mut out = Self {
            rows: 0,
            cols,
            quants: Vec::new(),
            scales: Vec::new(),
        };
        for p in parts {
            if p.cols != cols {
                return None;
            }
            out.rows += p.rows;
            out.quants.extend(p.quants);
            out.scales.extend(p.scales);
        }
        Some(out)
    }

    /// `W · x` for one activation row.
    pub fn matvec(&self, x: &[f32]) -> Vec<f32> {
        self.matmul(&[x]).pop().unwrap_or_default()
    }

    /// `W · x` for each of several activation rows (one decoding step of
    /// several sequences). Each weight row is read once for all of them, and
    /// every output is the same dot product [`Self::matvec`] computes, bit for bit.
    pub fn matmul(&self, xs: &[&[f32]]) -> Vec<Vec<f32>> {
        let blocks = self.cols / BLOCK;
        let quantised: Vec<(Vec<i8>, Vec<f32>)> = xs
            .iter()
            .map(|x| {
                assert_eq!(x.len(), self.cols, "activation length");
                let mut xq = vec![0i8; self.cols];
                let mut xd = vec![0f32; blocks];
                quantize_into(x, &mut xq, &mut xd);
                (xq, xd)
            })
            .collect();
        let n = xs.len();
        if n == 0 {
            return Vec::new();
        }
        // Row-major `[row][sequence]`, so each task writes one contiguous chunk.
        let mut out = vec![0f32; self.rows * n];
        out.par_chunks_mut(ROWS_PER_TASK * n)
            .enumerate()
            .for_each(|(task, chunk)| {
                for (i, outs) in chunk.chunks_exact_mut(n).enumerate() {
                    let r = task * ROWS_PER_TASK + i;
                    let wq = &self.quants[r * self.cols..(r + 1) * self.cols];
                    let wd = &self.scales[r * blocks..(r + 1) * blocks];
                    for (o, (xq, xd)) in outs.iter_mut().zip(&quantised) {
                        *o = dot(wq, wd, xq, xd);
                    }
                }
            });
        (0..n)
            .map(|b| out.iter().skip(b).step_by(n).copied().collect())
            .collect()
    }
}

fn dot(wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked above); slices hold
            // whole blocks of 32 bytes, as the constructor guarantees.
            return unsafe { dot_avx2(wq, wd, xq, xd) };
        }
    }
    dot_scalar(wq, wd, xq, xd)
}

fn dot_scalar(wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
    wq.chunks_exact(BLOCK)
        .zip(xq.chunks_exact(BLOCK))
        .zip(wd.iter().zip(xd))
        .map(|((w, x), (dw, dx))| {
            let s: i32 = w.iter().zip(x).map(|(&a, &b)| a as i32 * b as i32).sum();
            s as f32 * dw * dx
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let ones = _mm256_set1_epi16(1);
    for b in 0..wd.len() {
        let w = _mm256_loadu_si256(wq.as_ptr().add(b * BLOCK) as *const __m256i);
        let x = _mm256_loadu_si256(xq.as_ptr().add(b * BLOCK) as *const __m256i);
        // |x| · (w · sign(x)) = w · x, with an unsigned left operand for maddubs.
        let ax = _mm256_sign_epi8(x, x);
        let sw = _mm256_sign_epi8(w, x);
        let pairs = _mm256_maddubs_epi16(ax, sw);
        let quads = _mm256_madd_epi16(pairs, ones);
        let scale = _mm256_set1_ps(wd[b] * xd[b]);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc);
    }
    let hi = _mm256_extractf128_ps(acc, 1);
    let lo = _mm256_castps256_ps128(acc);
    let sum = _mm_add_ps(hi, lo);
    let sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    let sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
    _mm_cvtss_f32(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matvec_matches_f32_within_quantisation_error() {
        let (rows, cols) = (70, 96);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 48.0)
            .collect();
        let x: Vec<f32> = (0..cols)
            .map(|i| ((i * 17 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let m = Q8Matrix::from_f32(&w, rows, cols).unwrap();
        let y = m.matvec(&x);
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            let exact: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
            // Each factor is off by at most half a step (1/254 of its block's
            // maximum: 1 for weights, 11/7 for the activation).
            let bound: f32 = row
                .iter()
                .zip(&x)
                .map(|(a, b)| (a.abs() * 11.0 / 7.0 + b.abs()) / 254.0)
                .sum();
            assert!(
                (y[r] - exact).abs() <= bound,
                "row {r}: {} vs {exact} (bound {bound})",
                y[r]
            );
        }
        // The SIMD and scalar dot products agree exactly on the same blocks.
        let mut xq = vec![0i8; cols];
        let mut xd = vec![0f32; cols / BLOCK];
        quantize_into(&x, &mut xq, &mut xd);
        let scalar = dot_scalar(&m.quants[..cols], &m.scales[..3], &xq, &xd);
        assert!((dot(&m.quants[..cols], &m.scales[..3], &xq, &xd) - scalar).abs() < 1e-4);
    }

    #[test]
    fn matmul_rows_equal_matvec_to_the_bit() {
        let (rows, cols) = (130, 64);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let m = Q8Matrix::from_f32(&w, rows, cols).unwrap();
        let xs: Vec<Vec<f32>> = (0..3)
            .map(|s| {
                (0..cols)
                    .map(|i| ((i * (5 + s) % 29) as f32 - 14.0) / 9.0)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let batched = m.matmul(&refs);
        assert_eq!(batched.len(), 3);
        for (x, y) in xs.iter().zip(&batched) {
            let single = m.matvec(x);
            assert_eq!(y.len(), rows);
            assert!(single
                .iter()
                .zip(y)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        assert!(m.matmul(&[]).is_empty());
    }

    #[test]
    fn odd_widths_are_refused() {
        assert!(Q8Matrix::from_f32(&[0.0; 40], 2, 20).is_none());
    }
}
