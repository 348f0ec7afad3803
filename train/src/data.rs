//! SFT JSONL in the OpenAI chat shape TRL's `SFTTrainer` reads: one
//! `{"messages": [...], "tools": [...]?}` per line. `tools` may be a JSON
//! string (as `toolgrad format` writes it for Arrow) and tool-call
//! `arguments` a string or an object. Every problem names the file and line.

use std::path::Path;

use serde_json::Value;
use toolgrad_core::llm::{ChatMessage, FunctionCall, ToolCall};

use crate::error::{Result, TrainError};

/// One training conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// 1-based line in its file.
    pub line: usize,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<Value>,
}

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// Reads every non-blank line of `path`; an empty file is an error.
pub fn read_jsonl(path: &Path) -> Result<Vec<Conversation>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line = index + 1;
        let fail = |message: String| TrainError::Data {
            path: path.to_path_buf(),
            line,
            message,
        };
        let value: Value = serde_json::from_str(raw).map_err(|e| fail(format!("not JSON: {e}")))?;
        out.push(parse(&value, line).map_err(fail)?);
    }
    if out.is_empty() {
        return Err(TrainError::Dataset {
            path: path.to_path_buf(),
            message: "holds no samples".into(),
        });
    }
    Ok(out)
}

fn parse(value: &Value, line: usize) -> std::result::Result<Conversation, String> {
    let object = value.as_object().ok_or("a sample must be a JSON object")?;
    let messages = object
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` must be an array")?;
    if messages.is_empty() {
        return Err("`messages` is empty".into());
    }
    let messages = messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(m).map_err(|e| format!("messages[{i}]: {e}")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let replies = messages
        .iter()
        .filter(|m| m.role == "assistant")
        .filter(|m| m.content.as_deref().is_some_and(|c| !c.is_empty()) || !m.tool_calls.is_empty())
        .count();
    if replies == 0 {
        return Err("no assistant turn with content or tool calls: nothing to learn".into());
    }
    let tools = match object.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => tools.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Array(tools)) => tools,
            Ok(Value::Null) => Vec::new(),
            _ => return Err("`tools` is a string that does not hold a JSON array".into()),
        },
        Some(_) => return Err("`tools` must be an array (or a JSON string of one)".into()),
    };
    Ok(Conversation {
        line,
        messages,
        tools,
    })
}

fn message(value: &Value) -> std::result::Result<ChatMessage, String> {
    let role = value
        .get("role")
        .and_then(Value::as_str)
        .ok_or("`role` must be a string")?;
    if !ROLES.contains(&role) {
        return Err(format!("role `{role}` is not one of {}", ROLES.join(", ")));
    }
    let content = match value.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("`content` must be a string or null".into()),
    };
    let mut tool_calls = Vec::new();
    if let Some(calls) = value.get("tool_calls").filter(|v| !v.is_null()) {
        let calls = calls.as_array().ok_or("`tool_calls` must be an array")?;
        for (i, call) in calls.iter().enumerate() {
            let function = call.get("function").unwrap_or(call);
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or(format!("tool_calls[{i}]: `name` must be a string"))?;
            let arguments = match function.get("arguments") {
                None | Some(Value::Null) => "{}".to_owned(),
                Some(Value::String(text)) => {
                    serde_json::from_str::<Value>(text)
                        .map_err(|e| format!("tool_calls[{i}]: `arguments` is not JSON: {e}"))?;
                    text.clone()
                }
                Some(other) => other.to_string(),
            };
            tool_calls.push(ToolCall {
                id: format!("call_{i}"),
                kind: "function".into(),
                function: FunctionCall {
                    name: name.to_owned(),
                    arguments,
                },
            });
        }
    }
    Ok(ChatMessage {
        role: role.to_owned(),
        content,
        tool_calls,
        tool_call_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Conversation>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        std::fs::write(&path, text).unwrap();
        read_jsonl(&path)
    }

    #[test]
    fn openai_shapes_parse() {
        let text = concat!(
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}],"tools":"[{\"type\":\"function\"}]"}"#,
            "\n\n",
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"[f(a=1)]"}]}"#,
            "\n"
        );
        let samples = read(text).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].tools.len(), 1);
        assert_eq!(
            samples[0].messages[1].tool_calls[0].function.arguments,
            r#"{"a":1}"#
        );
        assert_eq!(samples[1].line, 3);
    }

    #[test]
    fn bad_lines_name_file_line_and_problem() {
        for (text, needle) in [
            ("{nope\n", "d.jsonl:1: not JSON"),
            ("\n[1]\n", "d.jsonl:2: a sample must be a JSON object"),
            (
                r#"{"messages":[{"role":"user","content":"hi"}]}"#,
                "no assistant turn",
            ),
            (
                r#"{"messages":[{"role":"bot","content":"hi"}]}"#,
                "role `bot`",
            ),
            (r#"{"messages":[]}"#, "`messages` is empty"),
            ("", "holds no samples"),
            (
                r#"{"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{x"}}]}]}"#,
                "`arguments` is not JSON",
            ),
        ] {
            let error = read(text).unwrap_err().to_string();
            assert!(error.contains(needle), "{text}: {error}");
        }
    }
}
