//! The official `js_type_converter`: JavaScript source text → Python value by declared type.
//!
//! Python regex semantics are kept: `re.match` anchors at the start only and `$`
//! also matches before one trailing newline. The dict splitter needs a lookahead,
//! so it runs on `fancy-regex`.

use std::sync::LazyLock;

use regex::Regex;

use super::java::UnsupportedType;
use crate::pystr::{drop_first_and_last, py_float, py_int, py_strip, unquote};
use crate::value::{dict_insert, Value};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("converter regexes are valid")
}

static INTEGER: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+\n?\z"));
static FLOAT: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+(\.\d+)?\n?\z"));
static BIGINT: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+n\n?\z"));
static ARRAY_2D: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\A(?:\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\))")
});
static INNER_ARRAY: LazyLock<Regex> = LazyLock::new(|| re(r"\[(.*?)\]"));
static ARRAY: LazyLock<Regex> = LazyLock::new(|| re(r"\A(?:\[(.*?)\]|\bnew\s+Array\((.*?)\))"));
static DICT: LazyLock<Regex> = LazyLock::new(|| re(r"\A\{(.*?)\}"));
static DICT_PAIR: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    fancy_regex::Regex::new(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|(?=\n?\z))").expect("valid regex")
});

/// Whether the official `JS_TYPE_CONVERSION` table knows this type.
pub fn is_known_type(js_type: &str) -> bool {
    matches!(
        js_type,
        "String" | "integer" | "float" | "Bigint" | "Boolean" | "dict" | "array" | "any"
    )
}

pub fn convert(
    value: &str,
    js_type: &str,
    nested_type: Option<&str>,
) -> Result<Value, UnsupportedType> {
    let text = || Value::Str(value.to_owned());
    Ok(match js_type {
        "String" if unquote(value, &['"', '\'']).is_some() => {
            Value::Str(drop_first_and_last(value))
        }
        "integer" if INTEGER.is_match(value) => py_int(value).unwrap_or_else(text),
        "float" if FLOAT.is_match(value) => py_float(value).map(Value::Float).unwrap_or_else(text),
        "Bigint" if BIGINT.is_match(value) => {
            let digits = value.trim_end_matches('\n');
            py_int(&digits[..digits.len() - 1]).unwrap_or_else(text)
        }
        "Boolean" if value == "true" || value == "false" => Value::Bool(value == "true"),
        "String" | "integer" | "float" | "Bigint" | "Boolean" | "any" => text(),
        "dict" => parse_dict(py_strip(value)),
        "array" => parse_array(py_strip(value), nested_type),
        other => return Err(UnsupportedType(other.to_owned())),
    })
}

fn parse_array(code: &str, nested_type: Option<&str>) -> Value {
    if let Some(whole) = ARRAY_2D.find(code) {
        let rows = INNER_ARRAY
            .captures_iter(whole.as_str())
            .enumerate()
            .map(|(index, row)| {
                let mut row = py_strip(&row[1]);
                if index == 0 && row.starts_with('[') {
                    row = &row[1..];
                }
                Value::List(
                    row.split(',')
                        .map(|item| parse_value(py_strip(item)))
                        .collect(),
                )
            })
            .collect();
        return Value::List(rows);
    }
    let Some(captures) = ARRAY.captures(code) else {
        return Value::Str(code.to_owned());
    };
    let body = captures
        .get(1)
        .or_else(|| captures.get(2))
        .map(|m| py_strip(m.as_str()));
    let items: Vec<&str> = match body {
        Some(body) if !body.is_empty() => body.split(',').collect(),
        _ => Vec::new(),
    };
    let converted: Result<Vec<Value>, UnsupportedType> = items
        .iter()
        .map(|item| {
            let item = py_strip(item);
            match nested_type {
                Some(nested) if item.starts_with(['\'', '"']) => {
                    convert(item, nested, Some("String"))
                }
                Some(nested) => convert(item, nested, None),
                None => Ok(parse_value(item)),
            }
        })
        .collect();
    // The official wraps the conversion in a bare `except` and falls back to the text.
    converted
        .map(Value::List)
        .unwrap_or_else(|_| Value::Str(code.to_owned()))
}

fn parse_dict(code: &str) -> Value {
    if code == "{}" {
        return Value::Dict(Vec::new());
    }
    let Some(captures) = DICT.captures(code) else {
        return Value::Str(code.to_owned());
    };
    let content = &captures[1];
    let mut entries = Vec::new();
    let mut start = 0;
    while start <= content.len() {
        let Ok(Some(pair)) = DICT_PAIR.captures_from_pos(content, start) else {
            break;
        };
        let whole = pair.get(0).expect("group 0 exists");
        let key = py_strip(&pair[1]).trim_matches(['\'', '"']);
        let value = py_strip(&pair[2]);
        let parsed = if value.starts_with('[') && value.ends_with(']') {
            parse_array(value, None)
        } else if value.starts_with('{') && value.ends_with('}') {
            parse_dict(value)
        } else {
            parse_value(value.trim_matches(['\'', '"']))
        };
        dict_insert(&mut entries, Value::Str(key.to_owned()), parsed);
        start = if whole.end() > whole.start() {
            whole.end()
        } else {
            whole.end() + 1
        };
    }
    Value::Dict(entries)
}

/// The official `parse_js_value`: a literal of unknown type.
fn parse_value(text: &str) -> Value {
    let text = py_strip(text);
    if text == "true" || text == "false" {
        return Value::Bool(text == "true");
    }
    if let Some(unquoted) = unquote(text, &['"', '\'']) {
        return Value::Str(unquoted);
    }
    py_int(text)
        .or_else(|| py_float(text).map(Value::Float))
        .unwrap_or_else(|| Value::Str(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(value: &str, ty: &str, nested: Option<&str>) -> String {
        convert(value, ty, nested).unwrap().to_string()
    }

    #[test]
    fn scalars_convert_by_declared_type() {
        assert_eq!(conv("'abc'", "String", None), "'abc'");
        assert_eq!(conv("abc", "String", None), "'abc'");
        assert_eq!(conv("3.14", "float", None), "3.14");
        assert_eq!(conv("1e3", "float", None), "'1e3'");
        assert_eq!(conv("123n", "Bigint", None), "123");
        assert_eq!(conv("false", "Boolean", None), "False");
    }

    #[test]
    fn collections_convert_like_the_official() {
        assert_eq!(conv("[1, 'two', true]", "array", None), "[1, 'two', True]");
        assert_eq!(
            conv("new Array(4.4, 5.5)", "array", Some("float")),
            "[4.4, 5.5]"
        );
        assert_eq!(conv("['a', \"b\"]", "array", Some("String")), "['a', 'b']");
        assert_eq!(
            conv(" [ [ 1, 2 ], [ 3,   4], [5, 6]]", "array", Some("array")),
            "[[1, 2], [3, 4], [5, 6]]"
        );
        assert_eq!(conv("[]", "array", Some("String")), "[]");
        assert_eq!(
            conv(
                "{'key1': 123, 'key2': 'value', 'key3': false}",
                "dict",
                None
            ),
            "{'key1': 123, 'key2': 'value', 'key3': False}"
        );
        assert_eq!(
            conv(
                "{\"initialState\": initialStateObject, \"middlewares\": [\"loggerMiddleware\"]}",
                "dict",
                None
            ),
            "{'initialState': 'initialStateObject', 'middlewares': ['loggerMiddleware']}"
        );
        assert_eq!(conv("{}", "dict", None), "{}");
    }
}
