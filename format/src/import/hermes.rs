//! NousResearch/hermes-function-calling-v1, configs `func_calling_singleturn`
//! (`func-calling-singleturn.json`) and `func_calling` (`func-calling.json`):
//! JSON arrays (JSONL is read too) of
//!
//! ```text
//! {"id": "85f6c398-...",
//!  "conversations": [
//!    {"from": "system", "value": "You are a function calling AI model. ... <tools>
//!       [{'type': 'function', 'function': {'name': 'get_stock_price', 'description': '...',
//!         'parameters': {'type': 'object', 'properties': {...}, 'required': [...]}}}]
//!       </tools> ..."},
//!    {"from": "human", "value": "What is Tesla's stock price?"},
//!    {"from": "gpt", "value": "<tool_call>\n{'arguments': {'symbol': 'TSLA'}, 'name':
//!       'get_stock_price'}\n</tool_call>\n<tool_call>...</tool_call>"},
//!    {"from": "tool", "value": "<tool_response>\n{\"price\": 191.97}\n</tool_response>"},
//!    {"from": "gpt", "value": "Tesla trades at $191.97."}],
//!  "category": "...", "subcategory": "...", "task": "..."}
//! ```
//!
//! The tools are what `<tools>...</tools>` holds in the system turn, and each
//! `<tool_call>` block is one call; both may be JSON or Python literals (single
//! quotes, `True`, `None`): JSON is tried first, then the BFCL Python decoder.
//! A tool is `{"type": "function", "function": {...}}` or the bare function. A
//! gpt turn with `<tool_call>` blocks is one round; every `<tool_response>` block
//! (or a tool turn without one, whole) that follows is one observation; the last
//! gpt text is the answer. Only the first human turn and what follows it up to
//! the next human turn are imported; a first exchange without a call is a
//! counted skip. `id` is `hermes-<id>` (`hermes-<line>` without one).

use serde_json::{Map, Value};

use super::{call_object, function, json_or_python, kind, row_id, Draft, Outcome, RowResult};
use crate::sample::{Call, Function, Round};

pub(crate) fn row(line: usize, row: &Map<String, Value>) -> RowResult {
    let Some(Value::Array(turns)) = row.get("conversations") else {
        return Err("no `conversations` list".to_owned());
    };
    let mut turns = turns
        .iter()
        .map(turn)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let mut tools = None;
    let mut query = None;
    for (role, text) in turns.by_ref() {
        match role.as_str() {
            "system" if tools.is_none() => tools = Some(parse_tools(&text)?),
            "human" | "user" => {
                query = Some(text.trim().to_owned());
                break;
            }
            _ => {}
        }
    }
    let Some(query) = query else {
        return Err("no human turn".to_owned());
    };
    let Some(tools) = tools else {
        return Err("no system turn with <tools> before the human turn".to_owned());
    };
    let mut rounds: Vec<Round> = Vec::new();
    let mut answer = String::new();
    for (role, text) in turns {
        match role.as_str() {
            "human" | "user" => break,
            "gpt" | "assistant" => {
                let calls = calls(&text)?;
                if calls.is_empty() {
                    answer = text.trim().to_owned();
                } else {
                    rounds.push(Round {
                        calls,
                        observations: Vec::new(),
                    });
                    answer.clear();
                }
            }
            "tool" => match rounds.last_mut() {
                Some(round) => round.observations.extend(responses(&text)),
                None => return Err("a tool turn before any call".to_owned()),
            },
            other => return Err(format!("unexpected turn role {other:?} after the query")),
        }
    }
    if rounds.is_empty() {
        return Ok(Outcome::Skip(
            "no <tool_call> in the first exchange".to_owned(),
        ));
    }
    let id = row_id(row).unwrap_or_else(|| line.to_string());
    Draft {
        id: format!("hermes-{id}"),
        source: "hermes",
        query,
        tools,
        rounds,
        answer,
        negative: false,
    }
    .finish()
}

fn turn(item: &Value) -> Result<(String, String), String> {
    let role = match item.get("from") {
        Some(Value::String(role)) => role.clone(),
        _ => return Err("a turn has no `from`".to_owned()),
    };
    match item.get("value") {
        Some(Value::String(text)) => Ok((role, text.clone())),
        Some(other) => Err(format!("a turn's value is {}", kind(other))),
        None => Err("a turn has no `value`".to_owned()),
    }
}

/// The texts between each `<tag>` and its `</tag>`, in order.
fn blocks<'a>(text: &'a str, tag: &str) -> Result<Vec<&'a str>, String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            return Err(format!("<{tag}> without </{tag}>"));
        };
        found.push(after[..end].trim());
        rest = &after[end + close.len()..];
    }
    Ok(found)
}

fn parse_tools(system: &str) -> Result<Vec<Function>, String> {
    let mut tools = Vec::new();
    for block in blocks(system, "tools")? {
        let mut values: Vec<Value> = Vec::new();
        let stream: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(block)
            .into_iter()
            .collect();
        match stream {
            Ok(parsed) => values.extend(parsed),
            Err(_) => values.push(
                super::python_literal(block)
                    .ok_or_else(|| "<tools> is neither JSON nor a Python literal".to_owned())?,
            ),
        }
        for value in values {
            match value {
                Value::Array(items) => {
                    for item in &items {
                        tools.push(tool(item)?);
                    }
                }
                other => tools.push(tool(&other)?),
            }
        }
    }
    if tools.is_empty() {
        return Err("the system turn has no <tools>".to_owned());
    }
    Ok(tools)
}

fn tool(value: &Value) -> Result<Function, String> {
    let object = match value {
        Value::Object(object) => match object.get("function") {
            Some(Value::Object(inner)) => inner,
            _ => object,
        },
        other => return Err(format!("a tool is {}", kind(other))),
    };
    function(object, String::new())
}

fn calls(text: &str) -> Result<Vec<Call>, String> {
    blocks(text, "tool_call")?
        .into_iter()
        .map(|block| match json_or_python(block) {
            Some(value) => call_object(&value),
            None => Err("a <tool_call> is neither JSON nor a Python literal".to_owned()),
        })
        .collect()
}

/// Each `<tool_response>` block, or the whole turn where it has none.
fn responses(text: &str) -> Vec<String> {
    match blocks(text, "tool_response") {
        Ok(found) if !found.is_empty() => found.into_iter().map(str::to_owned).collect(),
        _ => vec![text.trim().to_owned()],
    }
}
