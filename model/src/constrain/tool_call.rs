//! `tool_choice` `"required"` or a named function as a constraint: exactly one
//! `<tool_call>` block, in the chat template's syntax, whose name is one of the
//! allowed tools and whose arguments conform to that tool's parameter schema.
//! The name is read first and picks the argument grammar, so each tool's
//! arguments are checked against its own schema.

use serde_json::Value;

use super::json_schema::json_constraint;
use super::machine::Machine;
use super::Constraint;
use crate::error::{ModelError, Result};

const HEAD: &[u8] = b"<tool_call>\n{\"name\": \"";
const MID: &[u8] = b"\", \"arguments\": ";
const TAIL: &[u8] = b"}\n</tool_call>";

/// One callable tool: its JSON-escaped name and its argument grammar.
#[derive(Clone)]
struct Callable {
    name: Vec<u8>,
    arguments: Machine,
}

#[derive(Clone)]
enum Phase {
    Head(usize),
    /// The name bytes read so far.
    Name(Vec<u8>),
    Mid(usize, usize),
    Arguments(Box<Machine>),
    Tail(usize),
}

/// The recogniser of one tool call.
#[derive(Clone)]
pub struct ToolCallConstraint {
    tools: std::sync::Arc<Vec<Callable>>,
    phase: Phase,
}

/// A constraint for one call to any of `tools` (OpenAI `{"type": "function",
/// "function": {...}}` objects or bare function objects). A tool whose
/// `parameters` use a schema keyword the recogniser lacks is refused by name.
pub fn tool_call_constraint(tools: &[Value]) -> Result<ToolCallConstraint> {
    if tools.is_empty() {
        return Err(ModelError::Constraint(
            "a required tool call needs at least one tool".into(),
        ));
    }
    let mut callables = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let function = super::function_of(tool);
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ModelError::Constraint(format!("tools[{i}] has no function name")))?;
        let mut schema = function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object"}));
        // Only the declared arguments, as in OpenAI's strict function calling,
        // unless the schema itself allows more.
        if let Some(object) = schema.as_object_mut() {
            if object.contains_key("properties") {
                object
                    .entry("additionalProperties")
                    .or_insert(Value::Bool(false));
            }
        }
        let arguments = json_constraint(&schema).map_err(|e| {
            ModelError::Constraint(format!("tools[{i}] (`{name}`) parameters: {e}"))
        })?;
        let escaped = serde_json::to_string(name).unwrap_or_default();
        callables.push(Callable {
            name: escaped.as_bytes()[1..escaped.len() - 1].to_vec(),
            arguments,
        });
    }
    Ok(ToolCallConstraint {
        tools: std::sync::Arc::new(callables),
        phase: Phase::Head(0),
    })
}

impl Constraint for ToolCallConstraint {
    fn advance(&mut self, byte: u8) -> bool {
        match &mut self.phase {
            Phase::Head(at) => {
                if HEAD[*at] != byte {
                    return false;
                }
                *at += 1;
                if *at == HEAD.len() {
                    self.phase = Phase::Name(Vec::new());
                }
                true
            }
            Phase::Name(read) => {
                if byte == b'"' {
                    if let Some(index) = self.tools.iter().position(|t| t.name == *read) {
                        self.phase = Phase::Mid(index, 1);
                        return true;
                    }
                    return false;
                }
                read.push(byte);
                self.tools.iter().any(|t| t.name.starts_with(read))
            }
            Phase::Mid(index, at) => {
                if MID[*at] != byte {
                    return false;
                }
                *at += 1;
                if *at == MID.len() {
                    let arguments = self.tools[*index].arguments.clone();
                    self.phase = Phase::Arguments(Box::new(arguments));
                }
                true
            }
            Phase::Arguments(machine) => {
                if machine.is_closed() {
                    self.phase = Phase::Tail(0);
                    return self.advance(byte);
                }
                machine.advance(byte)
            }
            Phase::Tail(at) => {
                if *at >= TAIL.len() || TAIL[*at] != byte {
                    return false;
                }
                *at += 1;
                true
            }
        }
    }

    fn is_complete(&self) -> bool {
        matches!(self.phase, Phase::Tail(at) if at == TAIL.len())
    }

    fn is_closed(&self) -> bool {
        self.is_complete()
    }

    fn boxed_clone(&self) -> Box<dyn Constraint> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::parse_reply;
    use serde_json::json;

    fn tools() -> Vec<Value> {
        vec![
            json!({"type": "function", "function": {"name": "add", "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"]}}}),
            json!({"type": "function", "function": {"name": "add_all", "parameters": {
                "type": "object",
                "properties": {"xs": {"type": "array", "items": {"type": "number"}}},
                "required": ["xs"]}}}),
        ]
    }

    fn reads(text: &str) -> bool {
        let mut c = tool_call_constraint(&tools()).unwrap();
        text.bytes().all(|b| c.advance(b)) && c.is_closed()
    }

    #[test]
    fn a_call_in_the_template_syntax_is_accepted_and_parses() {
        let text =
            "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>";
        assert!(reads(text));
        let (content, calls) = parse_reply(text);
        assert_eq!(content, None);
        assert_eq!(calls[0].function.name, "add");
        assert_eq!(calls[0].function.arguments, r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn the_name_picks_the_argument_schema() {
        assert!(reads(
            "<tool_call>\n{\"name\": \"add_all\", \"arguments\": {\"xs\": [1, 2.5]}}\n</tool_call>"
        ));
        // `add`'s arguments under `add_all`'s name, and a string for an integer.
        assert!(!reads(
            "<tool_call>\n{\"name\": \"add_all\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>"
        ));
        assert!(!reads(
            "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": \"1\", \"b\": 2}}\n</tool_call>"
        ));
    }

    #[test]
    fn prose_unknown_names_and_a_missing_close_are_refused() {
        assert!(!reads("Sure, I will call add."));
        assert!(!reads(
            "<tool_call>\n{\"name\": \"sub\", \"arguments\": {}}\n</tool_call>"
        ));
        assert!(!reads(
            "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}"
        ));
        // Nothing may follow the closed block.
        let mut c = tool_call_constraint(&tools()).unwrap();
        let text =
            "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>";
        assert!(text.bytes().all(|b| c.advance(b)));
        assert!(!c.advance(b'\n'));
    }

    #[test]
    fn no_tools_or_a_nameless_tool_is_an_error() {
        assert!(tool_call_constraint(&[]).is_err());
        let error = tool_call_constraint(&[json!({"function": {"parameters": {}}})])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("tools[0]"), "{error}");
    }
}
