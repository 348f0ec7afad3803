//! Where the answers sit in the candidate list. The reference lists the used
//! tools first, so position alone gives the answer away; ours are shuffled.
//! The histogram is tested for uniformity with Pearson's chi-square test.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::sample::Sample;

/// The answer-position histogram over samples with exactly `slots` candidates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionTest {
    pub slots: usize,
    /// `counts[i]`: answers at position `i` (0-based).
    pub counts: Vec<usize>,
    pub chi_square: f64,
    pub degrees_of_freedom: usize,
    /// The probability of a histogram at least this uneven if every position
    /// were equally likely; `None` with fewer than 5 expected per slot.
    pub p_value: Option<f64>,
}

pub fn histogram(samples: &[Sample], slots: usize) -> PositionTest {
    let mut counts = vec![0usize; slots];
    for sample in samples
        .iter()
        .filter(|s| !s.negative && s.tools.len() == slots)
    {
        for (position, tool) in sample.tools.iter().enumerate() {
            if sample.calls.iter().any(|c| c.name == tool.name) {
                counts[position] += 1;
            }
        }
    }
    let total: usize = counts.iter().sum();
    let expected = total as f64 / slots.max(1) as f64;
    let chi_square = if expected > 0.0 {
        counts
            .iter()
            .map(|&o| (o as f64 - expected).powi(2) / expected)
            .sum()
    } else {
        0.0
    };
    let degrees_of_freedom = slots.saturating_sub(1);
    let p_value = (expected >= 5.0 && degrees_of_freedom > 0)
        .then(|| ChiSquared::new(degrees_of_freedom as f64).ok())
        .flatten()
        .map(|d| 1.0 - d.cdf(chi_square));
    PositionTest {
        slots,
        counts,
        chi_square,
        degrees_of_freedom,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Call, Function};
    use serde_json::json;

    fn sample(answer_at: usize) -> Sample {
        let tools = (0..4)
            .map(|i| Function {
                name: format!("t{i}"),
                description: String::new(),
                parameters: json!({"type": "object"}),
                family: String::new(),
            })
            .collect();
        Sample {
            id: String::new(),
            source: String::new(),
            query: String::new(),
            tools,
            calls: vec![Call {
                name: format!("t{answer_at}"),
                arguments: Default::default(),
            }],
            chain_lengths: vec![1],
            negative: false,
            trace: None,
        }
    }

    #[test]
    fn answers_first_is_detected_and_balanced_positions_pass() {
        let first: Vec<Sample> = (0..200).map(|_| sample(0)).collect();
        let test = histogram(&first, 4);
        assert_eq!(test.counts, vec![200, 0, 0, 0]);
        assert!(test.p_value.unwrap() < 1e-6);
        let balanced: Vec<Sample> = (0..200).map(|i| sample(i % 4)).collect();
        let test = histogram(&balanced, 4);
        assert_eq!(test.chi_square, 0.0);
        assert!(test.p_value.unwrap() > 0.99);
        assert_eq!(histogram(&first[..4], 4).p_value, None);
    }
}
