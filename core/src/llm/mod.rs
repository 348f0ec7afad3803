//! The LLM layer: chat messages and tool calls in the OpenAI chat-completions
//! shape, the [`ChatModel`] trait every backend implements, and [`openai`], a
//! client for any OpenAI-compatible endpoint (OpenAI, Gemini, vLLM, llama.cpp
//! server, Ollama) with retries, backoff and a concurrency limit.

pub mod openai;

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One chat message. `content` is absent on assistant messages that only call tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A native tool call; `arguments` is the JSON text the model produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// A chat-completions request, independent of the backend.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Tools in the OpenAI `{"type": "function", "function": {...}}` shape.
    pub tools: Vec<serde_json::Value>,
    /// An OpenAI `response_format` object, e.g. a strict `json_schema`.
    pub response_format: Option<serde_json::Value>,
    /// OpenAI's `tool_choice` (`"auto"`, `"none"`, `"required"` or a named
    /// function); absent: the server's default.
    pub tool_choice: Option<serde_json::Value>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

/// Token counts of one call, as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The first choice of a chat completion.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// Wall time of the successful attempt.
    pub latency: Duration,
    /// Attempts made, retries included.
    pub attempts: u32,
}

/// Why a chat call failed after all retries.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{endpoint}: HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        endpoint: String,
        status: u16,
        attempts: u32,
        body: String,
    },
    #[error("{endpoint}: request failed after {attempts} attempt(s): {message}")]
    Transport {
        endpoint: String,
        attempts: u32,
        message: String,
    },
    #[error("{endpoint}: unusable reply after {attempts} attempt(s): {message}")]
    BadReply {
        endpoint: String,
        attempts: u32,
        message: String,
    },
    #[error("LLM client setup: {0}")]
    Setup(String),
}

/// A chat model: an HTTP endpoint, a local engine, or a scripted test double.
pub trait ChatModel: Send + Sync {
    fn chat(
        &self,
        request: &ChatRequest,
    ) -> impl Future<Output = Result<ChatResponse, LlmError>> + Send;
}
