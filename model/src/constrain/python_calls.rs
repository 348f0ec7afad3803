//! BFCL's prompt-mode answer syntax: a Python list of keyword-argument calls,
//! `[get_weather(city='Paris', days=3), ...]`, restricted to the given functions,
//! their parameter names (each at most once, required ones present) and
//! Python literals of each parameter's type. `[]` (no call) is allowed.

use std::sync::Arc;

use serde_json::Value;

use super::json_schema::{compile, literals};
use super::machine::{CallSig, Dialect, Grammar, Machine, Node, NodeId};
use crate::error::{ModelError, Result};

/// A recogniser for call lists over `functions` (BFCL / OpenAI function docs:
/// `{"name", "parameters": {"properties", "required"}}`).
pub fn python_calls_constraint(functions: &[Value]) -> Result<Machine> {
    let mut grammar = Grammar::new(Dialect::Python);
    let mut sigs = Vec::new();
    for (i, f) in functions.iter().enumerate() {
        let f = super::function_of(f);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ModelError::Constraint(format!("function {i} has no name")))?;
        let params = f.get("parameters");
        let props = params
            .and_then(|p| p.get("properties"))
            .and_then(Value::as_object);
        let required: Vec<&str> = params
            .and_then(|p| p.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut compiled = Vec::new();
        for (pname, schema) in props.into_iter().flatten() {
            let mut node = compile(&mut grammar, schema, &format!("{name}.{pname}"))?;
            if !required.contains(&pname.as_str()) {
                // An optional parameter may also be passed its default, which BFCL's
                // data uses even where it lies outside the declared enum or type,
                // or None (the usual Python default).
                let defaults = [
                    schema.get("default").cloned().unwrap_or(Value::Null),
                    Value::Null,
                ];
                for default in defaults {
                    node = with_literal(&mut grammar, node, &default);
                }
            }
            compiled.push((pname.clone(), node));
        }
        sigs.push(CallSig {
            name: name.to_owned(),
            required: compiled
                .iter()
                .map(|(p, _)| required.contains(&p.as_str()))
                .collect(),
            params: compiled,
        });
    }
    grammar.root = grammar.add(Node::Calls(Arc::new(sigs)));
    Ok(Machine::new(grammar))
}

/// `node`, also accepting the literal `value` where it does not already start
/// like one of `node`'s values (an enum simply gains the option).
fn with_literal(g: &mut Grammar, node: NodeId, value: &Value) -> NodeId {
    let extra = literals(g, std::slice::from_ref(value));
    let Node::Literals(spelled) = g.nodes[extra].clone() else {
        return node;
    };
    if let Node::Literals(options) = &g.nodes[node] {
        let mut merged = options.as_ref().clone();
        merged.extend(spelled.iter().filter(|s| !options.contains(s)).cloned());
        return g.add(Node::Literals(Arc::new(merged)));
    }
    let starts = g.first_bytes(node);
    if spelled
        .iter()
        .any(|s| s.first().is_some_and(|&b| starts[b as usize]))
    {
        return node;
    }
    g.add(Node::Either(vec![node, extra]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constrain::Constraint;
    use serde_json::json;

    fn functions() -> Vec<Value> {
        vec![
            json!({"name": "math.hypot", "parameters": {"type": "dict", "properties": {
                "x": {"type": "integer"}, "y": {"type": "float"}, "tags": {"type": "array", "items": {"type": "string"}},
                "exact": {"type": "boolean"}, "mode": {"type": "string", "enum": ["fast", "safe"], "default": "auto"}
            }, "required": ["x"]}}),
            json!({"name": "noop", "parameters": {"type": "dict", "properties": {}}}),
        ]
    }

    fn matches(text: &str) -> bool {
        let mut m = python_calls_constraint(&functions()).unwrap();
        text.bytes().all(|b| m.advance(b)) && m.is_closed()
    }

    #[test]
    fn accepts_bfcl_call_lists() {
        assert!(matches("[math.hypot(x=3, y=4.0)]"));
        assert!(
            matches("[math.hypot(x=3, y=None, mode='auto')]"),
            "None and the default"
        );
        assert!(matches(
            "[math.hypot(x=-1,tags=['a', \"b\"],exact=True,mode='safe'), noop()]"
        ));
        assert!(matches("[]"));
    }

    #[test]
    fn rejects_what_bfcl_would_not_decode_or_match() {
        assert!(!matches("[math.hypot(y=4.0)]"), "missing required x");
        assert!(!matches("[math.hypot(x=1, x=2)]"), "repeated keyword");
        assert!(!matches("[math.hypot(x=1.5)]"), "integer");
        assert!(!matches("[math.hypot(x=1, exact=true)]"), "JSON boolean");
        assert!(!matches("[math.hypot(x=1, mode='slow')]"), "enum");
        assert!(!matches("[unknown(x=1)]"), "unknown function");
        assert!(!matches("[math.hypot(3)]"), "positional");
        assert!(!matches("[ ]"), "space inside brackets");
        assert!(!matches("[math.hypot(x= 1)]"), "space after =");
    }
}
