//! Chat on top of the engine: OpenAI-style requests (messages, tools,
//! `response_format`) rendered through the chat template, generated with the
//! matching constraint, and parsed back into text and tool calls. Also the
//! [`ChatModel`] implementation that lets the generator and the BFCL runner use
//! the local model like any endpoint.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;
use toolgrad_core::llm::{
    ChatMessage, ChatModel, ChatRequest, ChatResponse, LlmError, ToolCall, Usage,
};

use crate::batch::{Batcher, Job, DEFAULT_MAX_BATCH};
use crate::chat::parse_reply;
use crate::constrain::function_of;
use crate::constrain::json_schema::json_constraint;
use crate::constrain::python_calls::python_calls_constraint;
use crate::constrain::tool_call::tool_call_constraint;
use crate::constrain::Constraint;
use crate::engine::{Engine, FinishReason, GenerateParams, Generation};
use crate::error::{ModelError, Result};
use crate::sampling::SamplingParams;

/// Completion tokens when a request sets no limit.
pub const DEFAULT_MAX_TOKENS: usize = 512;

/// Decoding options of one chat request.
#[derive(Debug, Clone, Default)]
pub struct ChatOptions {
    /// Absent or 0: greedy.
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub max_tokens: Option<usize>,
    pub stop: Vec<String>,
    pub tool_choice: ToolChoice,
    /// Stops the generation when set (see [`GenerateParams::cancel`]).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// OpenAI's `tool_choice`: whether the reply may, must, or must not call a tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides (the default).
    #[default]
    Auto,
    /// No tool call: the reply is text, and generation stops at `<tool_call>`.
    None,
    /// Exactly one call to one of the tools, by constrained decoding.
    Required,
    /// Exactly one call to this function, by constrained decoding.
    Function(String),
}

impl ToolChoice {
    /// Reads `"auto"`, `"none"`, `"required"` or `{"type": "function",
    /// "function": {"name": ..}}`; anything else is an error naming the value.
    pub fn from_openai(value: Option<&Value>) -> Result<Self> {
        let bad = |v: &Value| {
            let mut got = v.to_string();
            toolgrad_core::text::truncate_chars(&mut got, 200);
            ModelError::Constraint(format!(
                "tool_choice: expected \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ..}}}}, got {got}"
            ))
        };
        Ok(match value {
            None | Some(Value::Null) => Self::Auto,
            Some(Value::String(s)) => match s.as_str() {
                "auto" => Self::Auto,
                "none" => Self::None,
                "required" => Self::Required,
                _ => return Err(bad(value.unwrap_or(&Value::Null))),
            },
            Some(v @ Value::Object(_)) => match v.pointer("/function/name").and_then(Value::as_str)
            {
                Some(name) if v.get("type").and_then(Value::as_str) == Some("function") => {
                    Self::Function(name.to_owned())
                }
                _ => return Err(bad(v)),
            },
            Some(v) => return Err(bad(v)),
        })
    }

    /// Whether the reply may hold tool calls: there are tools, and the choice is not `none`.
    pub fn may_call(&self, tools: &[Value]) -> bool {
        !tools.is_empty() && *self != Self::None
    }

    /// The constraint this choice puts on the reply, if any.
    fn constraint(&self, tools: &[Value]) -> Result<Option<Box<dyn Constraint>>> {
        Ok(match self {
            Self::Auto | Self::None => None,
            Self::Required => Some(Box::new(tool_call_constraint(tools)?)),
            Self::Function(name) => {
                let chosen: Vec<Value> = tools
                    .iter()
                    .filter(|t| function_of(t).get("name").and_then(Value::as_str) == Some(name))
                    .cloned()
                    .collect();
                if chosen.is_empty() {
                    return Err(ModelError::Constraint(format!(
                        "tool_choice names `{name}`, which is not among the request's tools"
                    )));
                }
                Some(Box::new(tool_call_constraint(&chosen)?))
            }
        })
    }
}

/// The reply to one chat request.
#[derive(Debug, Clone)]
pub struct ChatReply {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: FinishReason,
}

/// The constraint a `response_format` asks for: OpenAI's `json_schema` and
/// `json_object`, and toolgrad's `{"type": "python_calls", "functions": [..]}`
/// (BFCL's prompt-mode answer syntax).
pub fn constraint_for(response_format: Option<&Value>) -> Result<Option<Box<dyn Constraint>>> {
    let Some(format) = response_format else {
        return Ok(None);
    };
    let kind = format.get("type").and_then(Value::as_str).unwrap_or("");
    Ok(match kind {
        "text" => None,
        "json_object" => Some(Box::new(json_constraint(&serde_json::json!({"type": "object"}))?)),
        "json_schema" => {
            let schema = format
                .pointer("/json_schema/schema")
                .ok_or_else(|| ModelError::Constraint("response_format.json_schema.schema is missing".into()))?;
            Some(Box::new(json_constraint(schema)?))
        }
        "python_calls" => {
            let functions = format
                .get("functions")
                .and_then(Value::as_array)
                .ok_or_else(|| ModelError::Constraint("response_format.functions must be a list".into()))?;
            Some(Box::new(python_calls_constraint(functions)?))
        }
        other => {
            return Err(ModelError::Constraint(format!(
                "response_format.type `{other}` is not supported (text, json_object, json_schema, python_calls)"
            )))
        }
    })
}

/// A chat request turned into a generation: the rendered prompt's tokens,
/// the decoding settings and the constraint, and how to read the reply back.
pub struct ChatJob {
    pub prompt: Vec<u32>,
    pub params: GenerateParams,
    pub constraint: Option<Box<dyn Constraint>>,
    /// Whether the reply is parsed for tool calls.
    pub may_call: bool,
}

impl ChatJob {
    /// The chat reply of the generation this job produced.
    pub fn reply(may_call: bool, generation: Generation) -> ChatReply {
        let (content, tool_calls) = if !may_call {
            (Some(generation.text), Vec::new())
        } else {
            parse_reply(&generation.text)
        };
        ChatReply {
            content,
            tool_calls,
            prompt_tokens: generation.prompt_tokens,
            completion_tokens: generation.completion_tokens,
            finish: generation.finish,
        }
    }
}

impl Engine {
    /// Renders and tokenizes a conversation and builds its constraint.
    pub fn chat_job(
        &self,
        messages: &[ChatMessage],
        tools: &[Value],
        response_format: Option<&Value>,
        options: &ChatOptions,
    ) -> Result<ChatJob> {
        let format_constraint = constraint_for(response_format)?;
        let choice_constraint = options.tool_choice.constraint(tools)?;
        let constraint = match (format_constraint, choice_constraint) {
            (Some(_), Some(_)) => {
                return Err(ModelError::Constraint(
                    "response_format and a required tool_choice cannot both shape the reply".into(),
                ))
            }
            (format, choice) => format.or(choice),
        };
        let may_call = options.tool_choice.may_call(tools);
        let mut stop = options.stop.clone();
        if !may_call && !tools.is_empty() {
            stop.push("<tool_call>".into());
        }
        let prompt = self.template.render(messages, tools);
        let ids = self.tokenizer.encode(&prompt)?;
        let params = GenerateParams {
            sampling: SamplingParams {
                temperature: options.temperature.unwrap_or(0.0),
                top_p: options.top_p.unwrap_or(1.0),
                seed: options.seed.unwrap_or(0),
            },
            max_tokens: options.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            stop,
            ignore_eos: false,
            cancel: options.cancel.clone(),
        };
        Ok(ChatJob {
            prompt: ids,
            params,
            constraint,
            may_call,
        })
    }

    /// Answers a conversation; `on_text` streams the reply text.
    pub fn chat(
        &self,
        messages: &[ChatMessage],
        tools: &[Value],
        response_format: Option<&Value>,
        options: &ChatOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<ChatReply> {
        let job = self.chat_job(messages, tools, response_format, options)?;
        let generation = self.generate(&job.prompt, &job.params, job.constraint, on_text)?;
        Ok(ChatJob::reply(job.may_call, generation))
    }
}

/// The engine behind the [`ChatModel`] trait, with continuous batching: the
/// requests in flight decode together (see [`crate::batch`]).
#[derive(Clone)]
pub struct LocalModel {
    batcher: Arc<Batcher>,
    name: String,
}

impl LocalModel {
    /// Batches up to [`DEFAULT_MAX_BATCH`] requests.
    pub fn new(engine: Engine) -> Result<Self> {
        Self::with_batch(engine, DEFAULT_MAX_BATCH)
    }

    /// Decodes up to `max_batch` requests per step (1: one at a time).
    pub fn with_batch(engine: Engine, max_batch: usize) -> Result<Self> {
        let name = format!("local:{}", engine.source.display());
        Ok(Self {
            batcher: Arc::new(Batcher::start(engine, max_batch)?),
            name,
        })
    }

    pub fn engine(&self) -> &Engine {
        self.batcher.engine()
    }
}

impl ChatModel for LocalModel {
    fn chat(
        &self,
        request: &ChatRequest,
    ) -> impl std::future::Future<Output = Result<ChatResponse, LlmError>> + Send {
        let batcher = Arc::clone(&self.batcher);
        let request = request.clone();
        let name = self.name.clone();
        async move {
            let bad = |message: String| LlmError::BadReply {
                endpoint: name.clone(),
                attempts: 1,
                message,
            };
            let options = ChatOptions {
                temperature: request.temperature,
                max_tokens: request.max_tokens.map(|m| m as usize),
                tool_choice: ToolChoice::from_openai(request.tool_choice.as_ref())
                    .map_err(|e| bad(e.to_string()))?,
                ..ChatOptions::default()
            };
            // Rendering and tokenizing take a while on long tool lists: off the runtime.
            let job = {
                let batcher = Arc::clone(&batcher);
                tokio::task::spawn_blocking(move || {
                    batcher.engine().chat_job(
                        &request.messages,
                        &request.tools,
                        request.response_format.as_ref(),
                        &options,
                    )
                })
                .await
                .map_err(|e| bad(e.to_string()))?
                .map_err(|e| bad(e.to_string()))?
            };
            let may_call = job.may_call;
            let finished = batcher
                .submit(Job {
                    prompt: job.prompt,
                    params: job.params,
                    constraint: job.constraint,
                    on_text: Box::new(|_| {}),
                })
                .await
                .map_err(|_| bad("the batching thread has stopped".into()))?
                .map_err(|e| bad(e.to_string()))?;
            let reply = ChatJob::reply(may_call, finished.generation);
            Ok(ChatResponse {
                content: reply.content,
                tool_calls: reply.tool_calls,
                usage: Usage {
                    prompt_tokens: reply.prompt_tokens as u64,
                    completion_tokens: reply.completion_tokens as u64,
                },
                latency: finished.latency,
                attempts: 1,
            })
        }
    }
}
