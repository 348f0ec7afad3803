//! The official `java_type_converter`: Java source text → Python value by declared type.
//!
//! Regexes keep Python's semantics: `re.match` anchors at the start only, and `$`
//! also matches before one trailing newline (written here as `\n?\z`).

use std::sync::LazyLock;

use regex::Regex;

use crate::pystr::{drop_first_and_last, py_float, py_int, py_strip, unquote};
use crate::value::{dict_insert, Value};

/// A declared type the official converter refuses (it raises, aborting the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedType(pub String);

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("converter regexes are valid")
}

static INTEGER: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+\n?\z"));
static FLOAT: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]\n?\z"));
static FLOAT_SUFFIX: LazyLock<Regex> = LazyLock::new(|| re(r"[fF](\n?\z)"));
static DOUBLE: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+(\.\d+)?([eE][+-]?\d+)?\n?\z"));
static LONG: LazyLock<Regex> = LazyLock::new(|| re(r"\A-?\d+[lL]\n?\z"));
static LONG_SUFFIX: LazyLock<Regex> = LazyLock::new(|| re(r"[lL](\n?\z)"));
static AS_LIST: LazyLock<Regex> =
    LazyLock::new(|| re(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)"));
static ADD_BLOCK: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?s)new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}"));
static ADD_CALL: LazyLock<Regex> = LazyLock::new(|| re(r"add\((.+?)\)"));
static EMPTY_LIST: LazyLock<Regex> = LazyLock::new(|| re(r"new\s+ArrayList<\w*>\(\)"));
static ARRAY: LazyLock<Regex> = LazyLock::new(|| re(r"new\s+\w+\[\]\s*\{(.*?)\}"));
static HASHMAP: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?s)new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}"));
static PUT_CALL: LazyLock<Regex> = LazyLock::new(|| re(r#"put\("(.*?)",\s*(.*?)\)"#));
static EMPTY_MAP: LazyLock<Regex> = LazyLock::new(|| re(r"(?s)new\s+HashMap<.*?>\s*\(\)"));

/// Whether the official `JAVA_TYPE_CONVERSION` table knows this type.
pub fn is_known_type(java_type: &str) -> bool {
    matches!(
        java_type,
        "byte"
            | "short"
            | "integer"
            | "float"
            | "double"
            | "long"
            | "boolean"
            | "char"
            | "Array"
            | "ArrayList"
            | "Set"
            | "HashMap"
            | "Hashtable"
            | "Queue"
            | "Stack"
            | "String"
            | "any"
    )
}

pub fn convert(
    value: &str,
    java_type: &str,
    nested_type: Option<&str>,
) -> Result<Value, UnsupportedType> {
    let text = || Value::Str(value.to_owned());
    Ok(match java_type {
        "byte" | "short" | "integer" if INTEGER.is_match(value) => {
            py_int(value).unwrap_or_else(text)
        }
        "float" if FLOAT.is_match(value) => {
            float_or_text(&FLOAT_SUFFIX.replace(value, "$1"), value)
        }
        "double" if DOUBLE.is_match(value) => float_or_text(value, value),
        "long" if LONG.is_match(value) => {
            py_int(&LONG_SUFFIX.replace(value, "$1")).unwrap_or_else(text)
        }
        "boolean" if value == "true" || value == "false" => Value::Bool(value == "true"),
        "byte" | "short" | "integer" | "float" | "double" | "long" | "boolean" | "char"
        | "String" | "any" => text(),
        "ArrayList" => parse_arraylist(value, nested_type)?,
        "Array" => parse_array(value, nested_type)?,
        "HashMap" => parse_hashmap(value),
        other => return Err(UnsupportedType(other.to_owned())),
    })
}

fn float_or_text(number: &str, original: &str) -> Value {
    py_float(number)
        .map(Value::Float)
        .unwrap_or_else(|| Value::Str(original.to_owned()))
}

/// One collection element: quotes dropped for `char`/`String`, else converted by type.
fn element(text: &str, nested_type: Option<&str>) -> Result<Value, UnsupportedType> {
    match nested_type {
        Some("char" | "String") => Ok(Value::Str(drop_first_and_last(text))),
        Some(nested) => convert(text, nested, None),
        None => Ok(parse_value(text)),
    }
}

fn parse_arraylist(input: &str, nested_type: Option<&str>) -> Result<Value, UnsupportedType> {
    if let Some(captures) = AS_LIST.captures(input) {
        let items = captures[1]
            .split(',')
            .map(|item| element(py_strip(item), nested_type))
            .collect::<Result<_, _>>()?;
        return Ok(Value::List(items));
    }
    if let Some(captures) = ADD_BLOCK.captures(input) {
        let items = ADD_CALL
            .captures_iter(&captures[1])
            .map(|add| element(py_strip(&add[1]), nested_type))
            .collect::<Result<_, _>>()?;
        return Ok(Value::List(items));
    }
    if EMPTY_LIST.is_match(input) {
        return Ok(Value::List(Vec::new()));
    }
    Ok(Value::Str(input.to_owned()))
}

fn parse_array(input: &str, nested_type: Option<&str>) -> Result<Value, UnsupportedType> {
    let Some(captures) = ARRAY.captures(input) else {
        return Ok(Value::Str(input.to_owned()));
    };
    let items = captures[1]
        .split(',')
        .map(py_strip)
        .filter(|item| !item.is_empty())
        .map(|item| match nested_type {
            Some(nested) => convert(item, nested, None),
            None => Ok(parse_value(item)),
        })
        .collect::<Result<_, _>>()?;
    Ok(Value::List(items))
}

fn parse_hashmap(input: &str) -> Value {
    if let Some(captures) = HASHMAP.captures(input) {
        let mut entries = Vec::new();
        for put in PUT_CALL.captures_iter(&captures[1]) {
            dict_insert(
                &mut entries,
                Value::Str(put[1].to_owned()),
                parse_value(py_strip(&put[2])),
            );
        }
        return Value::Dict(entries);
    }
    if EMPTY_MAP.is_match(input) {
        return Value::Dict(Vec::new());
    }
    Value::Str(input.to_owned())
}

/// The official `parse_java_value`: a literal of unknown type.
fn parse_value(text: &str) -> Value {
    if text == "true" || text == "false" {
        return Value::Bool(text == "true");
    }
    if let Some(unquoted) = unquote(text, &['"']) {
        return Value::Str(unquoted);
    }
    if LONG.is_match(text) {
        let chars: Vec<char> = text.chars().collect();
        let digits = crate::pystr::py_slice(&chars, 0, chars.len() - 1);
        return py_int(&digits).unwrap_or_else(|| Value::Str(text.to_owned()));
    }
    if FLOAT.is_match(text) {
        return float_or_text(&FLOAT_SUFFIX.replace(text, "$1"), text);
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
        assert_eq!(conv("-123", "integer", None), "-123");
        assert_eq!(conv("3.14f", "float", None), "3.14");
        assert_eq!(conv("3.14", "float", None), "'3.14'");
        assert_eq!(conv("3e-3", "double", None), "0.003");
        assert_eq!(conv("123L", "long", None), "123");
        assert_eq!(conv("true", "boolean", None), "True");
        assert_eq!(conv("'a'", "char", None), "\"'a'\"");
        assert_eq!(conv("5", "any", None), "'5'");
    }

    #[test]
    fn collections_convert_like_the_official() {
        assert_eq!(
            conv("new int[] { 1, 2, 3 }", "Array", Some("integer")),
            "[1, 2, 3]"
        );
        assert_eq!(
            conv("new long[]{1L, 2, 3L}", "Array", Some("long")),
            "[1, '2', 3]"
        );
        assert_eq!(
            conv(
                "new ArrayList<>(Arrays.asList(\"a\", \"b\"))",
                "ArrayList",
                Some("String")
            ),
            "['a', 'b']"
        );
        assert_eq!(
            conv(
                "new ArrayList<Float>() {{ add(1.0f); add(2.0f); }}",
                "ArrayList",
                Some("float")
            ),
            "[1.0, 2.0]"
        );
        assert_eq!(
            conv(
                "new HashMap<String, Object>() {{ put(\"k1\", 1); put(\"k2\", true); }}",
                "HashMap",
                None
            ),
            "{'k1': 1, 'k2': True}"
        );
        assert_eq!(conv("new HashMap<>()", "HashMap", None), "{}");
        assert!(convert("x", "Queue", None).is_err());
    }
}
