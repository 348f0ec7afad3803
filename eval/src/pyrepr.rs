//! Python's `repr` for floats and strings, and Python's `json.dumps` layout.
//!
//! BFCL builds its prompt with `json.dumps(functions, indent=4)` (ASCII-escaped,
//! `", "`/`": "` separators), and its decoders turn values into text with
//! `repr`. Matching those byte for byte keeps our prompts and texts identical.

use rustpython_literal::escape::{AsciiEscape, UnicodeEscape};

/// Python's `repr(float)`: shortest round-trip digits, `1e+16`, `inf`, `nan`.
pub fn float_repr(x: f64) -> String {
    rustpython_literal::float::to_string(x)
}

/// Python's `repr(str)`: single quotes unless the text holds one and no double quote.
pub fn str_repr(s: &str) -> String {
    UnicodeEscape::new_repr(s)
        .str_repr()
        .to_string()
        .unwrap_or_else(|| format!("{s:?}"))
}

/// Python's `repr(bytes)`: `b'...'` with `\x..` escapes.
pub fn bytes_repr(b: &[u8]) -> String {
    AsciiEscape::new_repr(b)
        .bytes_repr()
        .to_string()
        .unwrap_or_else(|| format!("{b:?}"))
}

/// Python's `json.dumps(value, indent=indent)` with the default `ensure_ascii=True`.
/// Without an indent the separators are `", "` and `": "`, as in Python.
pub fn json_dumps(value: &serde_json::Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_json(&mut out, value, indent, 0);
    out
}

fn write_json(out: &mut String, value: &serde_json::Value, indent: Option<usize>, depth: usize) {
    use serde_json::Value as J;
    match value {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (_, Some(u)) => out.push_str(&u.to_string()),
            _ => out.push_str(&json_float(n.as_f64().unwrap_or(f64::NAN))),
        },
        J::String(s) => write_json_str(out, s),
        J::Array(items) if items.is_empty() => out.push_str("[]"),
        J::Object(map) if map.is_empty() => out.push_str("{}"),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, indent, depth + 1);
                write_json(out, item, indent, depth + 1);
            }
            closing(out, indent, depth);
            out.push(']');
        }
        J::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                separator(out, i, indent, depth + 1);
                write_json_str(out, k);
                out.push_str(": ");
                write_json(out, v, indent, depth + 1);
            }
            closing(out, indent, depth);
            out.push('}');
        }
    }
}

fn separator(out: &mut String, index: usize, indent: Option<usize>, depth: usize) {
    match indent {
        Some(width) => {
            if index > 0 {
                out.push(',');
            }
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
        None if index > 0 => out.push_str(", "),
        None => {}
    }
}

fn closing(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(width * depth));
    }
}

fn json_float(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        float_repr(x)
    }
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_and_strings_repr_like_python() {
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(float_repr(2.0), "2.0");
        assert_eq!(float_repr(1e-5), "1e-05");
        assert_eq!(str_repr("a'b"), "\"a'b\"");
        assert_eq!(str_repr("ab\n"), "'ab\\n'");
        assert_eq!(bytes_repr(&[0xe9, b'a']), "b'\\xe9a'");
    }

    #[test]
    fn json_dumps_matches_python_layout() {
        let v = json!({"name": "f", "tags": [], "p": {"x": 1.5, "é": [1, "\u{1F600}"]}});
        assert_eq!(
            json_dumps(&v, Some(4)),
            "{\n    \"name\": \"f\",\n    \"tags\": [],\n    \"p\": {\n        \"x\": 1.5,\n        \"\\u00e9\": [\n            1,\n            \"\\ud83d\\ude00\"\n        ]\n    }\n}"
        );
        assert_eq!(json_dumps(&json!({"a": [1, 2]}), None), "{\"a\": [1, 2]}");
    }
}
