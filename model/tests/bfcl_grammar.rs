//! The call-list constraint on the real BFCL v4 data (`scripts/setup.sh` fetches it):
//! it compiles for every entry's functions, and accepts the ground truth rendered
//! as a prompt-mode reply, except where that ground truth itself breaks the
//! entry's declared types, enums or required parameters (a data quirk the test
//! verifies independently for every such entry).

use serde_json::Value as Json;
use toolgrad_core::paths::bfcl_data_dir;
use toolgrad_eval::category::Language;
use toolgrad_eval::dataset::{load_category, require_data_dir, Entry};
use toolgrad_eval::decode::python::decode_prompt_reply;
use toolgrad_eval::decode::Decoded;
use toolgrad_eval::reference::render_ground_truth;
use toolgrad_eval::value::Value;
use toolgrad_eval::Category;
use toolgrad_model::constrain::python_calls::python_calls_constraint;
use toolgrad_model::constrain::Constraint;

/// Whether `value` has the declared BFCL type and, if any, one of the enum values.
fn conforms(value: &Value, schema: &Json) -> bool {
    if matches!(value, Value::None) {
        return true; // optional parameters accept None
    }
    if let Some(options) = schema.get("enum").and_then(Json::as_array) {
        let Value::Str(s) = value else { return false };
        if !options.iter().any(|o| o.as_str() == Some(s.as_str())) {
            return false;
        }
    }
    let items = schema.get("items").unwrap_or(&Json::Null);
    match schema.get("type").and_then(Json::as_str).unwrap_or("any") {
        "string" => matches!(value, Value::Str(_)),
        "integer" => matches!(value, Value::Int(_)),
        "float" | "number" => matches!(value, Value::Int(_) | Value::Float(_)),
        "boolean" => matches!(value, Value::Bool(_)),
        "array" | "tuple" => match value {
            Value::List(v) | Value::Tuple(v) => {
                items.is_null() || v.iter().all(|x| conforms(x, items))
            }
            _ => false,
        },
        "dict" | "object" => matches!(value, Value::Dict(_)),
        _ => true,
    }
}

/// Why the ground truth of `entry` cannot pass any schema-faithful grammar, if it cannot.
fn data_quirk(entry: &Entry, answer: &str) -> Option<String> {
    let Ok(Decoded::Calls(calls)) = decode_prompt_reply(answer) else {
        return None;
    };
    for call in calls {
        let doc = entry
            .functions_json
            .iter()
            .find(|f| f["name"] == call.name.as_str())?;
        let params = &doc["parameters"];
        for required in params["required"].as_array().into_iter().flatten() {
            let name = required.as_str()?;
            if call.arg(name).is_none() {
                return Some(format!("{}: required `{name}` missing", call.name));
            }
        }
        for (name, value) in &call.args {
            let name = name.as_deref()?;
            let schema = &params["properties"][name];
            let default = schema
                .get("default")
                .map(|d| d.as_str().map_or(d.to_string(), str::to_owned));
            let is_default = matches!(value, Value::Str(s) if Some(s) == default.as_ref());
            if !conforms(value, schema) && !is_default {
                return Some(format!("{}: `{name}={value}` breaks {schema}", call.name));
            }
        }
    }
    None
}

#[test]
fn ground_truth_answers_pass_the_call_list_constraint() {
    let data = bfcl_data_dir();
    require_data_dir(&data).unwrap();
    let (mut checked, mut quirks) = (0, 0);
    let mut unexplained = Vec::new();
    for &category in Category::ALL {
        if category.language() != Language::Python {
            continue;
        }
        for entry in load_category(&data, category).unwrap() {
            let mut machine = python_calls_constraint(&entry.functions_json)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.id));
            if entry.ground_truth.is_empty() {
                continue;
            }
            checked += 1;
            let answer = render_ground_truth(&entry, category);
            let consumed = answer.bytes().take_while(|&b| machine.advance(b)).count();
            if consumed == answer.len() && machine.is_closed() {
                continue;
            }
            match data_quirk(&entry, &answer) {
                Some(_) => quirks += 1,
                None => unexplained.push(format!("{} at byte {consumed}: {answer}", entry.id)),
            }
        }
    }
    assert!(checked > 2000, "only {checked} entries checked");
    assert!(
        quirks < checked / 50,
        "{quirks} of {checked} ground truths break their own schema"
    );
    assert!(
        unexplained.is_empty(),
        "rejected right answers:\n{}",
        unexplained.join("\n")
    );
}
