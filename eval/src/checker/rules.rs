//! The per-parameter rules of the official checker: the type check (with the
//! variable escape hatch and one level of element types), string normalisation,
//! and the value checks for strings, lists, dicts and lists of dicts.

use super::{Check, Failure};
use crate::value::{dict_get, PyType, Value};

/// Iterates a ground-truth value the way Python's `for x in value` would.
pub(super) fn as_sequence(value: &Value) -> Result<Vec<Value>, Failure> {
    match value {
        Value::List(items) | Value::Tuple(items) => Ok(items.clone()),
        Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
        Value::Dict(entries) => Ok(entries.iter().map(|(k, _)| k.clone()).collect()),
        other => Err(Failure::crash(format!(
            "'{}' object is not iterable",
            other.py_type().name()
        ))),
    }
}

/// Python's `"" in value`.
pub(super) fn contains_empty_str(value: &Value) -> Result<bool, Failure> {
    match value {
        Value::Str(_) => Ok(true),
        Value::Dict(entries) => Ok(dict_get(entries, &Value::Str(String::new())).is_some()),
        other => Ok(Value::Str(String::new()).py_in(&as_sequence(other)?)),
    }
}

/// The type of the first acceptable value that is not `""`.
fn possible_answer_type(acceptable: &[Value]) -> Option<PyType> {
    acceptable
        .iter()
        .find(|v| !v.is_empty_str())
        .map(Value::py_type)
}

/// The official `type_checker`; `Ok(is_variable)` when the type is acceptable.
pub(super) fn type_check(
    param: &str,
    ty: &str,
    value: &Value,
    acceptable: &[Value],
    expected: PyType,
    nested: Option<PyType>,
) -> Result<bool, Failure> {
    let answer_type = possible_answer_type(acceptable);
    let is_variable = answer_type.is_some_and(|t| t != expected);
    let mut nested_failure = None;
    if value.py_type() == expected {
        let Some(nested) = nested else {
            return Ok(is_variable);
        };
        let elements = as_sequence(value)?;
        for candidate in acceptable {
            let fits = match candidate {
                Value::List(candidate_items) => elements.iter().all(|element| {
                    type_check(param, ty, element, candidate_items, nested, None).is_ok()
                }),
                _ => true,
            };
            if fits {
                return Ok(is_variable);
            }
        }
        nested_failure = Some(Failure::new(
            "type_error:nested",
            format!(
                "Nested type checking failed for parameter {param:?}. Expected outer type {ty} with inner type {}. Parameter value: {value}.",
                nested.name()
            ),
        ));
    }
    if answer_type == Some(value.py_type()) {
        return match nested_failure {
            Some(failure) => Err(failure),
            None => Ok(true),
        };
    }
    Err(Failure::new(
        "type_error:simple",
        format!(
            "Incorrect type for parameter {param:?}. Expected type {ty}, got {}. Parameter value: {value}.",
            value.py_type().name()
        ),
    ))
}

/// The official `standardize_string`: drop ` ,./-_*^`, lower-case, `'` → `"`.
pub fn standardize_string(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

pub(super) fn standardize_if_str(value: &Value) -> Value {
    match value {
        Value::Str(s) => Value::Str(standardize_string(s)),
        other => other.clone(),
    }
}

pub(super) fn string_check(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let Value::Str(text) = value else {
        return Err(Failure::crash("string check on a non-string"));
    };
    let model = standardize_string(text);
    if acceptable
        .iter()
        .filter_map(Value::as_str)
        .any(|a| standardize_string(a) == model)
    {
        return Ok(());
    }
    Err(Failure::new(
        "value_error:string",
        format!(
            "Invalid value for parameter {param:?}: {value}. Expected one of {}. Case insensitive.",
            Value::List(acceptable.to_vec())
        ),
    ))
}

pub(super) fn list_check(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let model = Value::List(as_sequence(value)?.iter().map(standardize_if_str).collect());
    for candidate in acceptable {
        let candidate = Value::List(
            as_sequence(candidate)?
                .iter()
                .map(standardize_if_str)
                .collect(),
        );
        if candidate.py_eq(&model) {
            return Ok(());
        }
    }
    Err(Failure::new(
        "value_error:list/tuple",
        format!(
            "Invalid value for parameter {param:?}: {value}. Expected one of {}.",
            Value::List(acceptable.to_vec())
        ),
    ))
}

pub(super) fn dict_check(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let Value::Dict(model) = value else {
        return Err(Failure::crash(format!(
            "dict check on a {}",
            value.py_type().name()
        )));
    };
    let mut result = Failure::new(
        "dict_checker:unclear",
        format!("No acceptable dict for {param:?}."),
    );
    for candidate in acceptable {
        if candidate.is_empty_str() {
            continue;
        }
        let Value::Dict(candidate) = candidate else {
            return Err(Failure::crash("acceptable dict value is not a dict"));
        };
        match dict_matches(model, candidate)? {
            None => return Ok(()),
            Some(failure) => result = failure,
        }
    }
    Err(result)
}

/// One candidate of the official `dict_checker`: `None` when it matches.
fn dict_matches(
    model: &[(Value, Value)],
    candidate: &[(Value, Value)],
) -> Result<Option<Failure>, Failure> {
    for (key, value) in model {
        let Some(allowed) = dict_get(candidate, key) else {
            return Ok(Some(Failure::new(
                "value_error:dict_key",
                format!("Unexpected dict key parameter: {key}."),
            )));
        };
        let allowed: Vec<Value> = as_sequence(allowed)?
            .iter()
            .map(standardize_if_str)
            .collect();
        if !standardize_if_str(value).py_in(&allowed) {
            return Ok(Some(Failure::new(
                "value_error:dict_value",
                format!(
                    "Invalid value for parameter {key}: {value}. Expected one of {}.",
                    Value::List(allowed)
                ),
            )));
        }
    }
    for (key, allowed) in candidate {
        if dict_get(model, key).is_none() && !contains_empty_str(allowed)? {
            return Ok(Some(Failure::new(
                "value_error:dict_key",
                format!("Missing dict key parameter: {key}."),
            )));
        }
    }
    Ok(None)
}

pub(super) fn list_dict_check(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let model = as_sequence(value)?;
    let mut result = Failure::new(
        "list_dict_checker:unclear",
        format!("No acceptable list of dicts for {param:?}."),
    );
    'candidates: for candidate in acceptable {
        let candidate = as_sequence(candidate)?;
        if candidate.len() != model.len() {
            result = Failure::new(
                "value_error:list_dict_count",
                "Wrong number of dictionaries in the list.",
            );
            continue;
        }
        for (item, allowed) in model.iter().zip(&candidate) {
            if let Err(failure) = dict_check(param, item, std::slice::from_ref(allowed)) {
                result = failure;
                continue 'candidates;
            }
        }
        return Ok(());
    }
    Err(result)
}
