//! ToolBench answer trees (`data/answer/G1_answer/*.json`, `G2_answer`,
//! `G3_answer`): one JSON object per file,
//!
//! ```text
//! {"win": true, "tree": {...}, "compare_candidates": [...],
//!  "answer_generation": {
//!    "valid_data": true, "finish_type": "give_answer",
//!    "final_answer": "{\"return_type\": \"give_answer\", \"final_answer\": \"...\"}",
//!    "function": [{"name": "transitaire_for_transitaires",
//!                  "description": "This is the subfunction for tool \"transitaires\", ...",
//!                  "parameters": {"type": "object", "properties": {...}, "required": [...],
//!                                 "optional": [...]}},
//!                 ..., {"name": "Finish", ...}],
//!    "query": "Can you retrieve ...?",
//!    "train_messages": [[{"role": "system", "content": "..."},
//!                        {"role": "user", "content": "\n...\nBegin!\n"},
//!                        {"role": "assistant", "content": null | "thought",
//!                         "function_call": {"name": "f", "arguments": "{\"a\": 1}"}},
//!                        {"role": "function", "name": "f", "content": "{\"error\": \"\", ...}"},
//!                        ...,
//!                        {"role": "assistant", "function_call": {"name": "Finish",
//!                         "arguments": "{\"return_type\": \"give_answer\", \"final_answer\": \"...\"}"}}],
//!                       ...]}}
//! ```
//!
//! `train_messages` holds every prefix of the search path; the last (longest)
//! is read. Each assistant `function_call` is one round, and the `function`
//! messages after it are its observations; user messages after the first (the
//! search's "this is not the first time you try" prompts) are ignored. The
//! `Finish` pseudo-function is dropped from the tools and the calls: its
//! `final_answer` argument is the answer (failing that, `final_answer` of
//! `answer_generation`). A function's family is its ToolBench tool: the name
//! the description gives (`subfunction for tool "X"`), else what follows the
//! last `_for_` in the function name (`<api>_for_<tool>`). `valid_data: false`,
//! a `give_up_and_restart` finish and a path with no call are counted skips.
//! `query` is `answer_generation.query` (the user message without its
//! `Begin!` wrapper). A directory is read recursively (every `*.json`, sorted);
//! ids are `toolbench-<parent folder>-<file stem>`, problems name the file and
//! have line 0.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{arguments, function, kind, Draft, Imported, Outcome, RowResult};
use crate::error::{FormatError, Result};
use crate::sample::{Call, Function, Round};

const FINISH: &str = "Finish";

pub(crate) fn import(path: &Path) -> Result<Imported> {
    let meta = std::fs::metadata(path).map_err(|e| FormatError::io(path, e))?;
    let mut imported = Imported::default();
    if !meta.is_dir() {
        let text = std::fs::read_to_string(path).map_err(|e| FormatError::io(path, e))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            FormatError::data(path, e.line(), format!("not a JSON answer file: {e}"))
        })?;
        let name = display_name(path, path.parent().unwrap_or(path));
        imported.record(0, named(&name, file(path, &value)));
        return Ok(imported);
    }
    let mut files = Vec::new();
    collect(path, &mut files)?;
    if files.is_empty() {
        return Err(FormatError::data(
            path,
            0,
            "no *.json answer files under this directory",
        ));
    }
    files.sort();
    for file_path in files {
        let name = display_name(&file_path, path);
        let result = std::fs::read_to_string(&file_path)
            .map_err(|e| format!("unreadable: {e}"))
            .and_then(|text| {
                serde_json::from_str::<Value>(&text).map_err(|e| format!("invalid JSON: {e}"))
            })
            .and_then(|value| file(&file_path, &value));
        imported.record(0, named(&name, result));
    }
    Ok(imported)
}

/// Puts the file's name in front of a skip or malformed message.
fn named(name: &str, result: RowResult) -> RowResult {
    match result {
        Ok(Outcome::Skip(why)) => Ok(Outcome::Skip(format!("{name}: {why}"))),
        Err(why) => Err(format!("{name}: {why}")),
        sample => sample,
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| FormatError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FormatError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| FormatError::io(&path, e))?;
        if kind.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    Ok(())
}

fn display_name(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One answer file.
fn file(path: &Path, value: &Value) -> RowResult {
    let Some(Value::Object(answer)) = value.get("answer_generation") else {
        return Err("no `answer_generation` object".to_owned());
    };
    match answer.get("valid_data") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Outcome::Skip("valid_data is false".to_owned())),
        _ => return Err("answer_generation.valid_data is not a boolean".to_owned()),
    }
    let Some(Value::Array(functions)) = answer.get("function") else {
        return Err("no answer_generation.function list".to_owned());
    };
    let tools = functions
        .iter()
        .filter(|f| f.get("name").and_then(Value::as_str) != Some(FINISH))
        .map(tool)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let Some(Value::Array(paths)) = answer.get("train_messages") else {
        return Err("no answer_generation.train_messages list".to_owned());
    };
    let Some(Value::Array(messages)) = paths.last() else {
        return Err("train_messages is empty or its last path is not a list".to_owned());
    };
    let walk = walk(messages)?;
    if walk.gave_up {
        return Ok(Outcome::Skip(
            "the path ends in give_up_and_restart".to_owned(),
        ));
    }
    if walk.rounds.is_empty() {
        return Ok(Outcome::Skip("the path calls no function".to_owned()));
    }
    let query = match answer.get("query") {
        Some(Value::String(query)) if !query.trim().is_empty() => query.trim().to_owned(),
        _ => walk.user.ok_or("no query and no user message")?,
    };
    let answer_text = match walk.answer {
        Some(text) => text,
        None => fallback_answer(answer.get("final_answer")).ok_or("no final answer")?,
    };
    Draft {
        id: format!("toolbench-{}", file_id(path)),
        source: "toolbench",
        query,
        tools,
        rounds: walk.rounds,
        answer: answer_text,
        negative: false,
    }
    .finish()
}

/// `<parent folder>-<file stem>`: unique across G1/G2/G3, whose stems repeat.
fn file_id(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    match path.parent().and_then(Path::file_name) {
        Some(parent) => format!("{}-{stem}", parent.to_string_lossy()),
        None => stem.into_owned(),
    }
}

fn tool(value: &Value) -> std::result::Result<Function, String> {
    let Value::Object(object) = value else {
        return Err(format!("a function is {}", kind(value)));
    };
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let description = object
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    function(object, family(name, description))
}

/// The ToolBench tool a function belongs to.
fn family(name: &str, description: &str) -> String {
    const LEAD: &str = "subfunction for tool \"";
    if let Some(at) = description.find(LEAD) {
        let rest = &description[at + LEAD.len()..];
        if let Some(end) = rest.find('"') {
            if end > 0 {
                return rest[..end].to_owned();
            }
        }
    }
    name.rfind("_for_")
        .map(|at| name[at + "_for_".len()..].to_owned())
        .unwrap_or_default()
}

#[derive(Default)]
struct Walk {
    rounds: Vec<Round>,
    user: Option<String>,
    answer: Option<String>,
    gave_up: bool,
}

fn walk(messages: &[Value]) -> std::result::Result<Walk, String> {
    let mut walk = Walk::default();
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(format!("message {} is {}", i + 1, kind(message)));
        };
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match role {
            "system" => {}
            "user" => {
                if walk.user.is_none() {
                    let text = message
                        .get("content")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    walk.user = Some(text.trim().trim_end_matches("Begin!").trim().to_owned());
                }
            }
            "assistant" => {
                let Some(call) = message.get("function_call") else {
                    continue;
                };
                let name = call
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim();
                if name.is_empty() {
                    return Err(format!("message {}: a function_call has no name", i + 1));
                }
                let arguments = arguments(call.get("arguments"))
                    .map_err(|e| format!("message {}: call `{name}`: {e}", i + 1))?;
                if name == FINISH {
                    match arguments.get("return_type").and_then(Value::as_str) {
                        Some("give_up_and_restart") => walk.gave_up = true,
                        _ => {
                            walk.answer = arguments
                                .get("final_answer")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        }
                    }
                    break;
                }
                walk.rounds.push(Round {
                    calls: vec![Call {
                        name: name.to_owned(),
                        arguments,
                    }],
                    observations: Vec::new(),
                });
            }
            "function" | "tool" => {
                let Some(round) = walk.rounds.last_mut() else {
                    return Err(format!(
                        "message {}: a function output before any call",
                        i + 1
                    ));
                };
                let content = match message.get("content") {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                round.observations.push(content);
            }
            other => return Err(format!("message {}: unknown role {other:?}", i + 1)),
        }
    }
    Ok(walk)
}

/// `answer_generation.final_answer`: a JSON string holding `{final_answer}`, or plain text.
fn fallback_answer(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?.trim();
    if text.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object
            .get("final_answer")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => Some(text.to_owned()),
    }
}
