//! What BFCL sends a model: function docs with the language hints, and either the
//! v4 default system prompt (prompt mode) or OpenAI-style tools (FC mode).
//!
//! Ports `_func_doc_language_specific_pre_processing`, `formulate_system_prompt`
//! (config `ret_fmt=python&tool_call_tag=False&func_doc_fmt=json&prompt_fmt=plaintext&style=classic`),
//! `system_prompt_pre_processing_chat_model` and `convert_to_tool` for the
//! OpenAI-completions style, so our prompts are byte-identical to the official ones.

use serde_json::{json, Map, Value as Json};
use toolgrad_core::llm::ChatMessage;

use crate::category::{Category, Language};
use crate::dataset::Entry;
use crate::pyrepr::json_dumps;

const PERSONA: &str = "You are an expert in composing functions.";
const TASK: &str = "You are given a question and a set of possible functions. Based on the question, you will need to make one or more function/tool calls to achieve the purpose. If none of the functions can be used, point it out. If the given question lacks the parameters required by the function, also point it out.";
const TOOL_CALL_FORMAT: &str = "You should only return the function calls in your response.\n\nIf you decide to invoke any of the function(s), you MUST put it in the format of [func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)].  You SHOULD NOT include any other text in the response.";
const MULTITURN_BEHAVIOR: &str = "At each turn, you should try your best to complete the tasks requested by the user within the current turn. Continue to output functions to call until you have fulfilled the user's request to the best of your ability. Once you have no more functions to call, the system will consider the current turn complete and proceed to the next turn or task.";

/// The function docs with BFCL's language hint, Java/JavaScript types rewritten to strings.
pub fn docs_with_language_hints(functions: &[Json], category: Category) -> Vec<Json> {
    let language = category.language();
    let hint = match language {
        Language::Java => " Note that the provided function is in Java 8 SDK syntax.",
        Language::JavaScript => " Note that the provided function is in JavaScript syntax.",
        Language::Python => " Note that the provided function is in Python 3 syntax.",
    };
    functions
        .iter()
        .map(|function| {
            let mut function = function.clone();
            append_to(&mut function["description"], hint);
            if language != Language::Python {
                if let Some(properties) = function["parameters"]["properties"].as_object_mut() {
                    for param in properties.values_mut() {
                        rewrite_param_as_string(param, language);
                    }
                }
            }
            function
        })
        .collect()
}

fn append_to(field: &mut Json, suffix: &str) {
    let text = field.as_str().unwrap_or_default();
    *field = Json::String(format!("{text}{suffix}"));
}

fn rewrite_param_as_string(param: &mut Json, language: Language) {
    let ty = param["type"].as_str().unwrap_or_default().to_owned();
    let (lang, array_type) = match language {
        Language::Java => ("Java", ["ArrayList", "Array"]),
        _ => ("JavaScript", ["array", "array"]),
    };
    if ty == "any" {
        append_to(
            &mut param["description"],
            &format!(
                " This parameter can be of any type of {lang} object in string representation."
            ),
        );
    } else {
        append_to(
            &mut param["description"],
            &format!(" This is {lang} {ty} type parameter in string representation."),
        );
    }
    if array_type.contains(&ty.as_str()) {
        let items = param["items"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        append_to(
            &mut param["description"],
            &format!(
                " The list elements are of type {items}; they are not in string representation."
            ),
        );
        remove_key(param, "items");
    }
    if language == Language::JavaScript && ty == "dict" {
        if let Some(properties) = param.get("properties").cloned() {
            append_to(
                &mut param["description"],
                &format!(
                    " The dictionary entries have the following schema; they are not in string representation. {}",
                    json_dumps(&properties, None)
                ),
            );
            remove_key(param, "properties");
        }
    }
    param["type"] = json!("string");
}

fn remove_key(value: &mut Json, key: &str) {
    if let Some(object) = value.as_object_mut() {
        object.shift_remove(key);
    }
}

/// The BFCL v4 default system prompt for a list of (hinted) function docs.
pub fn system_prompt(functions: &[Json]) -> String {
    let docs = json_dumps(&Json::Array(functions.to_vec()), Some(4));
    format!(
        "{PERSONA}{TASK}\n\n{TOOL_CALL_FORMAT}\n\n{MULTITURN_BEHAVIOR}\n\nHere is a list of functions in json format that you can invoke.\n{docs}\n"
    )
}

/// The messages of the first turn, with the system prompt in front (merged into
/// an existing system message, as the official handler does).
pub fn prompt_messages(entry: &Entry, category: Category) -> Vec<ChatMessage> {
    let functions = docs_with_language_hints(&entry.functions_json, category);
    let system = system_prompt(&functions);
    let mut messages: Vec<ChatMessage> = first_turn(entry);
    match messages.first_mut() {
        Some(first) if first.role == "system" => {
            let own = first.content.take().unwrap_or_default();
            first.content = Some(format!("{system}\n\n{own}"));
        }
        _ => messages.insert(0, ChatMessage::new("system", system)),
    }
    messages
}

/// The first turn's messages as they are in the dataset (FC mode sends them as is).
pub fn first_turn(entry: &Entry) -> Vec<ChatMessage> {
    entry
        .question
        .first()
        .map(|turn| {
            turn.iter()
                .map(|m| ChatMessage::new(m.role.clone(), m.content.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// BFCL's `GORILLA_TO_OPENAPI` type table.
fn openapi_type(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "integer" | "byte" | "short" | "long" | "Bigint" => "integer",
        "number" | "float" | "double" => "number",
        "string" | "any" | "char" | "Any" | "String" => "string",
        "boolean" | "bool" => "boolean",
        "array" | "list" | "tuple" | "ArrayList" | "Array" | "Queue" | "Stack" => "array",
        "dict" | "object" | "HashMap" | "Hashtable" => "object",
        _ => return None,
    })
}

/// OpenAI-style tools for FC mode: dots in names become underscores, BFCL types
/// become JSON-schema types, and float parameters say so in their description.
pub fn fc_tools(entry: &Entry, category: Category) -> Vec<Json> {
    docs_with_language_hints(&entry.functions_json, category)
        .into_iter()
        .map(|mut function| {
            if let Some(name) = function["name"].as_str() {
                function["name"] = json!(name.replace('.', "_"));
            }
            function["parameters"]["type"] = json!("object");
            if let Some(properties) = function["parameters"]["properties"].as_object_mut() {
                cast_to_openapi(properties);
            }
            json!({"type": "function", "function": function})
        })
        .collect()
}

fn cast_to_openapi(properties: &mut Map<String, Json>) {
    for param in properties.values_mut() {
        let ty = param["type"].as_str().map(str::to_owned);
        match ty {
            None => param["type"] = json!("string"),
            Some(ty) => {
                if ty == "float" {
                    param["format"] = json!("float");
                    append_to(&mut param["description"], " This is a float type value.");
                }
                param["type"] = json!(openapi_type(&ty).unwrap_or("string"));
            }
        }
        if matches!(param["type"].as_str(), Some("array" | "object")) {
            if let Some(nested) = param.get_mut("properties").and_then(Json::as_object_mut) {
                cast_to_openapi(nested);
            } else if let Some(items) = param.get_mut("items") {
                cast_items(items);
            }
        }
    }
}

fn cast_items(items: &mut Json) {
    let mapped = items["type"]
        .as_str()
        .and_then(openapi_type)
        .unwrap_or("string");
    items["type"] = json!(mapped);
    if mapped == "array" {
        if let Some(inner) = items.get_mut("items") {
            let inner_type = inner["type"]
                .as_str()
                .and_then(openapi_type)
                .unwrap_or("string");
            inner["type"] = json!(inner_type);
        }
    } else if mapped == "object" {
        if let Some(nested) = items.get_mut("properties").and_then(Json::as_object_mut) {
            cast_to_openapi(nested);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_params_become_strings_with_hints() {
        let docs = vec![json!({
            "name": "A.b", "description": "Does b.",
            "parameters": {"type": "dict", "properties": {
                "xs": {"type": "Array", "description": "Values.", "items": {"type": "integer"}},
                "o": {"type": "any", "description": "Any."}
            }, "required": ["xs"]}
        })];
        let hinted = docs_with_language_hints(&docs, Category::SimpleJava);
        assert_eq!(
            hinted[0]["description"],
            "Does b. Note that the provided function is in Java 8 SDK syntax."
        );
        assert_eq!(
            hinted[0]["parameters"]["properties"]["xs"],
            json!({"type": "string", "description": "Values. This is Java Array type parameter in string representation. The list elements are of type integer; they are not in string representation."})
        );
        assert_eq!(
            hinted[0]["parameters"]["properties"]["o"]["description"],
            "Any. This parameter can be of any type of Java object in string representation."
        );
    }

    #[test]
    fn fc_tools_use_openapi_types_and_safe_names() {
        let entry = Entry {
            id: "simple_python_0".into(),
            question: vec![],
            functions: vec![],
            functions_json: vec![json!({
                "name": "math.hypot", "description": "Hypot.",
                "parameters": {"type": "dict", "properties": {
                    "x": {"type": "float", "description": "X."},
                    "pts": {"type": "array", "description": "P.", "items": {"type": "tuple"}}
                }, "required": ["x"]}
            })],
            ground_truth: vec![],
        };
        let tools = fc_tools(&entry, Category::SimplePython);
        let function = &tools[0]["function"];
        assert_eq!(function["name"], "math_hypot");
        assert_eq!(function["parameters"]["type"], "object");
        assert_eq!(
            function["parameters"]["properties"]["x"],
            json!({"type": "number", "description": "X. This is a float type value.", "format": "float"})
        );
        assert_eq!(
            function["parameters"]["properties"]["pts"]["items"]["type"],
            "array"
        );
    }
}
