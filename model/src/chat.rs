//! The chat template: ChatML rendering of messages (tools included, in the
//! widely used `<tools>` / `<tool_call>` convention) and parsing of a reply's
//! tool calls back into structured form.

use serde_json::Value;
use toolgrad_core::llm::{ChatMessage, FunctionCall, ToolCall};

use crate::error::{ModelError, Result};

const TOOLS_PREAMBLE: &str = "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const TOOLS_INSTRUCTIONS: &str = "</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";

/// Plain ChatML, as a Jinja template (no default system prompt).
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// ChatML with the model's own default system prompt.
#[derive(Debug, Clone, Default)]
pub struct ChatTemplate {
    pub default_system: Option<String>,
}

impl ChatTemplate {
    /// Recognises a ChatML Jinja template and extracts its default system prompt.
    pub fn from_jinja(template: &str) -> Result<Self> {
        if !template.contains("<|im_start|>") {
            return Err(ModelError::Tokenizer(
                "the chat template is not ChatML (`<|im_start|>`); only ChatML models are supported".into(),
            ));
        }
        let marker = "<|im_start|>system\\n";
        let default_system = template.find(marker).and_then(|at| {
            let rest = &template[at + marker.len()..];
            rest.find("<|im_end|>").map(|end| rest[..end].to_owned())
        });
        Ok(Self { default_system })
    }

    /// From a model's optional Jinja template; plain ChatML when there is none.
    pub fn from_optional(template: Option<&str>) -> Result<Self> {
        template.map_or(Ok(Self::default()), Self::from_jinja)
    }

    /// The Jinja form of this template, for `tokenizer_config.json`.
    pub fn to_jinja(&self) -> String {
        match &self.default_system {
            None => CHATML_TEMPLATE.to_owned(),
            Some(system) => format!(
                "{{% if messages[0]['role'] != 'system' %}}{{{{ '<|im_start|>system\\n{}<|im_end|>\\n' }}}}{{% endif %}}{CHATML_TEMPLATE}",
                system.replace('\\', "\\\\").replace('\'', "\\'")
            ),
        }
    }

    /// Renders the conversation and opens the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage], tools: &[Value]) -> String {
        let mut out = String::new();
        let (system, rest) = match messages.first() {
            Some(m) if m.role == "system" => (m.content.clone(), &messages[1..]),
            _ => (self.default_system.clone(), messages),
        };
        let mut system = system.unwrap_or_default();
        if !tools.is_empty() {
            if !system.is_empty() {
                system.push_str("\n\n");
            }
            system.push_str(TOOLS_PREAMBLE);
            for tool in tools {
                system.push('\n');
                system.push_str(&tool.to_string());
            }
            system.push('\n');
            system.push_str(TOOLS_INSTRUCTIONS);
        }
        if !system.is_empty() || !tools.is_empty() {
            turn(&mut out, "system", &system);
        }
        for message in rest {
            match message.role.as_str() {
                "tool" => turn(
                    &mut out,
                    "user",
                    &format!(
                        "<tool_response>\n{}\n</tool_response>",
                        message.content.as_deref().unwrap_or("")
                    ),
                ),
                role => {
                    let mut text = message.content.clone().unwrap_or_default();
                    for call in &message.tool_calls {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        let arguments: Value = serde_json::from_str(&call.function.arguments)
                            .unwrap_or(Value::String(call.function.arguments.clone()));
                        let body =
                            serde_json::json!({"name": call.function.name, "arguments": arguments});
                        text.push_str(&format!("<tool_call>\n{body}\n</tool_call>"));
                    }
                    turn(&mut out, role, &text);
                }
            }
        }
        out.push_str("<|im_start|>assistant\n");
        out
    }
}

fn turn(out: &mut String, role: &str, content: &str) {
    out.push_str("<|im_start|>");
    out.push_str(role);
    out.push('\n');
    out.push_str(content);
    out.push_str("<|im_end|>\n");
}

/// Splits a reply into free text and the `<tool_call>` blocks that parse as
/// `{"name": .., "arguments": {..}}`; blocks that do not parse stay in the text.
pub fn parse_reply(text: &str) -> (Option<String>, Vec<ToolCall>) {
    let mut calls = Vec::new();
    let mut content = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<tool_call>") {
        let after = &rest[start + "<tool_call>".len()..];
        let Some(end) = after.find("</tool_call>") else {
            break;
        };
        let parsed = serde_json::from_str::<Value>(after[..end].trim())
            .ok()
            .and_then(|v| {
                let name = v.get("name")?.as_str()?.to_owned();
                let arguments = v
                    .get("arguments")
                    .cloned()
                    .unwrap_or(Value::Object(Default::default()));
                Some((name, arguments))
            });
        match parsed {
            Some((name, arguments)) => {
                content.push_str(&rest[..start]);
                calls.push(ToolCall {
                    id: format!("call_{}", calls.len()),
                    kind: "function".into(),
                    function: FunctionCall {
                        name,
                        arguments: arguments.to_string(),
                    },
                });
            }
            None => {
                content.push_str(&rest[..start + "<tool_call>".len() + end + "</tool_call>".len()])
            }
        }
        rest = &after[end + "</tool_call>".len()..];
    }
    content.push_str(rest);
    let content = content.trim();
    ((!content.is_empty()).then(|| content.to_owned()), calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOL: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}";

    #[test]
    fn default_system_prompt_comes_from_the_template() {
        let t = ChatTemplate::from_jinja(SMOL).unwrap();
        let text = t.render(&[ChatMessage::new("user", "Hi")], &[]);
        assert_eq!(
            text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn tools_and_tool_turns_render() {
        let t = ChatTemplate {
            default_system: None,
        };
        let mut call = ChatMessage::new("assistant", "");
        call.content = None;
        call.tool_calls.push(ToolCall {
            id: "c1".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: "add".into(),
                arguments: r#"{"a":1}"#.into(),
            },
        });
        let tool = serde_json::json!({"type": "function", "function": {"name": "add"}});
        let text = t.render(
            &[
                ChatMessage::new("user", "1+?"),
                call,
                ChatMessage::new("tool", "2"),
            ],
            &[tool],
        );
        assert!(text.starts_with("<|im_start|>system\n# Tools"));
        assert!(text.contains(
            "<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"add\"}}\n</tools>"
        ));
        assert!(text.contains("<|im_start|>assistant\n<tool_call>\n{\"name\":\"add\",\"arguments\":{\"a\":1}}\n</tool_call><|im_end|>"));
        assert!(text.contains("<|im_start|>user\n<tool_response>\n2\n</tool_response><|im_end|>"));
    }

    #[test]
    fn jinja_form_round_trips() {
        let t = ChatTemplate::from_jinja(SMOL).unwrap();
        let again = ChatTemplate::from_jinja(&t.to_jinja()).unwrap();
        assert_eq!(again.default_system, t.default_system);
        let plain = ChatTemplate::from_jinja(CHATML_TEMPLATE).unwrap();
        assert_eq!(plain.default_system, None);
    }

    #[test]
    fn non_chatml_templates_are_refused() {
        assert!(ChatTemplate::from_jinja("{{ bos_token }}[INST]").is_err());
    }

    #[test]
    fn replies_split_into_text_and_calls() {
        let (text, calls) = parse_reply(
            "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 2}}\n</tool_call>\n<tool_call>\nnot json\n</tool_call>",
        );
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].function.name, "f");
        assert_eq!(calls[0].function.arguments, r#"{"x":2}"#);
        assert_eq!(
            text.unwrap(),
            "Sure.\n\n<tool_call>\nnot json\n</tool_call>"
        );
        assert_eq!(parse_reply("  "), (None, vec![]));
    }
}
