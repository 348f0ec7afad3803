//! Packing a micro-batch into one row, each sample with its own positions
//! and segment, so attention never crosses samples (see
//! `Llama::hidden_packed`) and no target spans two samples.

use toolgrad_model::llama::SequenceLayout;

use crate::encode::Encoded;

/// A micro-batch, row-major `rows × seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub seq: usize,
    pub tokens: Vec<i64>,
    /// The token each position predicts (0 where `weights` is false).
    pub targets: Vec<i64>,
    pub weights: Vec<bool>,
    pub layout: SequenceLayout,
}

impl Batch {
    pub fn loss_tokens(&self) -> usize {
        self.weights.iter().filter(|&&w| w).count()
    }

    /// Positions that are real tokens, not padding.
    pub fn real_tokens(&self) -> usize {
        self.layout
            .segments
            .iter()
            .filter(|&&s| s < PADDING_SEGMENTS)
            .count()
    }
}

/// Segment ids at or above this mark padding (each padding token its own).
const PADDING_SEGMENTS: u32 = 1 << 30;

/// With `packing`, one row holding every sample back to back, longest first,
/// so no position is padding and attention runs per sample (the model's
/// span mask); without it, one sample per row, padded to the longest.
pub fn pack(samples: &[&Encoded], packing: bool) -> Batch {
    let mut order: Vec<&Encoded> = samples.to_vec();
    order.sort_by_key(|s| std::cmp::Reverse(s.ids.len()));
    let rows: Vec<Vec<&Encoded>> = match packing {
        true => vec![order],
        false => order.into_iter().map(|s| vec![s]).collect(),
    };
    let used: Vec<usize> = rows
        .iter()
        .map(|row| row.iter().map(|s| s.ids.len()).sum())
        .collect();
    let seq = used.iter().copied().max().unwrap_or(1).max(1);
    let total = rows.len() * seq;
    let mut batch = Batch {
        rows: rows.len(),
        seq,
        tokens: Vec::with_capacity(total),
        targets: Vec::with_capacity(total),
        weights: Vec::with_capacity(total),
        layout: SequenceLayout {
            positions: Vec::with_capacity(total),
            segments: Vec::with_capacity(total),
        },
    };
    for row in &rows {
        let mut filled = 0;
        for (segment, sample) in row.iter().enumerate() {
            let n = sample.ids.len();
            for k in 0..n {
                batch.tokens.push(sample.ids[k] as i64);
                let learned = k + 1 < n && sample.labels[k + 1];
                batch
                    .targets
                    .push(if learned { sample.ids[k + 1] as i64 } else { 0 });
                batch.weights.push(learned);
                batch.layout.positions.push(k);
                batch.layout.segments.push(segment as u32);
            }
            filled += n;
        }
        for pad in filled..seq {
            batch.tokens.push(0);
            batch.targets.push(0);
            batch.weights.push(false);
            batch.layout.positions.push(0);
            batch.layout.segments.push(PADDING_SEGMENTS + pad as u32);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ids: &[u32], labels: &[bool]) -> Encoded {
        Encoded {
            line: 1,
            ids: ids.to_vec(),
            labels: labels.to_vec(),
        }
    }

    #[test]
    fn packing_fills_rows_without_crossing_samples() {
        let a = sample(&[1, 2, 3, 4], &[false, false, true, true]);
        let b = sample(&[5, 6], &[false, true]);
        let c = sample(&[7, 8, 9], &[false, true, true]);
        let batch = pack(&[&a, &b, &c], true);
        assert_eq!((batch.rows, batch.seq), (1, 9));
        // Longest first: a, c, b, with no padding.
        assert_eq!(batch.tokens, [1, 2, 3, 4, 7, 8, 9, 5, 6]);
        assert_eq!(batch.layout.positions, [0, 1, 2, 3, 0, 1, 2, 0, 1]);
        assert_eq!(batch.layout.segments, [0, 0, 0, 0, 1, 1, 1, 2, 2]);
        // a's last token predicts nothing (c's first token is not its target).
        assert_eq!(batch.targets, [0, 3, 4, 0, 8, 9, 0, 6, 0]);
        let learned = [false, true, true, false, true, true, false, true, false];
        assert_eq!(batch.weights, learned);
        assert_eq!(
            batch.loss_tokens(),
            a.loss_tokens() + b.loss_tokens() + c.loss_tokens()
        );
        assert_eq!(batch.real_tokens(), 9);
        let unpacked = pack(&[&a, &b, &c], false);
        assert_eq!((unpacked.rows, unpacked.seq), (3, 4));
        assert_eq!(unpacked.real_tokens(), 9);
        assert_eq!(unpacked.loss_tokens(), batch.loss_tokens());
    }
}
