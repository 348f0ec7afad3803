//! Decoders from a raw model result to function calls, one per BFCL handler style.
//!
//! - [`python`]: prompt-mode replies such as `[f(a=1), g(b='x')]`;
//! - [`java`] and [`javascript`]: prompt-mode replies in the Java and JavaScript
//!   categories, parsed with the same tree-sitter grammars as the official handler;
//! - [`fc`]: native tool calls as the OpenAI-style FC handler stores them.

pub mod fc;
pub mod java;
pub mod javascript;
pub mod python;

use std::fmt;

use crate::category::Language;
use crate::value::Value;

/// A keyword name; `None` stands for Python's `None` key (`**kwargs`, Java positional).
pub type ArgName = Option<String>;

/// One decoded call: `{name: {arg: value, ...}}` in the official representation.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    pub args: Vec<(ArgName, Value)>,
}

impl Call {
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args
            .iter()
            .find(|(key, _)| key.as_deref() == Some(name))
            .map(|(_, value)| value)
    }

    /// The arguments as a Python dict value (for nested calls).
    pub fn args_dict(&self) -> Value {
        Value::Dict(
            self.args
                .iter()
                .map(|(k, v)| (k.clone().map(Value::Str).unwrap_or(Value::None), v.clone()))
                .collect(),
        )
    }
}

/// Renders the call in Python syntax: `f(a=1, b='x')`.
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, (name, value)) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={value}", name.as_deref().unwrap_or("None"))?;
        }
        f.write_str(")")
    }
}

/// What a decoder produced when it did not raise.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// A list of `{name: {args}}` calls (possibly empty).
    Calls(Vec<Call>),
    /// Decoding "succeeded" with something that is not a list of calls; the official
    /// format check (`is_function_calling_format_output`) rejects it.
    WrongFormat,
}

impl Decoded {
    /// The official `is_empty_output`: no call, or not in call-list format.
    pub fn is_empty_output(&self) -> bool {
        match self {
            Decoded::Calls(calls) => calls.is_empty(),
            Decoded::WrongFormat => true,
        }
    }
}

/// The decoder raised: the official verdict is `ast_decoder:decoder_failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub message: String,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// How a result file stores the model's answer, i.e. which official handler wrote it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResultFormat {
    /// Decided per line: text is a prompt-mode reply, a list holds native tool calls.
    /// Equal to [`ResultFormat::Prompt`] on prompt-mode files and to
    /// [`ResultFormat::ToolCalls`] on FC files, except for FC text replies.
    #[default]
    Auto,
    /// Prompt mode: `result` is the raw text reply, decoded by the category's language.
    Prompt,
    /// FC mode (OpenAI-style handler): `result` is `[{name: "json args"}, ...]`; a text
    /// reply means the model called no tool.
    ToolCalls,
}

/// Decodes one result-file `result` value the way the official handler would.
pub fn decode_result(
    result: &serde_json::Value,
    language: Language,
    format: ResultFormat,
) -> Result<Decoded, DecodeError> {
    match (format, result) {
        (ResultFormat::Auto, serde_json::Value::String(_)) => {
            decode_result(result, language, ResultFormat::Prompt)
        }
        (ResultFormat::Auto, _) => decode_result(result, language, ResultFormat::ToolCalls),
        (ResultFormat::Prompt, serde_json::Value::String(reply)) => match language {
            Language::Python => python::decode_prompt_reply(reply),
            Language::Java => java::decode_prompt_reply(reply),
            Language::JavaScript => javascript::decode_prompt_reply(reply),
        },
        (ResultFormat::ToolCalls, serde_json::Value::Array(tool_calls)) => {
            fc::decode_tool_calls(tool_calls)
        }
        // Iterating an empty reply yields no calls in the official FC handler.
        (ResultFormat::ToolCalls, serde_json::Value::String(reply)) if reply.is_empty() => {
            Ok(Decoded::Calls(Vec::new()))
        }
        (ResultFormat::ToolCalls, serde_json::Value::String(_)) => Err(DecodeError::new(
            "the model replied with text, not tool calls",
        )),
        (ResultFormat::Prompt, other) => Err(DecodeError::new(format!(
            "a prompt-mode result must be a string, got {}",
            json_type_name(other)
        ))),
        (ResultFormat::ToolCalls, other) => Err(DecodeError::new(format!(
            "a tool-call result must be a list, got {}",
            json_type_name(other)
        ))),
    }
}

fn json_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
