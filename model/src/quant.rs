//! GGML tensor types and their dequantisation into `f32` (block layouts as in
//! ggml's `ggml-quants.c`), plus the quantisers tests use to write GGUF files.

use half::f16;

/// A GGML element type that this crate can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Bf16,
    Q4_0,
    Q4_1,
    Q8_0,
    Q4K,
    Q6K,
}

/// Values in one K-quant super-block.
const QK_K: usize = 256;

impl GgmlType {
    /// Maps a GGUF type id; `Err` carries the ggml name of an unsupported one.
    pub fn from_id(id: u32) -> Result<Self, String> {
        Ok(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            8 => Self::Q8_0,
            12 => Self::Q4K,
            14 => Self::Q6K,
            30 => Self::Bf16,
            other => {
                let name = match other {
                    6 => "Q5_0",
                    7 => "Q5_1",
                    9 => "Q8_1",
                    10 => "Q2_K",
                    11 => "Q3_K",
                    13 => "Q5_K",
                    15 => "Q8_K",
                    16..=23 => "IQ*",
                    24 => "I8",
                    25 => "I16",
                    26 => "I32",
                    27 => "I64",
                    28 => "F64",
                    _ => "unknown",
                };
                return Err(format!(
                    "type {name} (id {other}) is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K, Q6_K)"
                ));
            }
        })
    }

    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q8_0 => 8,
            Self::Q4K => 12,
            Self::Q6K => 14,
            Self::Bf16 => 30,
        }
    }

    /// (values per block, bytes per block).
    pub fn block(self) -> (usize, usize) {
        match self {
            Self::F32 => (1, 4),
            Self::F16 | Self::Bf16 => (1, 2),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q8_0 => (32, 34),
            Self::Q4K => (QK_K, 144),
            Self::Q6K => (QK_K, 210),
        }
    }

    /// Bytes holding `n` values, or `None` when `n` is not a whole number of blocks.
    pub fn byte_len(self, n: usize) -> Option<usize> {
        let (values, bytes) = self.block();
        n.is_multiple_of(values).then(|| n / values * bytes)
    }
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Dequantises `data` (exactly `kind.byte_len(out.len())` bytes) into `out`.
pub fn dequantize(kind: GgmlType, data: &[u8], out: &mut [f32]) {
    let (values, bytes) = kind.block();
    debug_assert_eq!(Some(data.len()), kind.byte_len(out.len()));
    let blocks = data.chunks_exact(bytes).zip(out.chunks_exact_mut(values));
    match kind {
        GgmlType::F32 => {
            blocks.for_each(|(b, y)| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
        GgmlType::F16 => blocks.for_each(|(b, y)| y[0] = f16_at(b, 0)),
        GgmlType::Bf16 => {
            blocks.for_each(|(b, y)| y[0] = half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
        }
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0);
            for (j, &q) in b[2..18].iter().enumerate() {
                y[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
                y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
            }
        }),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for (j, &q) in b[4..20].iter().enumerate() {
                y[j] = (q & 0x0F) as f32 * d + m;
                y[j + 16] = (q >> 4) as f32 * d + m;
            }
        }),
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0);
            for (j, &q) in b[2..34].iter().enumerate() {
                y[j] = q as i8 as f32 * d;
            }
        }),
        GgmlType::Q4K => blocks.for_each(|(b, y)| dequantize_q4k(b, y)),
        GgmlType::Q6K => blocks.for_each(|(b, y)| dequantize_q6k(b, y)),
    }
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K block.
fn q4k_scale_min(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn dequantize_q4k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (chunk, (q, out)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc1, m1) = q4k_scale_min(2 * chunk, scales);
        let (sc2, m2) = q4k_scale_min(2 * chunk + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            out[l] = d1 * (q[l] & 0x0F) as f32 - m1;
            out[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

fn dequantize_q6k(b: &[u8], y: &mut [f32]) {
    let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for half in 0..2 {
        let (ql, qh, sc) = (&ql[64 * half..], &qh[32 * half..], &sc[8 * half..]);
        let y = &mut y[128 * half..];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * sc[is] as i8 as f32 * q1 as f32;
            y[l + 32] = d * sc[is + 2] as i8 as f32 * q2 as f32;
            y[l + 64] = d * sc[is + 4] as i8 as f32 * q3 as f32;
            y[l + 96] = d * sc[is + 6] as i8 as f32 * q4 as f32;
        }
    }
}

/// Quantises `x` (a whole number of 32-value blocks) as ggml's reference
/// quantisers do. Only the simple block types are written: `None` for the
/// K-quants.
pub fn quantize(kind: GgmlType, x: &[f32]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(kind.byte_len(x.len()).unwrap_or(0));
    match kind {
        GgmlType::F32 => x.iter().for_each(|v| out.extend(v.to_le_bytes())),
        GgmlType::F16 => x
            .iter()
            .for_each(|v| out.extend(f16::from_f32(*v).to_le_bytes())),
        GgmlType::Bf16 => x
            .iter()
            .for_each(|v| out.extend(half::bf16::from_f32(*v).to_le_bytes())),
        GgmlType::Q4_0 => x.chunks_exact(32).for_each(|b| {
            let max = b
                .iter()
                .copied()
                .fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m });
            let d = max / -8.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            out.extend(f16::from_f32(d).to_le_bytes());
            for j in 0..16 {
                let q = |v: f32| ((v * id + 8.5) as i32).clamp(0, 15) as u8;
                out.push(q(b[j]) | (q(b[j + 16]) << 4));
            }
        }),
        GgmlType::Q4_1 => x.chunks_exact(32).for_each(|b| {
            let min = b.iter().copied().fold(f32::INFINITY, f32::min);
            let max = b.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = (max - min) / 15.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            out.extend(f16::from_f32(d).to_le_bytes());
            out.extend(f16::from_f32(min).to_le_bytes());
            for j in 0..16 {
                let q = |v: f32| (((v - min) * id + 0.5) as i32).clamp(0, 15) as u8;
                out.push(q(b[j]) | (q(b[j + 16]) << 4));
            }
        }),
        GgmlType::Q8_0 => x.chunks_exact(32).for_each(|b| {
            let amax = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            out.extend(f16::from_f32(d).to_le_bytes());
            out.extend(b.iter().map(|v| (v * id).round() as i8 as u8));
        }),
        GgmlType::Q4K | GgmlType::Q6K => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect()
    }

    #[test]
    fn quantizing_to_a_k_quant_is_refused_not_unreachable() {
        for kind in [GgmlType::Q4K, GgmlType::Q6K] {
            assert_eq!(quantize(kind, &ramp(256)), None, "{kind:?}");
        }
    }

    fn roundtrip(kind: GgmlType, tolerance: f32) {
        let x = ramp(128);
        let bytes = quantize(kind, &x).unwrap();
        assert_eq!(Some(bytes.len()), kind.byte_len(x.len()));
        let mut y = vec![0.0; x.len()];
        dequantize(kind, &bytes, &mut y);
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() <= tolerance, "{kind:?}: {a} vs {b}");
        }
    }

    #[test]
    fn simple_types_round_trip_within_their_step() {
        roundtrip(GgmlType::F32, 0.0);
        roundtrip(GgmlType::F16, 1e-3);
        roundtrip(GgmlType::Bf16, 1e-2);
        roundtrip(GgmlType::Q8_0, 2.0 / 127.0);
        roundtrip(GgmlType::Q4_1, 4.0 / 15.0);
        roundtrip(GgmlType::Q4_0, 2.0 / 8.0 + 1e-3);
    }

    #[test]
    fn q4k_block_decodes_scales_and_mins() {
        // d = 1, dmin = 0.5; sub-block 0: scale 3, min 2; sub-block 1: scale 5, min 4;
        // nibbles: low = 7, high = 9.
        let mut b = vec![0u8; 144];
        b[0..2].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b[2..4].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        b[4] = 3;
        b[5] = 5;
        b[8] = 2;
        b[9] = 4;
        b[16..48].fill(0x97);
        let mut y = vec![0.0; 256];
        dequantize(GgmlType::Q4K, &b, &mut y);
        assert_eq!(y[0], 3.0 * 7.0 - 0.5 * 2.0);
        assert_eq!(y[32], 5.0 * 9.0 - 0.5 * 4.0);
        assert_eq!(y[64], 0.0);
    }

    #[test]
    fn q6k_block_combines_low_and_high_bits() {
        // d = 0.25, scale[0] = 2, scale[2] = -3; value 0: low 5 | high 1 => 21 - 32 = -11.
        let mut b = vec![0u8; 210];
        b[0] = 0x05;
        b[128] = 0b0000_0001;
        b[192] = 2;
        b[194] = (-3i8) as u8;
        b[208..210].copy_from_slice(&f16::from_f32(0.25).to_le_bytes());
        let mut y = vec![0.0; 256];
        dequantize(GgmlType::Q6K, &b, &mut y);
        assert_eq!(y[0], 0.25 * 2.0 * -11.0);
        assert_eq!(y[32], 0.25 * -3.0 * -32.0);
    }

    #[test]
    fn unsupported_types_are_named() {
        assert!(GgmlType::from_id(13).unwrap_err().contains("Q5_K"));
        assert_eq!(GgmlType::from_id(12), Ok(GgmlType::Q4K));
    }
}
