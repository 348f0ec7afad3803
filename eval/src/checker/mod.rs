//! The AST checker: decoded calls against the ground truth, rule for rule as
//! `bfcl_eval/eval_checker/ast_eval/ast_checker.py`, with the same error types.
//!
//! The simple checker runs, in order: function name, required parameters, and per
//! model argument (in the model's order) unexpected-parameter, type and value
//! checks, then omitted parameters. The multiple checker picks the doc named by
//! the ground truth; the parallel checker matches calls greedily, order-free.
//!
//! Where the official code would raise (and abort the whole evaluation), we
//! return a `checker_error:*` verdict instead of panicking.

use crate::category::{AstChecker, Language};
use crate::convert::{java, javascript};
use crate::dataset::{ExpectedCall, FunctionDoc};
use crate::decode::Call;
use crate::value::{PyType, Value};

mod rules;

pub use rules::standardize_string;
use rules::{
    as_sequence, contains_empty_str, dict_check, list_check, list_dict_check, string_check,
    type_check,
};

/// A failed check: the official `error_type` and a human-readable message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error_type: &'static str,
    pub message: String,
}

impl Failure {
    fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
        }
    }

    /// Where the official checker raises an exception instead of returning a verdict.
    fn crash(message: impl Into<String>) -> Self {
        Self::new("checker_error:unsupported", message)
    }
}

pub type Check = Result<(), Failure>;

/// Options that change the checker, as the official model config does.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Compare against the function name with every `.` replaced by `_` (API FC
    /// models whose tool names cannot contain dots).
    pub underscore_to_dot: bool,
}

/// The official `ast_checker`.
pub fn check_calls(
    checker: AstChecker,
    docs: &[FunctionDoc],
    calls: &[Call],
    expected: &[ExpectedCall],
    language: Language,
    options: CheckOptions,
) -> Check {
    match checker {
        AstChecker::Parallel => parallel_no_order(docs, calls, expected, language, options),
        AstChecker::Multiple | AstChecker::Simple => {
            let (count, wrong_count) = match checker {
                AstChecker::Multiple => (expected.len(), "multiple_function_checker:wrong_count"),
                _ => (1, "simple_function_checker:wrong_count"),
            };
            if calls.len() != count {
                return Err(Failure::new(wrong_count, "Wrong number of functions."));
            }
            let first = expected
                .first()
                .ok_or_else(|| Failure::crash("empty ground truth"))?;
            // The multiple checker picks the doc the ground truth names; the simple
            // checker takes the entry's only doc.
            let doc = match checker {
                AstChecker::Multiple => find_doc(docs, &first.name)?,
                _ => docs
                    .first()
                    .ok_or_else(|| Failure::crash("entry has no function doc"))?,
            };
            simple_function(doc, &calls[0], first, language, options)
        }
    }
}

fn find_doc<'a>(docs: &'a [FunctionDoc], name: &str) -> Result<&'a FunctionDoc, Failure> {
    docs.iter()
        .find(|doc| doc.name == name)
        .ok_or_else(|| Failure::crash(format!("no function doc named {name:?}")))
}

fn parallel_no_order(
    docs: &[FunctionDoc],
    calls: &[Call],
    expected: &[ExpectedCall],
    language: Language,
    options: CheckOptions,
) -> Check {
    if calls.len() != expected.len() {
        return Err(Failure::new(
            "parallel_function_checker_no_order:wrong_count",
            "Wrong number of functions.",
        ));
    }
    let mut matched = vec![false; calls.len()];
    for (i, want) in expected.iter().enumerate() {
        let doc = find_doc(docs, &want.name)?;
        let mut last: Check = Err(Failure::crash("no model call left to compare"));
        for (index, call) in calls.iter().enumerate() {
            if matched[index] {
                continue;
            }
            last = simple_function(doc, call, want, language, options);
            if last.is_ok() {
                matched[index] = true;
                break;
            }
        }
        if let Err(failure) = last {
            if failure.error_type.starts_with("checker_error") {
                return Err(failure);
            }
            return Err(Failure::new(
                "parallel_function_checker_no_order:cannot_find_match",
                format!(
                    "Could not find a matching function for index {i} of possible answers; last error: {}",
                    failure.message
                ),
            ));
        }
    }
    Ok(())
}

/// The converted Python type of a declared parameter type, per language.
fn converted_type(language: Language, ty: &str) -> Option<PyType> {
    Some(match language {
        Language::Python => match ty {
            "string" | "any" => PyType::Str,
            "integer" => PyType::Int,
            "float" => PyType::Float,
            "boolean" => PyType::Bool,
            "array" | "tuple" => PyType::List,
            "dict" => PyType::Dict,
            _ => return None,
        },
        Language::Java => match ty {
            "byte" | "short" | "integer" | "long" => PyType::Int,
            "float" | "double" => PyType::Float,
            "boolean" => PyType::Bool,
            "char" | "String" | "any" => PyType::Str,
            "Array" | "ArrayList" | "Queue" | "Stack" => PyType::List,
            "HashMap" | "Hashtable" => PyType::Dict,
            _ => return None,
        },
        Language::JavaScript => match ty {
            "String" | "any" => PyType::Str,
            "integer" | "Bigint" => PyType::Int,
            "float" => PyType::Float,
            "Boolean" => PyType::Bool,
            "dict" => PyType::Dict,
            "array" => PyType::List,
            _ => return None,
        },
    })
}

/// Types whose element type is checked (Python) or converted (Java, JavaScript).
fn has_nested_type(language: Language, ty: &str) -> bool {
    match language {
        Language::Python => matches!(ty, "array" | "tuple"),
        Language::Java | Language::JavaScript => matches!(ty, "Array" | "ArrayList" | "array"),
    }
}

/// The official `simple_function_checker`.
pub fn simple_function(
    doc: &FunctionDoc,
    call: &Call,
    expected: &ExpectedCall,
    language: Language,
    options: CheckOptions,
) -> Check {
    let func_name = if options.underscore_to_dot && doc.name.contains('.') {
        doc.name.replace('.', "_")
    } else {
        doc.name.clone()
    };
    if call.name != func_name {
        return Err(Failure::new(
            "simple_function_checker:wrong_func_name",
            format!("Function name {func_name:?} not found in model output."),
        ));
    }
    for param in &doc.required {
        if call.arg(param).is_none() {
            return Err(Failure::new(
                "simple_function_checker:missing_required",
                format!("Missing required parameter: {param:?}."),
            ));
        }
    }
    for (name, value) in &call.args {
        let details = name.as_deref().and_then(|n| Some((n, doc.param(n)?)));
        let acceptable = name.as_deref().and_then(|n| expected_param(expected, n));
        let (Some((param, details)), Some(acceptable)) = (details, acceptable) else {
            return Err(Failure::new(
                "simple_function_checker:unexpected_param",
                format!(
                    "Unexpected parameter: {}.",
                    name.as_deref().unwrap_or("None")
                ),
            ));
        };
        check_param(
            param,
            &details.ty,
            details.items_type.as_deref(),
            value,
            acceptable,
            language,
        )?;
    }
    for (param, acceptable) in &expected.params {
        if call.arg(param).is_none() && !contains_empty_str(acceptable)? {
            return Err(Failure::new(
                "simple_function_checker:missing_optional",
                format!("Optional parameter {param:?} not provided and not marked as optional."),
            ));
        }
    }
    Ok(())
}

fn expected_param<'a>(expected: &'a ExpectedCall, name: &str) -> Option<&'a Value> {
    expected
        .params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn check_param(
    param: &str,
    ty: &str,
    items_type: Option<&str>,
    value: &Value,
    acceptable: &Value,
    language: Language,
) -> Check {
    let expected_type = converted_type(language, ty)
        .ok_or_else(|| Failure::crash(format!("unknown parameter type {ty:?} for {param:?}")))?;
    let nested = has_nested_type(language, ty);
    let nested_name = if nested {
        Some(items_type.ok_or_else(|| {
            Failure::crash(format!("array parameter {param:?} has no items type"))
        })?)
    } else {
        None
    };
    let nested_type = match nested_name {
        Some(name) => Some(converted_type(language, name).ok_or_else(|| {
            Failure::crash(format!("unknown element type {name:?} for {param:?}"))
        })?),
        None => None,
    };

    let mut value = value.clone();
    match language {
        Language::Java | Language::JavaScript => {
            let Value::Str(text) = &value else {
                let (kind, lang) = match language {
                    Language::Java => ("type_error:java", "Java"),
                    _ => ("type_error:js", "JavaScript"),
                };
                return Err(Failure::new(
                    kind,
                    format!(
                        "Incorrect type for parameter {param:?}. Expected type String ({lang} source), got {}.",
                        value.py_type().name()
                    ),
                ));
            };
            let converted = match language {
                Language::Java => java::convert(text, ty, nested_name),
                _ => javascript::convert(text, ty, nested_name),
            };
            value = converted
                .map_err(|e| Failure::crash(format!("{} conversion is not implemented", e.0)))?;
        }
        Language::Python => {}
    }
    if ty == "tuple" {
        if let Value::Tuple(items) = value {
            value = Value::List(items);
        }
    }
    if language == Language::Python && ty == "float" {
        value = match value {
            Value::Int(i) => Value::Float(i as f64),
            Value::BigInt(s) => Value::Float(s.parse().unwrap_or(f64::INFINITY)),
            other => other,
        };
    }

    let acceptable_items = as_sequence(acceptable)?;
    let is_variable = type_check(
        param,
        ty,
        &value,
        &acceptable_items,
        expected_type,
        nested_type,
    )?;

    if !is_variable {
        match (expected_type, nested_type) {
            (PyType::Dict, _) => return dict_check(param, &value, &acceptable_items),
            (PyType::List, Some(PyType::Dict)) => {
                return list_dict_check(param, &value, &acceptable_items)
            }
            (PyType::Str, _) => return string_check(param, &value, &acceptable_items),
            (PyType::List, _) => return list_check(param, &value, &acceptable_items),
            _ => {}
        }
    }
    if !value.py_in(&acceptable_items) {
        return Err(Failure::new(
            "value_error:others",
            format!(
                "Invalid value for parameter {param:?}: {value}. Expected one of {acceptable}."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ParamDoc;
    use crate::decode::python::decode_prompt_reply;
    use crate::decode::Decoded;

    fn doc(name: &str, params: &[(&str, &str, Option<&str>)], required: &[&str]) -> FunctionDoc {
        FunctionDoc {
            name: name.into(),
            properties: params
                .iter()
                .map(|(n, t, items)| {
                    (
                        n.to_string(),
                        ParamDoc {
                            ty: t.to_string(),
                            items_type: items.map(str::to_owned),
                        },
                    )
                })
                .collect(),
            required: required.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn expected(json: serde_json::Value) -> ExpectedCall {
        ExpectedCall::from_json(&json).unwrap()
    }

    fn calls(raw: &str) -> Vec<Call> {
        match decode_prompt_reply(raw).unwrap() {
            Decoded::Calls(c) => c,
            Decoded::WrongFormat => panic!("wrong format"),
        }
    }

    fn verdict(d: &FunctionDoc, raw: &str, want: serde_json::Value) -> Option<&'static str> {
        check_calls(
            AstChecker::Simple,
            std::slice::from_ref(d),
            &calls(raw),
            &[expected(want)],
            Language::Python,
            CheckOptions::default(),
        )
        .err()
        .map(|f| f.error_type)
    }

    fn triangle() -> (FunctionDoc, serde_json::Value) {
        (
            doc(
                "area",
                &[
                    ("base", "integer", None),
                    ("unit", "string", None),
                    ("scale", "float", None),
                ],
                &["base"],
            ),
            serde_json::json!({"area": {"base": [10], "unit": ["units", ""], "scale": [1.0, ""]}}),
        )
    }

    #[test]
    fn simple_checker_rules_in_order() {
        let (d, gt) = triangle();
        let cases = [
            ("[area(base=10)]", None),
            ("[area(base=10, unit='Units ')]", None),
            ("[area(base=10, scale=1)]", None), // int accepted for float
            (
                "[Area(base=10)]",
                Some("simple_function_checker:wrong_func_name"),
            ),
            (
                "[area(unit='units')]",
                Some("simple_function_checker:missing_required"),
            ),
            (
                "[area(base=10, height=5)]",
                Some("simple_function_checker:unexpected_param"),
            ),
            ("[area(base=10.0)]", Some("type_error:simple")),
            ("[area(base=True)]", Some("type_error:simple")), // bool is not int
            ("[area(base=11)]", Some("value_error:others")),
            ("[area(base=10, unit='cm')]", Some("value_error:string")),
            (
                "[area(base=10), area(base=10)]",
                Some("simple_function_checker:wrong_count"),
            ),
        ];
        for (reply, expected) in cases {
            assert_eq!(verdict(&d, reply, gt.clone()), expected, "{reply}");
        }
    }

    #[test]
    fn omitted_parameters_need_the_empty_string_marker() {
        let d = doc(
            "f",
            &[("a", "integer", None), ("b", "integer", None)],
            &["a"],
        );
        let gt = serde_json::json!({"f": {"a": [1], "b": [2]}});
        assert_eq!(
            verdict(&d, "[f(a=1)]", gt),
            Some("simple_function_checker:missing_optional")
        );
    }

    #[test]
    fn lists_tuples_and_nested_types() {
        let d = doc(
            "f",
            &[
                ("xs", "array", Some("float")),
                ("t", "tuple", Some("integer")),
            ],
            &[],
        );
        let gt = serde_json::json!({"f": {"xs": [[1.5, 2.0], ""], "t": [[1, 2], ""]}});
        assert_eq!(verdict(&d, "[f(xs=[1.5, 2.0])]", gt.clone()), None);
        assert_eq!(
            verdict(&d, "[f(t=(1, 2))]", gt.clone()),
            None,
            "tuple converted to list"
        );
        assert_eq!(
            verdict(&d, "[f(xs=[2.0, 1.5])]", gt.clone()),
            Some("value_error:list/tuple")
        );
        // `""` among the candidates lets any element type through to the value check.
        assert_eq!(
            verdict(&d, "[f(xs=[1, 2])]", gt.clone()),
            Some("value_error:list/tuple")
        );
        let strict = serde_json::json!({"f": {"xs": [[1.5, 2.0]]}});
        assert_eq!(
            verdict(&d, "[f(xs=[1, 2])]", strict),
            Some("type_error:nested"),
            "no int→float for elements"
        );
        assert_eq!(
            verdict(&d, "[f(xs=[])]", gt),
            None,
            "\"\" makes [] acceptable"
        );
    }

    #[test]
    fn dicts_and_lists_of_dicts() {
        let d = doc(
            "f",
            &[("c", "dict", None), ("ds", "array", Some("dict"))],
            &[],
        );
        let gt = serde_json::json!({"f": {
            "c": [{"dept": ["Science"], "school": ["Bluebird HS", ""]}],
            "ds": [[{"k": [1]}, {"k": [2]}], ""]
        }});
        assert_eq!(verdict(&d, "[f(c={'dept': 'science'})]", gt.clone()), None);
        assert_eq!(
            verdict(&d, "[f(c={'dept': 'Art'})]", gt.clone()),
            Some("value_error:dict_value")
        );
        assert_eq!(
            verdict(&d, "[f(c={'x': 1})]", gt.clone()),
            Some("value_error:dict_key")
        );
        let c = "c={'dept': 'Science'}";
        assert_eq!(
            verdict(
                &d,
                &format!("[f({c}, ds=[{{'k': 1}}, {{'k': 2}}])]"),
                gt.clone()
            ),
            None
        );
        assert_eq!(
            verdict(&d, "[f(ds=[{'k': 1}, {'k': 2}])]", gt.clone()),
            Some("simple_function_checker:missing_optional")
        );
        assert_eq!(
            verdict(&d, &format!("[f({c}, ds=[{{'k': 1}}])]"), gt.clone()),
            Some("value_error:list_dict_count")
        );
        // The error of the last candidate wins: here the `""` candidate's count error.
        assert_eq!(
            verdict(&d, &format!("[f({c}, ds=[{{'k': 2}}, {{'k': 1}}])]"), gt),
            Some("value_error:list_dict_count")
        );
    }

    #[test]
    fn variable_escape_hatch_accepts_the_ground_truth_type() {
        // Ground truth written as a variable name: a string for an integer parameter.
        let d = doc("f", &[("n", "integer", None)], &[]);
        let gt = serde_json::json!({"f": {"n": ["count"]}});
        assert_eq!(verdict(&d, "[f(n='count')]", gt.clone()), None);
        assert_eq!(verdict(&d, "[f(n=count)]", gt.clone()), None);
        assert_eq!(
            verdict(&d, "[f(n='Count')]", gt),
            Some("value_error:others"),
            "no normalisation for variables"
        );
    }

    #[test]
    fn parallel_matching_is_order_free_and_greedy() {
        let d = doc(
            "play",
            &[("artist", "string", None), ("n", "integer", None)],
            &["artist"],
        );
        let want = [
            expected(serde_json::json!({"play": {"artist": ["Taylor Swift"], "n": [20]}})),
            expected(serde_json::json!({"play": {"artist": ["Maroon 5"], "n": [15]}})),
        ];
        let run = |raw: &str| {
            check_calls(
                AstChecker::Parallel,
                std::slice::from_ref(&d),
                &calls(raw),
                &want,
                Language::Python,
                CheckOptions::default(),
            )
            .err()
            .map(|f| f.error_type)
        };
        assert_eq!(
            run("[play(artist='Maroon 5', n=15), play(artist='taylor swift', n=20)]"),
            None
        );
        assert_eq!(
            run("[play(artist='Maroon 5', n=15)]"),
            Some("parallel_function_checker_no_order:wrong_count")
        );
        assert_eq!(
            run("[play(artist='Maroon 5', n=15), play(artist='Taylor Swift', n=21)]"),
            Some("parallel_function_checker_no_order:cannot_find_match")
        );
    }

    #[test]
    fn underscore_to_dot_renames_the_expected_function() {
        let d = doc("math.factorial", &[("n", "integer", None)], &["n"]);
        let want = [expected(serde_json::json!({"math.factorial": {"n": [5]}}))];
        let c = calls("[math_factorial(n=5)]");
        let with = CheckOptions {
            underscore_to_dot: true,
        };
        assert!(check_calls(
            AstChecker::Simple,
            std::slice::from_ref(&d),
            &c,
            &want,
            Language::Python,
            with
        )
        .is_ok());
        assert!(check_calls(
            AstChecker::Simple,
            std::slice::from_ref(&d),
            &c,
            &want,
            Language::Python,
            CheckOptions::default()
        )
        .is_err());
    }

    #[test]
    fn java_values_must_be_source_strings() {
        let d = doc("f", &[("n", "long", None), ("ok", "boolean", None)], &[]);
        let want = [expected(
            serde_json::json!({"f": {"n": [5], "ok": [true, ""]}}),
        )];
        let run = |c: Vec<Call>| {
            check_calls(
                AstChecker::Simple,
                std::slice::from_ref(&d),
                &c,
                &want,
                Language::Java,
                CheckOptions::default(),
            )
            .err()
            .map(|f| f.error_type)
        };
        let call = |args: Vec<(&str, Value)>| {
            vec![Call {
                name: "f".into(),
                args: args.into_iter().map(|(k, v)| (Some(k.into()), v)).collect(),
            }]
        };
        assert_eq!(
            run(call(vec![
                ("n", Value::Str("5L".into())),
                ("ok", Value::Str("true".into()))
            ])),
            None
        );
        assert_eq!(
            run(call(vec![("n", Value::Int(5))])),
            Some("type_error:java")
        );
        assert_eq!(
            run(call(vec![("n", Value::Str("5".into()))])),
            Some("type_error:simple")
        );
    }

    #[test]
    fn standardization_matches_official() {
        assert_eq!(standardize_string("April 1, 2024"), "april12024");
        assert_eq!(standardize_string("It's_A-B/C*D^E.f"), "it\"sabcdef");
    }
}
