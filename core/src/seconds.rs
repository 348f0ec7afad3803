//! Durations that configs give in seconds: one check for every crate, so that
//! `Duration::from_secs_f64` never sees `inf`, `NaN` or a negative number.

use std::time::Duration;

/// The longest duration a config may set: about 31 years.
const MAX_SECONDS: f64 = 1e9;

/// Whether `value` is a number of seconds a config may set (0 to 10⁹).
pub fn valid(value: f64) -> bool {
    value.is_finite() && (0.0..=MAX_SECONDS).contains(&value)
}

/// The duration, or `None` for a value [`valid`] refuses.
pub fn duration(value: f64) -> Option<Duration> {
    valid(value).then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_values_are_refused() {
        assert_eq!(duration(2.5), Some(Duration::from_millis(2500)));
        assert_eq!(duration(0.0), Some(Duration::ZERO));
        for odd in [f64::INFINITY, f64::NAN, -1.0, 1e20] {
            assert_eq!(duration(odd), None, "{odd}");
        }
    }
}
