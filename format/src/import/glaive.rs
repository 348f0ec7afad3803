//! glaiveai/glaive-function-calling-v2 (a JSON array; JSONL is read too). Each row:
//!
//! ```text
//! {"system": "SYSTEM: You are a helpful assistant with access to the following functions.
//!             Use them if required -\n{\n  \"name\": \"convert_currency\", ...}\n\n{...}",
//!  "chat": "USER: Convert 500 USD to EUR.\n\n\nASSISTANT: <functioncall> {\"name\":
//!           \"convert_currency\", \"arguments\": '{\"amount\": 500}'} <|endoftext|>\n\n\n
//!           FUNCTION RESPONSE: {\"converted_amount\": 425.5}\n\n\nASSISTANT: 500 USD is
//!           about 425.50 EUR. <|endoftext|>\n\n\nUSER: ..."}
//! ```
//!
//! The functions are the JSON objects that follow the system prompt's first `{`;
//! a system prompt without any (`SYSTEM: You are a helpful assistant, with no
//! access to external functions.`) makes the row a counted skip. The chat is cut
//! at its `USER:`, `ASSISTANT:` and `FUNCTION RESPONSE:` tags; `<|endoftext|>`
//! is dropped. An assistant turn holding `<functioncall> {...}` is a call turn
//! (one call; its `arguments` are a JSON object inside single quotes, read as
//! JSON once the quotes are dropped, or failing that as a Python literal); each
//! `FUNCTION RESPONSE` is one observation; the last assistant text is the
//! answer. Only the first user turn and what follows it up to the next user turn
//! are imported: if the assistant answers it without a call while functions are
//! offered, the row is a negative (no calls). Rows have no id: `glaive-<line>`.

use serde_json::{Map, Value};

use super::{call_object, function, kind, python_literal, str_field, Draft, Outcome, RowResult};
use crate::sample::{Call, Function, Round};

const USER: &str = "USER:";
const ASSISTANT: &str = "ASSISTANT:";
const RESPONSE: &str = "FUNCTION RESPONSE:";
const CALL: &str = "<functioncall>";
const EOS: &str = "<|endoftext|>";

pub(crate) fn row(line: usize, row: &Map<String, Value>) -> RowResult {
    let tools = functions(str_field(row, "system")?)?;
    if tools.is_empty() {
        return Ok(Outcome::Skip(
            "the system prompt offers no functions".to_owned(),
        ));
    }
    let turns = turns(str_field(row, "chat")?);
    let Some(first) = turns
        .iter()
        .position(|(tag, text)| *tag == USER && !text.is_empty())
    else {
        return Err("no USER turn in `chat`".to_owned());
    };
    let mut rest = turns.iter().skip(first);
    let query = rest
        .next()
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    let mut rounds: Vec<Round> = Vec::new();
    let mut answer = String::new();
    let mut replied = false;
    for (tag, text) in rest {
        match *tag {
            USER => break,
            ASSISTANT => {
                replied = true;
                if let Some(at) = text.find(CALL) {
                    rounds.push(Round {
                        calls: vec![call(&text[at + CALL.len()..])?],
                        observations: Vec::new(),
                    });
                    answer.clear();
                } else if !text.is_empty() {
                    answer = text.clone();
                }
            }
            _ => match rounds.last_mut() {
                Some(round) => round.observations.push(text.clone()),
                None => return Err("a FUNCTION RESPONSE before any call".to_owned()),
            },
        }
    }
    if !replied {
        return Err("no ASSISTANT reply to the first USER turn".to_owned());
    }
    let negative = rounds.is_empty();
    Draft {
        id: format!("glaive-{line}"),
        source: "glaive",
        query,
        tools,
        rounds,
        answer,
        negative,
    }
    .finish()
}

/// The JSON function objects after the system prompt's first `{`.
fn functions(system: &str) -> Result<Vec<Function>, String> {
    let Some(open) = system.find('{') else {
        return Ok(Vec::new());
    };
    serde_json::Deserializer::from_str(&system[open..])
        .into_iter::<Value>()
        .map(|item| match item {
            Ok(Value::Object(object)) => function(&object, String::new()),
            Ok(other) => Err(format!("a system function is {}", kind(&other))),
            Err(e) => Err(format!("the system functions are not valid JSON: {e}")),
        })
        .collect()
}

/// The chat cut at its role tags: `(tag, text)` with the text trimmed and
/// `<|endoftext|>` removed. Text before the first tag is dropped.
fn turns(chat: &str) -> Vec<(&'static str, String)> {
    let mut tags: Vec<(usize, &'static str)> = Vec::new();
    for tag in [USER, ASSISTANT, RESPONSE] {
        tags.extend(chat.match_indices(tag).map(|(at, _)| (at, tag)));
    }
    tags.sort_unstable();
    let ends = tags.iter().skip(1).map(|(at, _)| *at).chain([chat.len()]);
    tags.iter()
        .zip(ends)
        .map(|(&(at, tag), end)| {
            let text = chat.get(at + tag.len()..end).unwrap_or_default();
            (tag, text.replace(EOS, "").trim().to_owned())
        })
        .collect()
}

/// `{"name": "f", "arguments": '{"a": 1}'}` (or plain JSON) as a call.
fn call(text: &str) -> Result<Call, String> {
    let text = text.trim();
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return call_object(&value);
    }
    if let (Some(open), Some(close)) = (text.find('\''), text.rfind('\'')) {
        if open < close {
            let unquoted = format!(
                "{}{}{}",
                &text[..open],
                &text[open + 1..close],
                &text[close + 1..]
            );
            if let Ok(value) = serde_json::from_str::<Value>(&unquoted) {
                return call_object(&value);
            }
        }
    }
    match python_literal(text) {
        Some(value) => call_object(&value),
        None => Err("the <functioncall> is neither JSON nor a Python literal".to_owned()),
    }
}
