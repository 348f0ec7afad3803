//! Salesforce xLAM / APIGen function-calling-60k (`xlam_function_calling_60k.json`,
//! a JSON array; JSONL is read too). Each row:
//!
//! ```text
//! {"id": 0,
//!  "query": "Where can I find live giveaways for beta access and games?",
//!  "tools": "[{\"name\": \"live_giveaways_by_type\", \"description\": \"...\",
//!             \"parameters\": {\"type\": {\"description\": \"...\", \"type\": \"str\", \"default\": \"game\"}}}]",
//!  "answers": "[{\"name\": \"live_giveaways_by_type\", \"arguments\": {\"type\": \"beta\"}}, ...]"}
//! ```
//!
//! `tools` and `answers` are JSON *strings* (an already-decoded array is accepted
//! too). `parameters` maps each parameter name to `{type, description, default}`
//! with Python type names (`str`, `int`, `float`, `bool`, `List[int]`, `dict`,
//! `str, optional`, ...): these become JSON Schema properties, and a parameter
//! is required unless its type says `optional` or it has a `default` (kept).
//! A `parameters` that already is JSON Schema (a string `type` next to a
//! `properties` object) is normalized instead. The calls are independent (all
//! chains of one) and there are no observations. A row with no answers is a
//! counted skip (the schema marks negatives only for Glaive).

use serde_json::{Map, Value};

use super::{
    call_object, kind, parameters_schema, python_type, row_id, str_field, Draft, Outcome, RowResult,
};
use crate::sample::{Function, Round};

pub(crate) fn row(line: usize, row: &Map<String, Value>) -> RowResult {
    let query = str_field(row, "query")?.trim().to_owned();
    if query.is_empty() {
        return Err("empty `query`".to_owned());
    }
    let tools = json_list(row, "tools")?
        .iter()
        .map(tool)
        .collect::<Result<Vec<_>, _>>()?;
    let calls = json_list(row, "answers")?
        .iter()
        .map(call_object)
        .collect::<Result<Vec<_>, _>>()?;
    if calls.is_empty() {
        return Ok(Outcome::Skip("no answers (an irrelevance row)".to_owned()));
    }
    let id = row_id(row).unwrap_or_else(|| line.to_string());
    Draft {
        id: format!("xlam-{id}"),
        source: "xlam",
        query,
        tools,
        rounds: vec![Round {
            calls,
            observations: Vec::new(),
        }],
        answer: String::new(),
        negative: false,
    }
    .finish()
}

/// A field holding a JSON array, as a string of JSON or the array itself.
fn json_list(row: &Map<String, Value>, key: &str) -> Result<Vec<Value>, String> {
    let value = match row.get(key) {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|e| format!("`{key}` is not valid JSON: {e}"))?,
        Some(value) => value.clone(),
        None => return Err(format!("no `{key}` field")),
    };
    match value {
        Value::Array(items) => Ok(items),
        other => Err(format!("`{key}` holds {}, not a list", kind(&other))),
    }
}

fn tool(value: &Value) -> Result<Function, String> {
    let Value::Object(object) = value else {
        return Err(format!("a tool is {}, not an object", kind(value)));
    };
    let mut object = object.clone();
    let schema = match object.get("parameters") {
        Some(Value::Object(parameters)) if !is_json_schema(parameters) => {
            Some(Value::Object(parameter_dict(parameters).map_err(|e| {
                let name = object.get("name").and_then(Value::as_str).unwrap_or("?");
                format!("tool `{name}`: {e}")
            })?))
        }
        _ => None,
    };
    if let Some(schema) = schema {
        object.insert("parameters".to_owned(), schema);
    }
    super::function(&object, String::new())
}

fn is_json_schema(parameters: &Map<String, Value>) -> bool {
    matches!(parameters.get("type"), Some(Value::String(_)))
        && matches!(parameters.get("properties"), Some(Value::Object(_)))
}

/// `{param: {type: "int, optional", description, default}}` → JSON Schema.
fn parameter_dict(parameters: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec) in parameters {
        let Value::Object(spec) = spec else {
            return Err(format!(
                "parameter `{name}` is {}, not an object",
                kind(spec)
            ));
        };
        let mut property = Map::new();
        let mut optional = spec.contains_key("default");
        match spec.get("type") {
            Some(Value::String(type_name)) => {
                let parsed = python_type(type_name);
                optional |= parsed.optional;
                property.extend(parsed.schema);
            }
            None | Some(Value::Null) => {}
            Some(other) => return Err(format!("parameter `{name}`: type is {}", kind(other))),
        }
        for (key, value) in spec {
            if key != "type" {
                property.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        if !optional {
            required.push(Value::from(name.clone()));
        }
        properties.insert(name.clone(), Value::Object(property));
    }
    let schema = Value::Object(Map::from_iter([
        ("type".to_owned(), Value::from("object")),
        ("properties".to_owned(), Value::Object(properties)),
        ("required".to_owned(), Value::Array(required)),
    ]));
    match parameters_schema(Some(&schema))? {
        Value::Object(schema) => Ok(schema),
        _ => Err("parameters did not become an object".to_owned()),
    }
}
