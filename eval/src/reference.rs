//! Reference answers: the ground truth rendered as a prompt-mode reply.
//!
//! Scoring these shows what a perfect model would get under the checker (100 %
//! in every AST category, except the few entries the official checker itself
//! rejects), and `[]` shows the floor. They are sanity checks of the scorer and
//! the data, never a model's score.

use crate::category::{Category, Judge, Language};
use crate::dataset::{Entry, ExpectedCall, FunctionDoc};
use crate::value::Value;

/// The ground truth of an AST entry as a reply such as `[f(a=1, b='x')]`: the
/// first acceptable value of each parameter, optional parameters left out.
pub fn render_ground_truth(entry: &Entry, category: Category) -> String {
    let calls: Vec<String> = entry
        .ground_truth
        .iter()
        .map(|call| {
            render_call(
                call,
                entry.functions.iter().find(|d| d.name == call.name),
                category.language(),
            )
        })
        .collect();
    format!("[{}]", calls.join(", "))
}

fn render_call(call: &ExpectedCall, doc: Option<&FunctionDoc>, language: Language) -> String {
    let args: Vec<String> = call
        .params
        .iter()
        .filter_map(|(name, acceptable)| {
            // A model can only pass documented parameters.
            let param = doc?.param(name)?;
            let value = first_acceptable(acceptable)?;
            let items = param.items_type.as_deref();
            Some(format!(
                "{name}={}",
                render_value(&value, &param.ty, items, language)
            ))
        })
        .collect();
    format!("{}({})", call.name, args.join(", "))
}

/// The first acceptable value that is not `""`, with nested dicts resolved the same way.
fn first_acceptable(acceptable: &Value) -> Option<Value> {
    let Value::List(options) = acceptable else {
        return Some(acceptable.clone());
    };
    options
        .iter()
        .find(|v| !v.is_empty_str())
        .map(resolve_nested)
}

fn resolve_nested(value: &Value) -> Value {
    match value {
        Value::Dict(entries) => Value::Dict(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), first_acceptable(v)?)))
                .collect(),
        ),
        Value::List(items) if items.iter().all(|i| matches!(i, Value::Dict(_))) => {
            Value::List(items.iter().map(resolve_nested).collect())
        }
        other => other.clone(),
    }
}

fn render_value(value: &Value, ty: &str, items: Option<&str>, language: Language) -> String {
    match language {
        Language::Python => value.to_string(),
        Language::Java => java_source(value, ty, items),
        Language::JavaScript => js_source(value, ty),
    }
}

/// Java source text the official converter turns back into `value`.
fn java_source(value: &Value, ty: &str, items: Option<&str>) -> String {
    match (ty, value) {
        ("long", Value::Int(i)) => format!("{i}L"),
        ("float", Value::Float(_) | Value::Int(_)) => format!("{}f", value.to_json()),
        ("Array", Value::List(elements)) => {
            let element_type = items.unwrap_or("Object");
            // The official array parser keeps quotes on String elements, so they go bare.
            let rendered: Vec<String> = elements
                .iter()
                .map(|e| match e {
                    Value::Str(text) => quote_unless_bare(text, false),
                    other => java_source(other, element_type, None),
                })
                .collect();
            format!(
                "new {}[]{{{}}}",
                java_array_type(element_type),
                rendered.join(", ")
            )
        }
        ("ArrayList", Value::List(elements)) => {
            let element_type = items.unwrap_or("Object");
            let rendered: Vec<String> = elements
                .iter()
                .map(|e| java_source(e, element_type, None))
                .collect();
            format!("new ArrayList<>(Arrays.asList({}))", rendered.join(", "))
        }
        // Object creation is Java source already.
        (_, Value::Str(text)) if ty != "String" && text.starts_with("new ") => text.clone(),
        (_, Value::Str(text)) => quote_unless_bare(text, ty == "String" || ty == "char"),
        (_, other) => other.to_json().to_string(),
    }
}

fn java_array_type(element_type: &str) -> &str {
    match element_type {
        "integer" => "int",
        "any" => "Object",
        other => other,
    }
}

/// JavaScript source text the official converter turns back into `value`.
fn js_source(value: &Value, ty: &str) -> String {
    match value {
        Value::Str(text) => quote_unless_bare(text, ty == "String"),
        Value::List(elements) => {
            let rendered: Vec<String> = elements.iter().map(|e| js_source(e, "String")).collect();
            format!("[{}]", rendered.join(", "))
        }
        Value::Dict(entries) => {
            let rendered: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", js_source(k, "String"), js_source(v, "String")))
                .collect();
            format!("{{{}}}", rendered.join(", "))
        }
        other => other.to_json().to_string(),
    }
}

/// Identifiers, dotted names and numbers stay bare; anything else becomes a string literal.
fn quote_unless_bare(text: &str, always: bool) -> String {
    let identifier = text.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    });
    let number = text.parse::<f64>().is_ok_and(f64::is_finite);
    if (identifier || number) && !always {
        text.to_owned()
    } else {
        format!("\"{text}\"")
    }
}

/// Which reference answers to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceAnswers {
    /// The ground truth rendered as a call (AST categories), a call of the first
    /// function (relevance), `[]` (irrelevance).
    GroundTruth,
    /// `[]` everywhere: no call at all.
    Empty,
}

/// The reference reply for one entry.
pub fn reference_reply(entry: &Entry, category: Category, answers: ReferenceAnswers) -> String {
    match (answers, category.judge()) {
        (ReferenceAnswers::GroundTruth, Judge::Ast) => render_ground_truth(entry, category),
        // Relevance has no ground truth: any call is right, so call the first function.
        (ReferenceAnswers::GroundTruth, Judge::Relevance) => match entry.functions.first() {
            Some(doc) => format!("[{}()]", doc.name),
            None => "[]".to_owned(),
        },
        _ => "[]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ParamDoc;

    fn entry(functions: Vec<FunctionDoc>, gt: serde_json::Value) -> Entry {
        Entry {
            id: "x".into(),
            question: vec![],
            functions,
            functions_json: vec![],
            ground_truth: vec![ExpectedCall::from_json(&gt).unwrap()],
        }
    }

    #[test]
    fn renders_first_acceptable_values_and_drops_optional_ones() {
        let param = |name: &str, ty: &str| {
            (
                name.to_owned(),
                ParamDoc {
                    ty: ty.into(),
                    items_type: None,
                },
            )
        };
        let doc = FunctionDoc {
            name: "f".into(),
            properties: vec![
                param("a", "integer"),
                param("u", "string"),
                param("o", "string"),
                param("d", "dict"),
            ],
            required: vec![],
        };
        let e = entry(
            vec![doc],
            serde_json::json!({"f": {"a": [10], "u": ["", "cm"], "o": [""], "d": [{"k": ["", 1], "j": ["x"]}], "undocumented": [1]}}),
        );
        assert_eq!(
            render_ground_truth(&e, Category::SimplePython),
            "[f(a=10, u='cm', d={'k': 1, 'j': 'x'})]"
        );
    }

    #[test]
    fn renders_java_source_text_with_string_quotes() {
        let doc = FunctionDoc {
            name: "A.b".into(),
            properties: vec![
                (
                    "s".into(),
                    ParamDoc {
                        ty: "String".into(),
                        items_type: None,
                    },
                ),
                (
                    "v".into(),
                    ParamDoc {
                        ty: "boolean".into(),
                        items_type: None,
                    },
                ),
                (
                    "o".into(),
                    ParamDoc {
                        ty: "any".into(),
                        items_type: None,
                    },
                ),
                (
                    "n".into(),
                    ParamDoc {
                        ty: "long".into(),
                        items_type: None,
                    },
                ),
                (
                    "xs".into(),
                    ParamDoc {
                        ty: "Array".into(),
                        items_type: Some("String".into()),
                    },
                ),
            ],
            required: vec![],
        };
        let e = entry(
            vec![doc],
            serde_json::json!({"A.b": {"s": ["hi there"], "v": [true], "o": ["obj"], "n": [5], "xs": [["a", "b c"]]}}),
        );
        assert_eq!(
            render_ground_truth(&e, Category::SimpleJava),
            "[A.b(s=\"hi there\", v=true, o=obj, n=5L, xs=new String[]{a, \"b c\"})]"
        );
    }
}
