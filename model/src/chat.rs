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
        if let Some(at) = template.find(OWN_DEFAULT_MARKER) {
            let rest = &template[at + OWN_DEFAULT_MARKER.len()..];
            return Ok(Self {
                default_system: parse_jinja_string(rest),
            });
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

    /// The Jinja form of this template, for `tokenizer_config.json`: it renders
    /// messages, tools, tool calls and tool replies exactly as
    /// [`render`](Self::render) does (HF's `tojson` writes Python's separators,
    /// which [`python_json`] matches).
    pub fn to_jinja(&self) -> String {
        let default = match &self.default_system {
            None => "none".to_owned(),
            Some(system) => jinja_string(system),
        };
        format!(
            "{{%- if messages and messages[0]['role'] == 'system' -%}}{{%- set system = messages[0]['content'] -%}}{{%- set loop_messages = messages[1:] -%}}\
{{%- else -%}}{{%- set system = {default} -%}}{{%- set loop_messages = messages -%}}{{%- endif -%}}\
{{%- if tools -%}}{{{{- '<|im_start|>system\\n' -}}}}{{%- if system -%}}{{{{- system + '\\n\\n' -}}}}{{%- endif -%}}{{{{- {preamble} -}}}}\
{{%- for tool in tools -%}}{{{{- '\\n' + (tool | tojson) -}}}}{{%- endfor -%}}{{{{- '\\n' + {instructions} + '<|im_end|>\\n' -}}}}\
{{%- elif system -%}}{{{{- '<|im_start|>system\\n' + system + '<|im_end|>\\n' -}}}}{{%- endif -%}}\
{{%- for message in loop_messages -%}}{{%- if message['role'] == 'tool' -%}}\
{{{{- '<|im_start|>user\\n<tool_response>\\n' + (message['content'] or '') + '\\n</tool_response><|im_end|>\\n' -}}}}\
{{%- else -%}}{{{{- '<|im_start|>' + message['role'] + '\\n' -}}}}{{%- set ns = namespace(text=(message['content'] or '')) -%}}{{{{- ns.text -}}}}\
{{%- for call in (message['tool_calls'] or []) -%}}{{%- if ns.text -%}}{{{{- '\\n' -}}}}{{%- endif -%}}\
{{%- set f = call['function'] if call['function'] is defined else call -%}}\
{{{{- '<tool_call>\\n{{\"name\": ' + (f['name'] | tojson) + ', \"arguments\": ' + (f['arguments'] if f['arguments'] is string else (f['arguments'] | tojson)) + '}}\\n</tool_call>' -}}}}\
{{%- set ns.text = 'call' -%}}{{%- endfor -%}}{{{{- '<|im_end|>\\n' -}}}}{{%- endif -%}}{{%- endfor -%}}\
{{%- if add_generation_prompt -%}}{{{{- '<|im_start|>assistant\\n' -}}}}{{%- endif -%}}",
            preamble = jinja_string(TOOLS_PREAMBLE),
            instructions = jinja_string(TOOLS_INSTRUCTIONS),
        )
    }

    /// Renders the conversation and opens the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage], tools: &[Value]) -> String {
        let mut out = self.render_conversation(messages, tools).text;
        out.push_str("<|im_start|>assistant\n");
        out
    }

    /// Renders a whole conversation as training sees it: exactly the text
    /// [`render`](Self::render) gives for its first turns, and the byte range
    /// of every assistant reply (its content and the closing `<|im_end|>`).
    pub fn render_conversation(&self, messages: &[ChatMessage], tools: &[Value]) -> Rendered {
        let mut out = String::new();
        let mut assistant = Vec::new();
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
                system.push_str(&python_json(tool));
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
                        // Arguments that are JSON are written as they are, as HF
                        // templates do with a string `arguments`.
                        let raw = &call.function.arguments;
                        let arguments = match serde_json::from_str::<Value>(raw) {
                            Ok(_) => raw.clone(),
                            Err(_) => python_json(&Value::String(raw.clone())),
                        };
                        let name = python_json(&Value::String(call.function.name.clone()));
                        text.push_str(&format!(
                            "<tool_call>\n{{\"name\": {name}, \"arguments\": {arguments}}}\n</tool_call>"
                        ));
                    }
                    let start = out.len() + "<|im_start|>".len() + role.len() + 1;
                    turn(&mut out, role, &text);
                    if role == "assistant" {
                        // The reply and its `<|im_end|>`, not the newline after it.
                        assistant.push(start..out.len() - 1);
                    }
                }
            }
        }
        Rendered {
            text: out,
            assistant,
        }
    }
}

/// A rendered conversation and where its assistant replies are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub assistant: Vec<std::ops::Range<usize>>,
}

/// Where [`ChatTemplate::to_jinja`] puts the default system prompt.
const OWN_DEFAULT_MARKER: &str = "{%- else -%}{%- set system = ";

/// The value of a single-quoted Jinja string literal at the start of `text`
/// (`None` for `none` or anything else).
fn parse_jinja_string(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('\'')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '\'' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
}

/// `text` as a single-quoted Jinja string literal.
fn jinja_string(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('\n', "\\n");
    format!("'{escaped}'")
}

/// JSON as Python's `json.dumps` writes it by default (`", "` and `": "`),
/// which is what HF chat templates' `tojson` produces.
pub fn python_json(value: &Value) -> String {
    struct PythonFormatter;
    impl serde_json::ser::Formatter for PythonFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
        ) -> std::io::Result<()> {
            writer.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Serialising a `Value` into memory cannot fail.
    let _ = serde::Serialize::serialize(value, &mut serializer);
    String::from_utf8(out).unwrap_or_default()
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
            "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"add\"}}\n</tools>"
        ));
        assert!(text.contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\":1}}\n</tool_call><|im_end|>"));
        assert!(text.contains("<|im_start|>user\n<tool_response>\n2\n</tool_response><|im_end|>"));
    }

    #[test]
    fn jinja_form_round_trips() {
        let t = ChatTemplate::from_jinja(SMOL).unwrap();
        let again = ChatTemplate::from_jinja(&t.to_jinja()).unwrap();
        assert_eq!(again.default_system, t.default_system);
        let plain = ChatTemplate::from_jinja(CHATML_TEMPLATE).unwrap();
        assert_eq!(plain.default_system, None);
        let none = ChatTemplate::from_jinja(&plain.to_jinja()).unwrap();
        assert_eq!(none.default_system, None);
        let quoted = ChatTemplate {
            default_system: Some("It's a \\ test\nline".into()),
        };
        let back = ChatTemplate::from_jinja(&quoted.to_jinja()).unwrap();
        assert_eq!(back.default_system, quoted.default_system);
    }

    #[test]
    fn conversations_mark_assistant_replies_and_share_the_prompt() {
        let t = ChatTemplate::from_jinja(SMOL).unwrap();
        let messages = [
            ChatMessage::new("user", "Hi"),
            ChatMessage::new("assistant", "Hello!"),
            ChatMessage::new("user", "Bye"),
            ChatMessage::new("assistant", "[bye()]"),
        ];
        let rendered = t.render_conversation(&messages, &[]);
        let replies: Vec<&str> = rendered
            .assistant
            .iter()
            .map(|r| &rendered.text[r.clone()])
            .collect();
        assert_eq!(replies, ["Hello!<|im_end|>", "[bye()]<|im_end|>"]);
        let prompt = t.render(&messages[..1], &[]);
        assert_eq!(&rendered.text[..rendered.assistant[0].start], prompt);
        let second = t.render(&messages[..3], &[]);
        assert_eq!(&rendered.text[..rendered.assistant[1].start], second);
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
