//! Python's text semantics that the official checker leans on: `str.strip()`,
//! slicing by code points, `int(text)` and `float(text)`.

use crate::value::Value;

/// Python's `str.strip()` with no argument.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Python's `int(text)` for base 10, or `None` where it raises `ValueError`.
pub(crate) fn py_int(text: &str) -> Option<Value> {
    let body = py_strip(text);
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let digits = strip_digit_underscores(digits)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let magnitude = if trimmed.is_empty() { "0" } else { trimmed };
    let signed = if negative {
        format!("-{magnitude}")
    } else {
        magnitude.to_owned()
    };
    Some(match signed.parse::<i128>() {
        Ok(i) => Value::Int(i),
        Err(_) if signed == "-0" => Value::Int(0),
        Err(_) => Value::BigInt(signed),
    })
}

/// Python's `float(text)`, or `None` where it raises `ValueError`.
pub(crate) fn py_float(text: &str) -> Option<f64> {
    let body = py_strip(text);
    let (sign, rest) = match body.as_bytes().first() {
        Some(b'-') => (-1.0, &body[1..]),
        Some(b'+') => (1.0, &body[1..]),
        _ => (1.0, body),
    };
    let lower = rest.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity") {
        return Some(sign * f64::INFINITY);
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    let cleaned = strip_digit_underscores(rest)?;
    let valid = !cleaned.is_empty()
        && cleaned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && cleaned.bytes().any(|b| b.is_ascii_digit())
        && !cleaned.starts_with(['+', '-']);
    if !valid {
        return None;
    }
    cleaned.parse::<f64>().ok().map(|f| sign * f)
}

/// Removes underscores that sit between two digits; any other underscore is invalid.
fn strip_digit_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let between_digits = i > 0
                && bytes[i - 1].is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !between_digits {
                return None;
            }
        } else {
            out.push(b as char);
        }
    }
    Some(out)
}

/// `text[1:-1]` when the text starts and ends with the same one of `quotes`
/// (the official `value.startswith(q) and value.endswith(q)` test).
pub(crate) fn unquote(text: &str, quotes: &[char]) -> Option<String> {
    quotes
        .iter()
        .any(|&q| text.starts_with(q) && text.ends_with(q))
        .then(|| drop_first_and_last(text))
}

/// `value[1:-1]` on code points.
pub(crate) fn drop_first_and_last(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    py_slice(&chars, 1, chars.len().saturating_sub(1))
}

/// Python's `s[start:end]` on code points, with end-relative and out-of-range bounds clamped.
pub(crate) fn py_slice(chars: &[char], start: usize, end: usize) -> String {
    let end = end.min(chars.len());
    let start = start.min(end);
    chars[start..end].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_and_float_parse_like_python() {
        assert_eq!(
            py_int(" -0012 ").map(|v| v.to_string()).as_deref(),
            Some("-12")
        );
        assert_eq!(
            py_int("1_000").map(|v| v.to_string()).as_deref(),
            Some("1000")
        );
        assert!(py_int("1__0").is_none() && py_int("1.0").is_none() && py_int("").is_none());
        assert_eq!(py_float("1e3"), Some(1000.0));
        assert_eq!(py_float(" -.5 "), Some(-0.5));
        assert_eq!(py_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(
            py_float("1.2.3").is_none() && py_float("abc").is_none() && py_float("--1").is_none()
        );
    }
}
