//! JSON output that conforms to a JSON Schema: object (properties, required),
//! array (items, minItems, maxItems), string, enum/const, number, integer,
//! boolean, null, `nullable`, type lists and anyOf/oneOf. Object keys are
//! limited to the declared properties; unknown keywords are refused by name.

use std::sync::Arc;

use serde_json::Value;

use super::machine::{Dialect, Grammar, Machine, Node, NodeId, ANY};
use crate::error::{ModelError, Result};

/// A recogniser for JSON values of `schema`.
pub fn json_constraint(schema: &Value) -> Result<Machine> {
    let mut grammar = Grammar::new(Dialect::Json);
    grammar.root = compile(&mut grammar, schema, "$")?;
    Ok(Machine::new(grammar))
}

fn fail(path: &str, message: impl std::fmt::Display) -> ModelError {
    ModelError::Constraint(format!("schema at {path}: {message}"))
}

pub(crate) fn compile(g: &mut Grammar, schema: &Value, path: &str) -> Result<NodeId> {
    let Some(obj) = schema.as_object() else {
        return match schema {
            Value::Bool(true) => Ok(ANY),
            _ => Err(fail(path, "expected an object")),
        };
    };
    if let Some(unknown) = obj.keys().find(|k| k.starts_with('$') && *k != "$schema") {
        return Err(fail(path, format!("`{unknown}` is not supported")));
    }
    if let Some(values) = obj.get("enum").and_then(Value::as_array) {
        return Ok(literals(g, values));
    }
    if let Some(value) = obj.get("const") {
        return Ok(literals(g, std::slice::from_ref(value)));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = obj.get(key).and_then(Value::as_array) {
            let ids = options
                .iter()
                .enumerate()
                .map(|(i, o)| compile(g, o, &format!("{path}.{key}[{i}]")))
                .collect::<Result<Vec<_>>>()?;
            return either(g, ids, path);
        }
    }
    let nullable = obj
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let types: Vec<&str> = match obj.get("type") {
        None if obj.contains_key("properties") => vec!["object"],
        None => return Ok(ANY),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        Some(other) => return Err(fail(path, format!("bad `type` {other}"))),
    };
    let mut ids = Vec::new();
    for t in &types {
        ids.push(compile_type(g, obj, t, path)?);
    }
    if nullable && !types.contains(&"null") {
        ids.push(compile_type(g, obj, "null", path)?);
    }
    Ok(match ids.as_slice() {
        [one] => *one,
        _ => either(g, ids, path)?,
    })
}

/// Alternatives, which the recogniser tells apart by their first byte: two that
/// can start alike (say, two objects) are refused rather than half-supported.
fn either(g: &mut Grammar, ids: Vec<NodeId>, path: &str) -> Result<NodeId> {
    let mut seen = [false; 256];
    for &id in &ids {
        let starts = g.first_bytes(id);
        if let Some(b) = (0..256).find(|&b| starts[b] && seen[b]) {
            return Err(fail(
                path,
                format!(
                    "alternatives that can both start with `{}` are not supported",
                    b as u8 as char
                ),
            ));
        }
        for b in 0..256 {
            seen[b] |= starts[b];
        }
    }
    Ok(g.add(Node::Either(ids)))
}

pub(crate) fn literals(g: &mut Grammar, values: &[Value]) -> NodeId {
    let spelled: Vec<Vec<u8>> = values
        .iter()
        .flat_map(|v| match (g.dialect, v) {
            (Dialect::Python, Value::String(s)) => g.quoted(s),
            (Dialect::Python, Value::Bool(b)) => vec![g.booleans()[usize::from(!*b)].clone()],
            (Dialect::Python, Value::Null) => vec![g.null()],
            _ => vec![v.to_string().into_bytes()],
        })
        .collect();
    g.add(Node::Literals(Arc::new(spelled)))
}

fn compile_type(
    g: &mut Grammar,
    obj: &serde_json::Map<String, Value>,
    t: &str,
    path: &str,
) -> Result<NodeId> {
    Ok(match t {
        "object" | "dict" => {
            let empty = serde_json::Map::new();
            let props = obj
                .get("properties")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let required: Vec<&str> = obj
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(missing) = required.iter().find(|r| !props.contains_key(**r)) {
                if !props.is_empty() {
                    return Err(fail(
                        path,
                        format!("required `{missing}` is not among the properties"),
                    ));
                }
            }
            let mut compiled = Vec::new();
            for (name, sub) in props {
                compiled.push((name.clone(), compile(g, sub, &format!("{path}.{name}"))?));
            }
            let required = compiled
                .iter()
                .map(|(n, _)| required.contains(&n.as_str()))
                .collect();
            // JSON Schema allows undeclared keys unless `additionalProperties` is false.
            let additional = obj.get("additionalProperties") != Some(&Value::Bool(false));
            g.add(Node::Object {
                props: compiled,
                required,
                additional,
            })
        }
        "array" | "tuple" => {
            let items = match obj.get("items") {
                Some(items) => compile(g, items, &format!("{path}.items"))?,
                None => ANY,
            };
            let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = obj
                .get("maxItems")
                .and_then(Value::as_u64)
                .map(|m| m as usize);
            g.add(Node::Array { items, min, max })
        }
        "string" => g.add(Node::Str),
        "number" | "float" => g.add(Node::Number { integer: false }),
        "integer" => g.add(Node::Number { integer: true }),
        "boolean" => {
            let options = g.booleans();
            g.add(Node::Literals(Arc::new(options)))
        }
        "null" => {
            let options = vec![g.null()];
            g.add(Node::Literals(Arc::new(options)))
        }
        "any" => ANY,
        other => return Err(fail(path, format!("type `{other}` is not supported"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constrain::Constraint;
    use serde_json::json;

    fn matches(schema: &Value, text: &str) -> bool {
        let mut m = json_constraint(schema).unwrap();
        text.bytes().all(|b| m.advance(b)) && m.is_complete()
    }

    #[test]
    fn objects_follow_properties_and_required() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"enum": ["C", "F"]},
                "note": {"type": "string", "nullable": true}
            },
            "required": ["city", "days"],
            "additionalProperties": false
        });
        assert!(matches(&schema, r#"{"city": "Paris", "days": 3}"#));
        assert!(matches(
            &schema,
            r#"{"days":3,"city":"P\"aris","unit":"F","note":null}"#
        ));
        assert!(
            !matches(&schema, r#"{"city": "Paris"}"#),
            "missing required"
        );
        assert!(
            !matches(&schema, r#"{"city": "Paris", "days": 3.5}"#),
            "integer"
        );
        assert!(
            !matches(&schema, r#"{"city": "Paris", "days": 3, "unit": "K"}"#),
            "enum"
        );
        assert!(
            !matches(&schema, r#"{"city": "Paris", "days": 3, "extra": 1}"#),
            "unknown key"
        );
        assert!(
            !matches(&schema, r#"{"city": "a", "city": "b", "days": 1}"#),
            "repeated key"
        );
        assert!(
            !matches(&schema, r#"{"city":  "Paris", "days": 3}"#),
            "two spaces"
        );
    }

    #[test]
    fn undeclared_keys_follow_additional_properties() {
        let open =
            json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
        assert!(matches(&open, r#"{"a": 1, "ab": [true], "b": "x"}"#));
        assert!(matches(&open, r#"{"zz": null, "a": 2}"#));
        assert!(
            !matches(&open, r#"{"a": "one"}"#),
            "declared keys keep their type"
        );
        let closed = json!({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false});
        assert!(!matches(&closed, r#"{"a": 1, "b": 2}"#));
        assert!(!matches(&closed, r#"{"ab": 1}"#));
    }

    #[test]
    fn arrays_numbers_and_literals() {
        let schema =
            json!({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3});
        assert!(matches(&schema, "[1, -2.5e3, 0.25]"));
        assert!(!matches(&schema, "[]"));
        assert!(!matches(&schema, "[1,2,3,4]"));
        assert!(!matches(&schema, "[01]"));
        assert!(matches(&json!({"type": "boolean"}), "false"));
        assert!(matches(&json!({"type": ["integer", "null"]}), "null"));
        assert!(matches(&json!({"type": ["integer", "null"]}), "42"));
        assert!(matches(&json!({"enum": [1, 10]}), "10"));
        assert!(matches(&json!({"enum": [1, 10]}), "1"));
        assert!(matches(
            &json!({}),
            r#"{"free": [1, {"x": null}], "y": true}"#
        ));
    }

    #[test]
    fn completion_and_closure_are_reported() {
        let mut m = json_constraint(&json!({"type": "integer"})).unwrap();
        assert!(!m.is_complete());
        assert!(m.advance(b'4'));
        assert!(m.is_complete() && !m.is_closed());
        let mut m = json_constraint(&json!({"type": "object", "properties": {}})).unwrap();
        "{}".bytes().for_each(|b| assert!(m.advance(b)));
        assert!(m.is_closed());
        assert!(!m.advance(b' '));
    }

    #[test]
    fn alternatives_that_start_alike_are_refused() {
        let two_objects = json!({"anyOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {"type": "object", "properties": {"b": {"type": "integer"}}}
        ]});
        let err = json_constraint(&two_objects).unwrap_err().to_string();
        assert!(err.contains("$") && err.contains("`{`"), "{err}");
        assert!(json_constraint(&json!({"type": ["integer", "number"]})).is_err());
        assert!(matches(
            &json!({"anyOf": [{"type": "string"}, {"type": "array"}]}),
            "[1]"
        ));
    }

    #[test]
    fn unsupported_schemas_are_named() {
        let err = json_constraint(&json!({"$ref": "#/defs/x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("$ref"), "{err}");
        let err =
            json_constraint(&json!({"type": "object", "properties": {"a": {"type": "date"}}}))
                .unwrap_err()
                .to_string();
        assert!(err.contains("$.a") && err.contains("date"), "{err}");
    }
}
