//! Quantised matrix-vector kernels for decoding steps (one row, or one row per
//! sequence of a batch). Decoding reads every weight once per token, so the
//! bytes per weight set its speed; prefill and training keep the f32 burn
//! matmul. Two weight layouts, in blocks of 32 along a row:
//! - **Q4_1** (4-bit codes, an f32 scale and minimum per block: 0.75 byte per
//!   weight), used only when the f32 weights lie exactly on a Q4_1 grid, as the
//!   weights of a Q4_1 GGUF do, so it loses nothing;
//! - **Q8_0** (8-bit codes and an f32 scale: 1.125 bytes per weight)
//!   otherwise, e.g. for a fine-tuned or merged model.
//!
//! A matrix knows whether it reproduces the f32 weights it was built from
//! ([`QMatrix::is_exact`]): then [`QMatrix::to_f32`] gives them back, to the
//! bit, and an inference-only engine needs no other copy of them.
//!
//! The activation is quantised to Q8_0 blocks (with each block's sum, for the
//! Q4_1 minimum), the dot products are integer (AVX2 when the CPU has it), and
//! rows are split across threads.

use std::mem::MaybeUninit;

use half::f16;
use rayon::prelude::*;

const BLOCK: usize = 32;

/// Rows per parallel task: large enough to amortise scheduling.
const ROWS_PER_TASK: usize = 64;

/// A row-major matrix in quantised blocks.
pub struct QMatrix {
    rows: usize,
    cols: usize,
    layout: Layout,
    /// Every block dequantises to the f32 values it was built from.
    exact: bool,
}

enum Layout {
    Q8 {
        quants: Vec<i8>,
        scales: Vec<f32>,
    },
    /// Block `b` of a row holds 16 bytes: byte `j` carries value `j` in its
    /// low nibble and value `j + 16` in its high nibble (ggml's order);
    /// value = code · scale + min.
    Q4_1 {
        nibbles: Vec<u8>,
        scales: Vec<f32>,
        mins: Vec<f32>,
    },
}

/// One activation row in Q8_0 blocks, with each block's `scale · Σ codes`.
struct Activation {
    quants: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<f32>,
}

impl Activation {
    fn new(x: &[f32]) -> Self {
        let blocks = x.len() / BLOCK;
        let mut quants = vec![0i8; x.len()];
        let mut scales = vec![0f32; blocks];
        quantize_q8(x, &mut quants, &mut scales);
        let sums = quants
            .chunks_exact(BLOCK)
            .zip(&scales)
            .map(|(q, d)| q.iter().map(|&v| v as i32).sum::<i32>() as f32 * d)
            .collect();
        Self {
            quants,
            scales,
            sums,
        }
    }
}

/// Quantises one row of `BLOCK`-multiple length into Q8_0 `quants` / `scales`.
fn quantize_q8(x: &[f32], quants: &mut [i8], scales: &mut [f32]) {
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

/// The values of Q8_0 blocks: code · scale.
fn dequantise_q8<'a>(quants: &'a [i8], scales: &'a [f32]) -> impl Iterator<Item = f32> + 'a {
    quants
        .chunks_exact(BLOCK)
        .zip(scales)
        .flat_map(|(q, &d)| q.iter().map(move |&c| c as f32 * d))
}

/// Q4_1 blocks to values: code · scale + min, rounded after the product and
/// after the sum, as [`q4_1_block`] checks them.
fn dequantise_q4_1_scalar(nibbles: &[u8], d: &[f32], m: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (((o, n), d), m) in out
        .chunks_exact_mut(BLOCK)
        .zip(nibbles.chunks_exact(BLOCK / 2))
        .zip(d)
        .zip(m)
    {
        let (low, high) = o.split_at_mut(BLOCK / 2);
        for ((lo, hi), byte) in low.iter_mut().zip(high).zip(n) {
            lo.write((byte & 0x0f) as f32 * d + m);
            hi.write((byte >> 4) as f32 * d + m);
        }
    }
}

/// [`dequantise_q4_1_scalar`] sixteen values at a time, to the same bits (a
/// multiply, then an add: no fused multiply-add).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dequantise_q4_1_avx512(
    nibbles: &[u8],
    d: &[f32],
    m: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    use std::arch::x86_64::*;
    let blocks = d
        .len()
        .min(m.len())
        .min(nibbles.len() / (BLOCK / 2))
        .min(out.len() / BLOCK);
    let low_bits = _mm512_set1_epi32(0x0f);
    for b in 0..blocks {
        let bytes = _mm_loadu_si128(nibbles.as_ptr().add(b * BLOCK / 2).cast());
        let codes = _mm512_cvtepu8_epi32(bytes);
        let (scale, min) = (_mm512_set1_ps(d[b]), _mm512_set1_ps(m[b]));
        let low = _mm512_cvtepi32_ps(_mm512_and_si512(codes, low_bits));
        let high = _mm512_cvtepi32_ps(_mm512_srli_epi32(codes, 4));
        let dst = out.as_mut_ptr().add(b * BLOCK).cast::<f32>();
        _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_mul_ps(low, scale), min));
        _mm512_storeu_ps(
            dst.add(BLOCK / 2),
            _mm512_add_ps(_mm512_mul_ps(high, scale), min),
        );
    }
}

/// [`dequantise_q8`] sixteen values at a time, to the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dequantise_q8_avx512(quants: &[i8], d: &[f32], out: &mut [MaybeUninit<f32>]) {
    use std::arch::x86_64::*;
    let blocks = d.len().min(quants.len() / BLOCK).min(out.len() / BLOCK);
    for (b, &d) in d[..blocks].iter().enumerate() {
        let scale = _mm512_set1_ps(d);
        for half in 0..2 {
            let at = b * BLOCK + half * BLOCK / 2;
            let codes = _mm512_cvtepi8_epi32(_mm_loadu_si128(quants.as_ptr().add(at).cast()));
            let dst = out.as_mut_ptr().add(at).cast::<f32>();
            _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(codes), scale));
        }
    }
}

/// [`dequantise_q4_1_scalar`] eight values at a time, to the same bits, for
/// CPUs with AVX2 but not AVX-512 (the prefill dequantises every layer).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dequantise_q4_1_avx2(nibbles: &[u8], d: &[f32], m: &[f32], out: &mut [MaybeUninit<f32>]) {
    use std::arch::x86_64::*;
    let blocks = d
        .len()
        .min(m.len())
        .min(nibbles.len() / (BLOCK / 2))
        .min(out.len() / BLOCK);
    let low_bits = _mm256_set1_epi32(0x0f);
    for b in 0..blocks {
        let (scale, min) = (_mm256_set1_ps(d[b]), _mm256_set1_ps(m[b]));
        let dst = out.as_mut_ptr().add(b * BLOCK).cast::<f32>();
        for half in 0..2 {
            let bytes = _mm_loadl_epi64(nibbles.as_ptr().add(b * BLOCK / 2 + half * 8).cast());
            let codes = _mm256_cvtepu8_epi32(bytes);
            let low = _mm256_cvtepi32_ps(_mm256_and_si256(codes, low_bits));
            let high = _mm256_cvtepi32_ps(_mm256_srli_epi32(codes, 4));
            _mm256_storeu_ps(
                dst.add(half * 8),
                _mm256_add_ps(_mm256_mul_ps(low, scale), min),
            );
            _mm256_storeu_ps(
                dst.add(BLOCK / 2 + half * 8),
                _mm256_add_ps(_mm256_mul_ps(high, scale), min),
            );
        }
    }
}

/// [`dequantise_q8`] eight values at a time, to the same bits (AVX2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dequantise_q8_avx2(quants: &[i8], d: &[f32], out: &mut [MaybeUninit<f32>]) {
    use std::arch::x86_64::*;
    let blocks = d.len().min(quants.len() / BLOCK).min(out.len() / BLOCK);
    for (b, &d) in d[..blocks].iter().enumerate() {
        let scale = _mm256_set1_ps(d);
        for part in 0..4 {
            let at = b * BLOCK + part * 8;
            let codes = _mm256_cvtepi8_epi32(_mm_loadl_epi64(quants.as_ptr().add(at).cast()));
            let dst = out.as_mut_ptr().add(at).cast::<f32>();
            _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(codes), scale));
        }
    }
}

/// The Q4_1 codes of one block, packed into `nibbles`, and its (scale, min),
/// if every value is exactly `code · scale + min` (as the dequantiser computes
/// it); `None` otherwise.
fn q4_1_block(x: &[f32], nibbles: &mut [u8]) -> Option<(f32, f32)> {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let step = (hi - lo) / 15.0;
    // A Q4_1 file stores the scale as f16; try that first, then the exact step.
    for d in [f16::from_f32(step).to_f32(), step] {
        let mut codes = [0u8; BLOCK];
        let exact = x.iter().zip(&mut codes).all(|(&v, c)| {
            let code = if d > 0.0 { ((v - lo) / d).round() } else { 0.0 };
            *c = code as u8;
            (0.0..=15.0).contains(&code) && (code * d + lo).to_bits() == v.to_bits()
        });
        if exact {
            for (j, byte) in nibbles.iter_mut().enumerate() {
                *byte = codes[j] | (codes[j + BLOCK / 2] << 4);
            }
            return Some((d, lo));
        }
    }
    None
}

impl QMatrix {
    /// Q4_1 when it represents `w` exactly, Q8_0 otherwise; `None` when `cols`
    /// is not a multiple of the block size.
    pub fn from_f32(w: &[f32], rows: usize, cols: usize) -> Option<Self> {
        if !cols.is_multiple_of(BLOCK) || w.len() != rows * cols {
            return None;
        }
        Some(Self::q4_1_exact(w, rows, cols).unwrap_or_else(|| Self::q8(w, rows, cols)))
    }

    /// Q8_0 whatever the weights; `None` as for [`Self::from_f32`].
    pub fn q8_from_f32(w: &[f32], rows: usize, cols: usize) -> Option<Self> {
        if !cols.is_multiple_of(BLOCK) || w.len() != rows * cols {
            return None;
        }
        Some(Self::q8(w, rows, cols))
    }

    fn q4_1_exact(w: &[f32], rows: usize, cols: usize) -> Option<Self> {
        let blocks = rows * cols / BLOCK;
        let mut nibbles = vec![0u8; rows * cols / 2];
        let mut scales = vec![0f32; blocks];
        let mut mins = vec![0f32; blocks];
        nibbles
            .par_chunks_mut(BLOCK / 2)
            .zip(scales.par_iter_mut().zip(mins.par_iter_mut()))
            .zip(w.par_chunks(BLOCK))
            .try_for_each(|((n, (d, m)), x)| {
                (*d, *m) = q4_1_block(x, n)?;
                Some(())
            })?;
        Some(Self {
            rows,
            cols,
            layout: Layout::Q4_1 {
                nibbles,
                scales,
                mins,
            },
            exact: true,
        })
    }

    fn q8(w: &[f32], rows: usize, cols: usize) -> Self {
        let mut quants = vec![0i8; rows * cols];
        let mut scales = vec![0f32; rows * cols / BLOCK];
        // A Q8_0 file's weights come back exactly: their largest code is ±127,
        // so the scale found again is the stored one.
        let exact = quants
            .par_chunks_mut(cols)
            .zip(scales.par_chunks_mut(cols / BLOCK))
            .zip(w.par_chunks(cols))
            .map(|((q, d), row)| {
                quantize_q8(row, q, d);
                dequantise_q8(q, d)
                    .map(f32::to_bits)
                    .eq(row.iter().map(|v| v.to_bits()))
            })
            .reduce(|| true, |a, b| a && b);
        Self {
            rows,
            cols,
            layout: Layout::Q8 { quants, scales },
            exact,
        }
    }

    /// Whether [`Self::to_f32`] gives back the weights this was built from.
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r` as f32 values; `None` past the last row.
    pub fn row_f32(&self, r: usize) -> Option<Vec<f32>> {
        (r < self.rows).then(|| self.rows_f32(r, 1))
    }

    /// The whole matrix as row-major f32 values (see [`Self::rows_f32`]).
    pub fn to_f32(&self) -> Vec<f32> {
        self.rows_f32(0, self.rows)
    }

    /// Rows `first..first + count` as f32 values, in parallel tasks of rows.
    /// A prefill dequantises every projection of every layer this way, so the
    /// output is not zeroed first and blocks decode with AVX-512 or AVX2 where
    /// the CPU has it (criterion bench `qmatvec`).
    pub(crate) fn rows_f32(&self, first: usize, count: usize) -> Vec<f32> {
        let len = count * self.cols;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len]
            .par_chunks_mut((ROWS_PER_TASK * self.cols).max(1))
            .enumerate()
            .for_each(|(task, chunk)| self.dequantise_rows(first + task * ROWS_PER_TASK, chunk));
        // SAFETY: `dequantise_rows` wrote every one of the `len` values: each
        // chunk holds whole rows, and each row holds whole blocks.
        unsafe { out.set_len(len) };
        out
    }

    /// Dequantises the rows from `first` on into `out` (whole rows).
    fn dequantise_rows(&self, first: usize, out: &mut [MaybeUninit<f32>]) {
        let blocks = first * self.cols / BLOCK..(first * self.cols + out.len()) / BLOCK;
        let values = first * self.cols..first * self.cols + out.len();
        match &self.layout {
            Layout::Q8 { quants, scales } => {
                let (q, d) = (&quants[values], &scales[blocks]);
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F; the lengths are checked inside.
                    return unsafe { dequantise_q8_avx512(q, d, out) };
                }
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2; the lengths are checked inside.
                    return unsafe { dequantise_q8_avx2(q, d, out) };
                }
                for (o, v) in out.iter_mut().zip(dequantise_q8(q, d)) {
                    o.write(v);
                }
            }
            Layout::Q4_1 {
                nibbles,
                scales,
                mins,
            } => {
                let bytes = &nibbles[values.start / 2..values.end / 2];
                let (d, m) = (&scales[blocks.clone()], &mins[blocks]);
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F; `bytes` holds 16 bytes and
                    // `out` 32 values for each of the blocks in `d` and `m`.
                    return unsafe { dequantise_q4_1_avx512(bytes, d, m, out) };
                }
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2; as above.
                    return unsafe { dequantise_q4_1_avx2(bytes, d, m, out) };
                }
                dequantise_q4_1_scalar(bytes, d, m, out);
            }
        }
    }

    /// Whether the weights are held as Q4_1 (exact) rather than Q8_0.
    pub fn is_q4_1(&self) -> bool {
        matches!(self.layout, Layout::Q4_1 { .. })
    }

    /// The rows of `parts` one after another; `None` if their widths or
    /// layouts differ.
    pub fn stack(parts: Vec<QMatrix>) -> Option<Self> {
        let mut parts = parts.into_iter();
        let mut out = parts.next()?;
        for p in parts {
            if p.cols != out.cols {
                return None;
            }
            match (&mut out.layout, p.layout) {
                (
                    Layout::Q8 { quants, scales },
                    Layout::Q8 {
                        quants: q,
                        scales: d,
                    },
                ) => {
                    quants.extend(q);
                    scales.extend(d);
                }
                (
                    Layout::Q4_1 {
                        nibbles,
                        scales,
                        mins,
                    },
                    Layout::Q4_1 {
                        nibbles: n,
                        scales: d,
                        mins: m,
                    },
                ) => {
                    nibbles.extend(n);
                    scales.extend(d);
                    mins.extend(m);
                }
                _ => return None,
            }
            out.rows += p.rows;
            out.exact &= p.exact;
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
        let activations: Vec<Activation> = xs
            .iter()
            .map(|x| {
                assert_eq!(x.len(), self.cols, "activation length");
                Activation::new(x)
            })
            .collect();
        let n = xs.len();
        if n == 0 {
            return Vec::new();
        }
        let blocks = self.cols / BLOCK;
        // Row-major `[row][sequence]`, so each task writes one contiguous chunk.
        let mut out = vec![0f32; self.rows * n];
        out.par_chunks_mut(ROWS_PER_TASK * n)
            .enumerate()
            .for_each(|(task, chunk)| {
                for (i, outs) in chunk.chunks_exact_mut(n).enumerate() {
                    let r = task * ROWS_PER_TASK + i;
                    let bs = r * blocks..(r + 1) * blocks;
                    match &self.layout {
                        Layout::Q8 { quants, scales } => {
                            let wq = &quants[r * self.cols..(r + 1) * self.cols];
                            for (o, a) in outs.iter_mut().zip(&activations) {
                                *o = dot_q8(wq, &scales[bs.clone()], &a.quants, &a.scales);
                            }
                        }
                        Layout::Q4_1 {
                            nibbles,
                            scales,
                            mins,
                        } => {
                            let wq = &nibbles[r * self.cols / 2..(r + 1) * self.cols / 2];
                            let (wd, wm) = (&scales[bs.clone()], &mins[bs]);
                            dot_q4_1_rows(wq, wd, wm, &activations, outs);
                        }
                    }
                }
            });
        (0..n)
            .map(|b| out.iter().skip(b).step_by(n).copied().collect())
            .collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// AVX-512 VNNI on 256-bit vectors, for Q4_1: one `vpdpbusd` per block
/// instead of `vpmaddubsw` + `vpmaddwd`. (For Q8_0 it measured no faster than
/// AVX2: the sign trick that makes the left operand unsigned stays.)
#[cfg(target_arch = "x86_64")]
fn has_vnni() -> bool {
    has_avx2()
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512vnni")
}

fn dot_q8(wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the CPU has the features each kernel enables (checked
        // here); slices hold whole blocks of 32 bytes, as the constructor
        // guarantees.
        if has_avx2() {
            return unsafe { dot_q8_avx2(wq, wd, xq, xd) };
        }
    }
    dot_q8_scalar(wq, wd, xq, xd)
}

fn dot_q4_1(wq: &[u8], wd: &[f32], wm: &[f32], x: &Activation) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `dot_q8`; a row holds 16 nibble bytes per block.
        if has_vnni() {
            return unsafe { dot_q4_1_vnni(wq, wd, wm, [x]) }[0];
        }
        if has_avx2() {
            return unsafe { dot_q4_1_avx2(wq, wd, wm, x) };
        }
    }
    dot_q4_1_scalar(wq, wd, wm, x)
}

/// [`dot_q4_1`] of one row against each activation, four at a time where
/// the CPU has VNNI.
fn dot_q4_1_rows(wq: &[u8], wd: &[f32], wm: &[f32], xs: &[Activation], out: &mut [f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if has_vnni() {
        for (o, x) in out.chunks_exact_mut(4).zip(xs.chunks_exact(4)) {
            // SAFETY: as in `dot_q4_1`.
            o.copy_from_slice(&unsafe { dot_q4_1_vnni(wq, wd, wm, [&x[0], &x[1], &x[2], &x[3]]) });
            done += 4;
        }
    }
    for (o, x) in out[done..].iter_mut().zip(&xs[done..]) {
        *o = dot_q4_1(wq, wd, wm, x);
    }
}

fn dot_q8_scalar(wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
    wq.chunks_exact(BLOCK)
        .zip(xq.chunks_exact(BLOCK))
        .zip(wd.iter().zip(xd))
        .map(|((w, x), (dw, dx))| {
            let s: i32 = w.iter().zip(x).map(|(&a, &b)| a as i32 * b as i32).sum();
            s as f32 * dw * dx
        })
        .sum()
}

fn dot_q4_1_scalar(wq: &[u8], wd: &[f32], wm: &[f32], x: &Activation) -> f32 {
    wq.chunks_exact(BLOCK / 2)
        .zip(x.quants.chunks_exact(BLOCK))
        .enumerate()
        .map(|(b, (w, xq))| {
            let s: i32 = w
                .iter()
                .enumerate()
                .map(|(j, &byte)| {
                    (byte & 0x0F) as i32 * xq[j] as i32 + (byte >> 4) as i32 * xq[j + 16] as i32
                })
                .sum();
            s as f32 * wd[b] * x.scales[b] + wm[b] * x.sums[b]
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(acc: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let sum = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    let sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    let sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
    _mm_cvtss_f32(sum)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_q8_avx2(wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
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
    hsum(acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_q4_1_avx2(wq: &[u8], wd: &[f32], wm: &[f32], x: &Activation) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let ones = _mm256_set1_epi16(1);
    for (b, (dw, dx)) in wd.iter().zip(&x.scales).enumerate() {
        let xq = _mm256_loadu_si256(x.quants.as_ptr().add(b * BLOCK) as *const __m256i);
        // Codes 0..15 are unsigned, as maddubs wants its left operand.
        let pairs = _mm256_maddubs_epi16(q4_1_codes(wq, b), xq);
        let quads = _mm256_madd_epi16(pairs, ones);
        let scale = _mm256_set1_ps(dw * dx);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), scale, acc);
    }
    hsum(acc) + dot_f32(wm, &x.sums)
}

/// The 32 codes of Q4_1 block `b`: low nibbles first, as ggml orders them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn q4_1_codes(wq: &[u8], b: usize) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let bytes = _mm_loadu_si128(wq.as_ptr().add(b * BLOCK / 2) as *const __m128i);
    let low = _mm_set1_epi8(0x0F);
    _mm256_set_m128i(
        _mm_and_si128(_mm_srli_epi16(bytes, 4), low),
        _mm_and_si128(bytes, low),
    )
}

/// `Σ a[i] · b[i]` over two short f32 rows (a row's block scales).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= n {
        let (va, vb) = (
            _mm256_loadu_ps(a.as_ptr().add(i)),
            _mm256_loadu_ps(b.as_ptr().add(i)),
        );
        acc = _mm256_fmadd_ps(va, vb, acc);
        i += 8;
    }
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum();
    hsum(acc) + tail
}

/// Q4_1 row `wq` against `N` activations at once: each block's codes are
/// unpacked once for all of them. Every output is computed by the same
/// arithmetic whatever `N` is, so a batched step equals single steps to the bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
unsafe fn dot_q4_1_vnni<const N: usize>(
    wq: &[u8],
    wd: &[f32],
    wm: &[f32],
    xs: [&Activation; N],
) -> [f32; N] {
    use std::arch::x86_64::*;
    // Two accumulators per activation (even and odd blocks), so consecutive
    // blocks do not wait on each other.
    let mut even = [_mm256_setzero_ps(); N];
    let mut odd = [_mm256_setzero_ps(); N];
    let step = |b: usize, acc: &mut [__m256; N]| {
        let codes = q4_1_codes(wq, b);
        for (acc, x) in acc.iter_mut().zip(xs) {
            let xq = _mm256_loadu_si256(x.quants.as_ptr().add(b * BLOCK) as *const __m256i);
            let sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), codes, xq);
            let scale = _mm256_set1_ps(wd[b] * x.scales[b]);
            *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, *acc);
        }
    };
    let mut b = 0;
    while b + 2 <= wd.len() {
        step(b, &mut even);
        step(b + 1, &mut odd);
        b += 2;
    }
    if b < wd.len() {
        step(b, &mut even);
    }
    let mut out = [0f32; N];
    for (i, (o, x)) in out.iter_mut().zip(xs).enumerate() {
        *o = hsum(_mm256_add_ps(even[i], odd[i])) + dot_f32(wm, &x.sums);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values on a Q4_1 grid, as a Q4_1 GGUF dequantises to.
    fn q4_1_grid(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols / BLOCK)
            .flat_map(|b| {
                let d = f16::from_f32(0.01 + (b % 7) as f32 * 0.003).to_f32();
                let m = f16::from_f32(-0.05 * (b % 5) as f32).to_f32();
                // Each half of the block holds every code, the halves in
                // different orders (so swapped nibbles would show).
                (0..BLOCK).map(move |j| ((b * 7 + j * 11 + j / 16 * 5) % 16) as f32 * d + m)
            })
            .collect()
    }

    fn activation(cols: usize, seed: usize) -> Vec<f32> {
        (0..cols)
            .map(|i| ((i * (17 + seed) % 23) as f32 - 11.0) / 7.0)
            .collect()
    }

    #[test]
    fn q8_matvec_matches_f32_within_quantisation_error() {
        let (rows, cols) = (70, 96);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 48.0)
            .collect();
        let x = activation(cols, 0);
        let m = QMatrix::from_f32(&w, rows, cols).unwrap();
        assert!(!m.is_q4_1(), "these weights are off any Q4_1 grid");
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
        // The SIMD and scalar dot products agree on the same blocks.
        let a = Activation::new(&x);
        let Layout::Q8 { quants, scales } = &m.layout else {
            unreachable!()
        };
        let (wq, wd) = (&quants[..cols], &scales[..3]);
        let scalar = dot_q8_scalar(wq, wd, &a.quants, &a.scales);
        assert!((dot_q8(wq, wd, &a.quants, &a.scales) - scalar).abs() < 1e-4);
    }

    #[test]
    fn weights_on_a_q4_1_grid_are_held_exactly_as_q4_1() {
        let (rows, cols) = (70, 96);
        let w = q4_1_grid(rows, cols);
        let m = QMatrix::from_f32(&w, rows, cols).unwrap();
        assert!(m.is_q4_1());
        let Layout::Q4_1 {
            nibbles,
            scales,
            mins,
        } = &m.layout
        else {
            unreachable!()
        };
        // Decoding the layout gives back every weight, to the bit.
        for (b, block) in w.chunks_exact(BLOCK).enumerate() {
            for (j, &v) in block.iter().enumerate() {
                let byte = nibbles[b * 16 + j % 16];
                let code = if j < 16 { byte & 0x0F } else { byte >> 4 };
                assert_eq!((code as f32 * scales[b] + mins[b]).to_bits(), v.to_bits());
            }
        }
        // Only the activation is quantised: the error bound is its half step.
        let x = activation(cols, 1);
        let y = m.matvec(&x);
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            let exact: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
            let bound: f32 = row.iter().map(|a| a.abs() * 11.0 / 7.0 / 254.0).sum();
            assert!((y[r] - exact).abs() <= bound + 1e-4, "row {r}");
        }
        let a = Activation::new(&x);
        let row = (&nibbles[..cols / 2], &scales[..3], &mins[..3]);
        // Every kernel this CPU can run agrees with the scalar one.
        let scalar = dot_q4_1_scalar(row.0, row.1, row.2, &a);
        assert!((dot_q4_1(row.0, row.1, row.2, &a) - scalar).abs() < 1e-4);
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA; the row holds whole blocks.
            let avx2 = unsafe { dot_q4_1_avx2(row.0, row.1, row.2, &a) };
            assert!((avx2 - scalar).abs() < 1e-4);
        }
    }

    #[test]
    fn exact_matrices_dequantise_to_their_weights_and_others_say_so() {
        // 70 rows: more than one parallel task of rows, and a partial one.
        let (rows, cols) = (70, 96);
        let grid = q4_1_grid(rows, cols);
        let q4_1 = QMatrix::from_f32(&grid, rows, cols).unwrap();
        assert!(q4_1.is_exact());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&q4_1.to_f32()), bits(&grid));
        assert_eq!(bits(&q4_1.row_f32(69).unwrap()), bits(&grid[69 * cols..]));
        assert!(q4_1.row_f32(70).is_none());
        // The scalar decoder gives the same bits as the one this CPU runs.
        let Layout::Q4_1 {
            nibbles,
            scales,
            mins,
        } = &q4_1.layout
        else {
            unreachable!()
        };
        let mut scalar = vec![MaybeUninit::new(f32::NAN); rows * cols];
        dequantise_q4_1_scalar(nibbles, scales, mins, &mut scalar);
        // SAFETY: every value was initialised above.
        let scalar: Vec<f32> = scalar.iter().map(|v| unsafe { v.assume_init() }).collect();
        assert_eq!(bits(&scalar), bits(&grid));
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            let mut avx2 = vec![MaybeUninit::new(f32::NAN); rows * cols];
            // SAFETY: the CPU has AVX2; the buffers hold whole blocks.
            unsafe { dequantise_q4_1_avx2(nibbles, scales, mins, &mut avx2) };
            // SAFETY: every value was initialised above.
            let avx2: Vec<f32> = avx2.iter().map(|v| unsafe { v.assume_init() }).collect();
            assert_eq!(bits(&avx2), bits(&grid));
        }
        // Weights a Q8_0 file decodes to (codes up to ±127 times an f16 scale).
        let q8_values: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let d = half::f16::from_f32(0.001 + (i / BLOCK) as f32 * 1e-4).to_f32();
                let code = if i % BLOCK == 5 {
                    -127
                } else {
                    (i * 37 % 255) as i32 - 127
                };
                code as f32 * d
            })
            .collect();
        let q8 = QMatrix::from_f32(&q8_values, rows, cols).unwrap();
        assert!(!q8.is_q4_1() && q8.is_exact());
        assert_eq!(bits(&q8.to_f32()), bits(&q8_values));
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            let Layout::Q8 { quants, scales } = &q8.layout else {
                unreachable!()
            };
            let mut avx2 = vec![MaybeUninit::new(f32::NAN); rows * cols];
            // SAFETY: the CPU has AVX2; the buffers hold whole blocks.
            unsafe { dequantise_q8_avx2(quants, scales, &mut avx2) };
            // SAFETY: every value was initialised above.
            let avx2: Vec<f32> = avx2.iter().map(|v| unsafe { v.assume_init() }).collect();
            assert_eq!(bits(&avx2), bits(&q8_values));
        }
        // Arbitrary weights are approximated, and the matrix knows it.
        let arbitrary = activation(rows * cols, 3);
        let approx = QMatrix::from_f32(&arbitrary, rows, cols).unwrap();
        assert!(!approx.is_exact());
        let stacked = QMatrix::stack(vec![
            QMatrix::q8_from_f32(&q8_values, rows, cols).unwrap(),
            approx,
        ])
        .unwrap();
        assert!(!stacked.is_exact());
    }

    #[test]
    fn one_weight_off_the_grid_keeps_the_matrix_q8() {
        let (rows, cols) = (4, 64);
        let mut w = q4_1_grid(rows, cols);
        w[77] += 1e-3;
        assert!(!QMatrix::from_f32(&w, rows, cols).unwrap().is_q4_1());
        w[77] = f32::NAN;
        assert!(!QMatrix::from_f32(&w, rows, cols).unwrap().is_q4_1());
    }

    #[test]
    fn matmul_rows_equal_matvec_to_the_bit() {
        let (rows, cols) = (130, 64);
        let off_grid: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        for w in [off_grid, q4_1_grid(rows, cols)] {
            let m = QMatrix::from_f32(&w, rows, cols).unwrap();
            let xs: Vec<Vec<f32>> = (0..3).map(|s| activation(cols, s)).collect();
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
    }

    #[test]
    fn stacking_keeps_a_layout_and_refuses_a_mix() {
        let q4 = || QMatrix::from_f32(&q4_1_grid(2, 64), 2, 64).unwrap();
        let off_grid: Vec<f32> = (0..128)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let q8 = || QMatrix::from_f32(&off_grid, 2, 64).unwrap();
        let both = QMatrix::stack(vec![q4(), q4()]).unwrap();
        assert!(both.is_q4_1());
        assert_eq!(both.matvec(&activation(64, 2)).len(), 4);
        assert!(QMatrix::stack(vec![q4(), q8()]).is_none());
    }

    #[test]
    fn odd_widths_are_refused() {
        assert!(QMatrix::from_f32(&[0.0; 40], 2, 20).is_none());
        // Zero columns are a multiple of the block: an empty matrix, not a panic.
        let empty = QMatrix::from_f32(&[], 3, 0).unwrap();
        assert!(empty.to_f32().is_empty() && empty.row_f32(2).unwrap().is_empty());
    }
}
