//! Team-ACE/ToolACE (`data.json`, a JSON array; JSONL is read too). Each row:
//!
//! ```text
//! {"system": "You are an expert in composing functions. ... Here is a list of
//!             functions in JSON format that you can invoke:\n[{\"name\": \"Get Weather\",
//!             \"description\": \"...\", \"parameters\": {\"type\": \"dict\", \"properties\": {...},
//!             \"required\": [...]}, \"required\": null}, ...]. \n...",
//!  "conversations": [
//!    {"from": "user", "value": "What's the weather in Paris?"},
//!    {"from": "assistant", "value": "[Get Weather(city='Paris', unit='celsius')]"},
//!    {"from": "tool", "value": "[{\"name\": \"Get Weather\", \"results\": {...}}]"},
//!    {"from": "assistant", "value": "It is 18 °C in Paris."}]}
//! ```
//!
//! The functions are the JSON list after "Here is a list of functions in JSON
//! format that you can invoke" in `system`. An assistant turn of the form
//! `[f(a=1), g(b='x')]` is a call turn, decoded with the BFCL Python decoder
//! (function names that are not Python identifiers, such as `Get Weather`, are
//! swapped for placeholders first); any other assistant turn is text, and the
//! last text is the answer. A tool turn holds the outputs of the call turn
//! before it: a JSON list with one entry per pending call is split into one
//! observation per call, anything else is one observation. Only the first user
//! turn and what follows it up to the next user turn are imported; a first
//! exchange without a call is a counted skip. Rows have no id: `toolace-<line>`.

use serde_json::{Map, Value};
use toolgrad_eval::decode::{python::decode_prompt_reply, Decoded};

use super::{function, kind, str_field, Draft, Outcome, RowResult};
use crate::sample::{Call, Function, Round};

const MARKER: &str = "Here is a list of functions in JSON format that you can invoke";

pub(crate) fn row(line: usize, row: &Map<String, Value>) -> RowResult {
    let tools = tools(str_field(row, "system")?)?;
    let turns = turns(row)?;
    let Some(first) = turns.iter().position(|(role, _)| *role == Role::User) else {
        return Err("no user turn".to_owned());
    };
    let mut rest = turns.iter().skip(first);
    let query = rest
        .next()
        .map(|(_, text)| text.trim().to_owned())
        .unwrap_or_default();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_str()).collect();
    let mut rounds: Vec<Round> = Vec::new();
    let mut answer = String::new();
    for (role, text) in rest {
        match role {
            Role::User => break,
            Role::Assistant if is_call_list(text) => {
                let calls = decode_calls(text, &names)?;
                rounds.push(Round {
                    calls,
                    observations: Vec::new(),
                });
                answer.clear();
            }
            Role::Assistant => answer = text.trim().to_owned(),
            Role::Tool => {
                let Some(round) = rounds.last_mut() else {
                    return Err("a tool turn before any call".to_owned());
                };
                let pending = round.calls.len().saturating_sub(round.observations.len());
                round.observations.extend(split_outputs(text, pending));
            }
        }
    }
    if rounds.is_empty() {
        return Ok(Outcome::Skip("no call in the first exchange".to_owned()));
    }
    Draft {
        id: format!("toolace-{line}"),
        source: "toolace",
        query,
        tools,
        rounds,
        answer,
        negative: false,
    }
    .finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
    Tool,
}

fn turns(row: &Map<String, Value>) -> Result<Vec<(Role, String)>, String> {
    let Some(Value::Array(items)) = row.get("conversations") else {
        return Err("no `conversations` list".to_owned());
    };
    items
        .iter()
        .map(|item| {
            let role = item.get("from").and_then(Value::as_str).unwrap_or_default();
            let role = match role {
                "user" | "human" => Role::User,
                "assistant" | "gpt" => Role::Assistant,
                "tool" | "function" | "observation" => Role::Tool,
                other => return Err(format!("unknown turn role {other:?}")),
            };
            let text = match item.get("value") {
                Some(Value::String(text)) => text.clone(),
                Some(other @ (Value::Array(_) | Value::Object(_))) => other.to_string(),
                Some(other) => return Err(format!("a turn's value is {}", kind(other))),
                None => return Err("a turn has no value".to_owned()),
            };
            Ok((role, text))
        })
        .collect()
}

/// The function list after the marker in the system prompt.
fn tools(system: &str) -> Result<Vec<Function>, String> {
    let Some(at) = system.find(MARKER) else {
        return Err("the system prompt lists no functions".to_owned());
    };
    let rest = &system[at + MARKER.len()..];
    let Some(open) = rest.find('[') else {
        return Err("no function list after the marker".to_owned());
    };
    let list = serde_json::Deserializer::from_str(&rest[open..])
        .into_iter::<Value>()
        .next()
        .ok_or_else(|| "no function list after the marker".to_owned())?
        .map_err(|e| format!("the function list is not valid JSON: {e}"))?;
    let Value::Array(items) = list else {
        return Err("the function list is not a list".to_owned());
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(object) => function(object, String::new()),
            other => Err(format!("a function is {}", kind(other))),
        })
        .collect()
}

/// `[f(...), ...]`: what ToolACE writes for a call turn.
fn is_call_list(text: &str) -> bool {
    let text = text.trim();
    text.starts_with('[') && text.ends_with(")]")
}

/// Decodes a call list, first swapping names that are not Python identifiers
/// (`Get Weather(`) for placeholders the parser accepts.
fn decode_calls(text: &str, names: &[&str]) -> Result<Vec<Call>, String> {
    let mut odd: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !is_dotted_identifier(n))
        .collect();
    odd.sort_by_key(|name| std::cmp::Reverse(name.len()));
    let mut source = text.trim().to_owned();
    for (i, name) in odd.iter().enumerate() {
        source = source.replace(&format!("{name}("), &format!("__toolgrad_fn_{i}__("));
    }
    let decoded =
        decode_prompt_reply(&source).map_err(|e| format!("call turn does not decode: {e}"))?;
    let Decoded::Calls(calls) = decoded else {
        return Err("call turn is not a list of calls".to_owned());
    };
    calls
        .into_iter()
        .map(|call| {
            let name = call
                .name
                .strip_prefix("__toolgrad_fn_")
                .and_then(|rest| rest.strip_suffix("__"))
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| odd.get(i).map(|name| (*name).to_owned()))
                .unwrap_or(call.name);
            let mut arguments = Map::new();
            for (key, value) in call.args {
                let Some(key) = key else {
                    return Err(format!("call `{name}` has ** arguments"));
                };
                arguments.insert(key, value.to_json());
            }
            Ok(Call { name, arguments })
        })
        .collect()
}

fn is_dotted_identifier(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// One observation per pending call when the tool turn is a JSON list of that
/// length, else the whole text as one observation.
fn split_outputs(text: &str, pending: usize) -> Vec<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) if items.len() == pending && pending > 0 => {
            items.iter().map(Value::to_string).collect()
        }
        _ => vec![text.trim().to_owned()],
    }
}
