//! Python-semantics values: what the official checker compares.
//!
//! The BFCL checker runs on Python objects, so its verdicts depend on Python's
//! equality (`1 == 1.0 == True`, `[1] != (1,)`) and on exact `type()` identity
//! (`bool` is not `int`). [`Value`] carries exactly the types a decoded model
//! output or a JSON ground truth can hold, and [`Value::py_eq`] is Python's `==`.

use std::fmt;

/// A Python value as produced by the decoders or loaded from JSON.
#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i128),
    /// An integer outside `i128`, kept as its decimal text.
    BigInt(String),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Insertion-ordered; keys are unique under Python equality.
    Dict(Vec<(Value, Value)>),
}

/// The result of Python's `type(value)` for the types [`Value`] can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyType {
    NoneType,
    Bool,
    Int,
    Float,
    Complex,
    Str,
    Bytes,
    List,
    Tuple,
    Dict,
}

impl PyType {
    /// Python's `type(x).__name__`.
    pub fn name(self) -> &'static str {
        match self {
            PyType::NoneType => "NoneType",
            PyType::Bool => "bool",
            PyType::Int => "int",
            PyType::Float => "float",
            PyType::Complex => "complex",
            PyType::Str => "str",
            PyType::Bytes => "bytes",
            PyType::List => "list",
            PyType::Tuple => "tuple",
            PyType::Dict => "dict",
        }
    }
}

/// A number viewed for cross-type comparison.
enum Num {
    Int(i128),
    Float(f64),
    Complex(f64, f64),
}

impl Value {
    pub fn py_type(&self) -> PyType {
        match self {
            Value::None => PyType::NoneType,
            Value::Bool(_) => PyType::Bool,
            Value::Int(_) | Value::BigInt(_) => PyType::Int,
            Value::Float(_) => PyType::Float,
            Value::Complex(..) => PyType::Complex,
            Value::Str(_) => PyType::Str,
            Value::Bytes(_) => PyType::Bytes,
            Value::List(_) => PyType::List,
            Value::Tuple(_) => PyType::Tuple,
            Value::Dict(_) => PyType::Dict,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// True for the empty string, which BFCL ground truth uses for "may be omitted".
    pub fn is_empty_str(&self) -> bool {
        matches!(self, Value::Str(s) if s.is_empty())
    }

    fn num(&self) -> Option<Num> {
        match self {
            Value::Bool(b) => Some(Num::Int(*b as i128)),
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            Value::Complex(re, im) => Some(Num::Complex(*re, *im)),
            _ => None,
        }
    }

    /// Python's `==`.
    pub fn py_eq(&self, other: &Value) -> bool {
        if let (Some(a), Some(b)) = (self.num(), other.num()) {
            return num_eq(&a, &b);
        }
        match (self, other) {
            (Value::None, Value::None) => true,
            (Value::BigInt(a), Value::BigInt(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (Value::Dict(a), Value::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| dict_get(b, k).is_some_and(|w| v.py_eq(w)))
            }
            _ => false,
        }
    }

    /// Python's `self in items` for a list.
    pub fn py_in(&self, items: &[Value]) -> bool {
        items.iter().any(|item| item.py_eq(self))
    }

    /// Whether Python could use this value as a dict key.
    pub fn is_hashable(&self) -> bool {
        match self {
            Value::List(_) | Value::Dict(_) => false,
            Value::Tuple(items) => items.iter().all(Value::is_hashable),
            _ => true,
        }
    }
}

fn num_eq(a: &Num, b: &Num) -> bool {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => int_eq_float(*i, *f),
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Complex(re, im), other) | (other, Num::Complex(re, im)) => {
            *im == 0.0
                && match other {
                    Num::Int(i) => int_eq_float(*i, *re),
                    Num::Float(f) => f == re,
                    Num::Complex(re2, im2) => re == re2 && im2 == im,
                }
        }
    }
}

/// Exact comparison, as Python does it (no rounding of the integer).
fn int_eq_float(i: i128, f: f64) -> bool {
    f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38 && f as i128 == i
}

/// Looks a key up in an insertion-ordered dict with Python key equality.
pub fn dict_get<'a>(entries: &'a [(Value, Value)], key: &Value) -> Option<&'a Value> {
    entries.iter().find(|(k, _)| k.py_eq(key)).map(|(_, v)| v)
}

/// Inserts like `d[key] = value`: an equal key keeps its place and its first spelling.
pub fn dict_insert(entries: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.py_eq(&key)) {
        Some(slot) => slot.1 = value,
        None => entries.push((key, value)),
    }
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::None,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i as i128)
                } else if let Some(u) = n.as_u64() {
                    Value::Int(u as i128)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from).collect()),
            serde_json::Value::Object(map) => Value::Dict(
                map.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl Value {
    /// JSON for reports. Tuples become arrays, non-string keys their `repr`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::None => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => i64::try_from(*i)
                .map(J::from)
                .unwrap_or_else(|_| J::String(i.to_string())),
            Value::BigInt(s) => J::String(s.clone()),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(crate::pyrepr::float_repr(*f))),
            Value::Complex(..) | Value::Bytes(_) => J::String(self.to_string()),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) | Value::Tuple(items) => {
                J::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Dict(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| k.to_string());
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

/// Python's `repr`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::pyrepr::{float_repr, str_repr};
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::BigInt(s) => f.write_str(s),
            Value::Float(x) => f.write_str(&float_repr(*x)),
            Value::Complex(re, im) if *re == 0.0 && re.is_sign_positive() => {
                write!(f, "{}j", float_repr(*im).trim_end_matches(".0"))
            }
            Value::Complex(re, im) => write!(
                f,
                "({}{}{}j)",
                float_repr(*re).trim_end_matches(".0"),
                if *im >= 0.0 { "+" } else { "" },
                float_repr(*im).trim_end_matches(".0")
            ),
            Value::Str(s) => f.write_str(&str_repr(s)),
            Value::Bytes(b) => f.write_str(&crate::pyrepr::bytes_repr(b)),
            Value::List(items) => write_seq(f, "[", items, "]"),
            Value::Tuple(items) if items.len() == 1 => write!(f, "({},)", items[0]),
            Value::Tuple(items) => write_seq(f, "(", items, ")"),
            Value::Dict(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Value], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_numeric_equality_crosses_bool_int_float() {
        assert!(Value::Bool(true).py_eq(&Value::Int(1)));
        assert!(Value::Int(2).py_eq(&Value::Float(2.0)));
        assert!(!Value::Int(2).py_eq(&Value::Float(2.5)));
        assert!(Value::Complex(3.0, 0.0).py_eq(&Value::Int(3)));
        assert!(!Value::Float(f64::NAN).py_eq(&Value::Float(f64::NAN)));
    }

    #[test]
    fn list_and_tuple_are_never_equal() {
        let items = vec![Value::Int(1)];
        assert!(!Value::List(items.clone()).py_eq(&Value::Tuple(items.clone())));
        assert!(Value::List(items.clone()).py_eq(&Value::List(vec![Value::Float(1.0)])));
    }

    #[test]
    fn dict_keys_merge_under_python_equality() {
        let mut d = Vec::new();
        dict_insert(&mut d, Value::Int(1), Value::Str("a".into()));
        dict_insert(&mut d, Value::Bool(true), Value::Str("b".into()));
        assert_eq!(d.len(), 1);
        assert_eq!(Value::Dict(d).to_string(), "{1: 'b'}");
    }

    #[test]
    fn dict_equality_ignores_order() {
        let a = Value::Dict(vec![
            (Value::Str("x".into()), Value::Int(1)),
            (Value::Str("y".into()), Value::Int(2)),
        ]);
        let b = Value::Dict(vec![
            (Value::Str("y".into()), Value::Float(2.0)),
            (Value::Str("x".into()), Value::Int(1)),
        ]);
        assert!(a.py_eq(&b));
    }

    #[test]
    fn repr_matches_python() {
        let v = Value::List(vec![
            Value::Str("it's".into()),
            Value::Float(1e16),
            Value::Tuple(vec![Value::None]),
            Value::Bool(false),
        ]);
        assert_eq!(v.to_string(), "[\"it's\", 1e+16, (None,), False]");
    }
}
