//! Choosing the next token from logits: greedy, or temperature with nucleus
//! (top-p) sampling from a seeded generator; optionally only among the tokens a
//! constraint allows.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How to pick tokens.
#[derive(Debug, Clone)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// Candidates checked against a constraint before falling back to the whole vocabulary.
const CONSTRAINED_SHORTLIST: usize = 256;

pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = StdRng::seed_from_u64(params.seed);
        Self { params, rng }
    }

    /// Picks a token among those `allowed` accepts, or `None` when it accepts none.
    pub fn pick(&mut self, logits: &[f32], allowed: &mut dyn FnMut(u32) -> bool) -> Option<u32> {
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
        let greedy = self.params.temperature <= 0.0;
        if greedy {
            // The best token is usually allowed: find it in one pass, and sort only
            // when a constraint rules it out.
            let best = (0..logits.len() as u32).min_by(by_logit)?;
            if allowed(best) {
                return Some(best);
            }
            order.sort_unstable_by(by_logit);
            return order.into_iter().find(|&t| allowed(t));
        }
        let shortlist = CONSTRAINED_SHORTLIST.min(order.len());
        order.select_nth_unstable_by(shortlist.saturating_sub(1), by_logit);
        order[..shortlist].sort_unstable_by(by_logit);
        let mut candidates: Vec<u32> = order[..shortlist]
            .iter()
            .copied()
            .filter(|&t| allowed(t))
            .collect();
        if candidates.is_empty() {
            order[shortlist..].sort_unstable_by(by_logit);
            candidates = order[shortlist..]
                .iter()
                .copied()
                .filter(|&t| allowed(t))
                .collect();
        }
        let first = *candidates.first()?;
        let max = logits[first as usize];
        let t = self.params.temperature;
        let weights: Vec<f32> = candidates
            .iter()
            .map(|&c| ((logits[c as usize] - max) / t).exp())
            .collect();
        let total: f32 = weights.iter().sum();
        // Keep the smallest prefix holding top_p of the mass.
        let mut kept = 0;
        let mut mass = 0.0;
        while kept < weights.len() {
            mass += weights[kept];
            kept += 1;
            if mass >= self.params.top_p * total {
                break;
            }
        }
        let mut draw = self.rng.random::<f32>() * mass;
        for (c, w) in candidates.iter().zip(&weights).take(kept) {
            if draw < *w {
                return Some(*c);
            }
            draw -= w;
        }
        Some(candidates[kept - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_best_allowed_token() {
        let logits = [0.1, 3.0, 2.0, -1.0];
        let mut s = Sampler::new(SamplingParams::default());
        assert_eq!(s.pick(&logits, &mut |_| true), Some(1));
        assert_eq!(s.pick(&logits, &mut |t| t != 1), Some(2));
        assert_eq!(s.pick(&logits, &mut |_| false), None);
    }

    #[test]
    fn sampling_is_reproducible_and_respects_top_p() {
        let logits: Vec<f32> = (0..50).map(|i| -(i as f32) * 0.1).collect();
        let params = SamplingParams {
            temperature: 1.0,
            top_p: 0.5,
            seed: 7,
        };
        let draw = |params: SamplingParams| {
            let mut s = Sampler::new(params);
            (0..200)
                .map(|_| s.pick(&logits, &mut |_| true).unwrap())
                .collect::<Vec<_>>()
        };
        let a = draw(params.clone());
        assert_eq!(a, draw(params.clone()));
        // Half the mass of this distribution lies in its first 7 tokens.
        assert!(a.iter().all(|&t| t < 8), "{a:?}");
        assert!(a.iter().collect::<std::collections::HashSet<_>>().len() > 3);
        let other = draw(SamplingParams { seed: 8, ..params });
        assert_ne!(a, other);
    }
}
