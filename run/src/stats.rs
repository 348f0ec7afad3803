//! The statistics of the report, for small test sets: the Wilson score
//! interval of an accuracy, and McNemar's exact test between two models
//! scored on the same entries.

/// The two-sided 95 % normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score 95 % interval of `correct / n`, as fractions; `None`
/// when nothing was scored.
pub fn wilson(correct: usize, n: usize) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (correct as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// McNemar's exact two-sided p-value for the discordant pairs: `b` entries
/// only the first model got right and `c` only the second did. Under the null
/// hypothesis each discordant entry goes either way with probability ½, so
/// p = min(1, 2 · P(X ≤ min(b, c))) for X ~ Binomial(b + c, ½).
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // ln P(X = i), built up term by term in log space: 2^-n underflows f64
    // beyond n ≈ 1,000.
    let mut log_pmf = -(n as f64) * std::f64::consts::LN_2;
    let mut terms = Vec::with_capacity(k + 1);
    for i in 0..=k {
        terms.push(log_pmf);
        log_pmf += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * terms.iter().map(|t| (t - top).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook_values() {
        let (low, high) = wilson(5, 10).unwrap();
        assert!((low - 0.2366).abs() < 1e-4 && (high - 0.7634).abs() < 1e-4);
        let (low, high) = wilson(0, 10).unwrap();
        assert!(low.abs() < 1e-12, "{low}");
        assert!((high - 0.2775).abs() < 1e-4, "{high}");
        let (low, high) = wilson(10, 10).unwrap();
        assert!(
            (low - 0.7225).abs() < 1e-4 && (high - 1.0).abs() < 1e-12,
            "{low} {high}"
        );
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn mcnemar_exact_matches_the_binomial_tail() {
        // P(X ≤ 1) for Binomial(8, ½) = 9 / 256.
        assert!((mcnemar_exact(1, 7) - 2.0 * 9.0 / 256.0).abs() < 1e-12);
        assert_eq!(mcnemar_exact(7, 1), mcnemar_exact(1, 7));
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(4, 4), 1.0);
        // P(X = 0) for Binomial(10, ½) = 1 / 1024.
        assert!((mcnemar_exact(0, 10) - 2.0 / 1024.0).abs() < 1e-15);
        // Large and balanced stays finite and near 1; large and lopsided
        // goes to 0 without underflowing into NaN.
        let balanced = mcnemar_exact(1500, 1500);
        assert!(balanced > 0.9 && balanced <= 1.0, "{balanced}");
        let lopsided = mcnemar_exact(100, 2900);
        assert!((0.0..1e-100).contains(&lopsided), "{lopsided}");
    }
}
