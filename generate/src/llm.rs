//! The LLM as the roles use it: any [`ChatModel`] behind an object-safe
//! [`DynChat`], a content-addressed record/replay cache, token and USD
//! accounting, and structured output (strict `json_schema`, a forced tool
//! call, or prompt + validate + retry) checked against the schema.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use toolgrad_core::jsonl::{JsonlStore, Keyed};
use toolgrad_core::llm::{
    ChatMessage, ChatModel, ChatRequest, ChatResponse, LlmError, ToolCall, Usage,
};
use toolgrad_core::text::truncate_chars;

use crate::config::StructuredMode;
use crate::error::Result;
use crate::policy::{Counters, RoleError};

/// [`ChatModel`] in object-safe form, so roles can hold any backend.
pub trait DynChat: Send + Sync {
    fn chat_dyn<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>>;
}

impl<T: ChatModel> DynChat for T {
    fn chat_dyn<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(self.chat(request))
    }
}

/// A recorded reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedReply {
    key: String,
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
    usage: Usage,
}

impl Keyed for CachedReply {
    fn key(&self) -> &str {
        &self.key
    }
}

/// How a replay miss reads (in traces and errors).
pub const REPLAY_MISS: &str = "replay cache has no reply";

/// Request hash → reply, kept in `<dir>/llm.jsonl` (append-only). Keys hash
/// the model name and the request body only, so API keys never enter it.
///
/// Identical requests in flight at once are serialised: the second waits for
/// the first and takes its reply from the store. While recording, two identical
/// requests at temperature > 0 would otherwise get two replies of which the
/// store keeps one, and a replay would differ from the recording.
pub struct ReplayCache {
    store: JsonlStore<CachedReply>,
    replay_only: bool,
    in_flight: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ReplayCache {
    /// Opens (or starts) `<dir>/llm.jsonl`; `replay_only` turns misses into errors.
    pub fn open(dir: &Path, replay_only: bool) -> Result<Self> {
        Ok(Self {
            store: JsonlStore::open(&dir.join("llm.jsonl"))?,
            replay_only,
            in_flight: Default::default(),
        })
    }

    /// The lock every request with this key takes while it is answered.
    fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key.to_owned()).or_default().clone()
    }

    /// Forgets a key's lock once nobody else holds or waits for it.
    fn release(&self, key: &str, slot: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: no other request has this key.
        if Arc::strong_count(&slot) <= 2 {
            map.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether a miss is an error (a replay) rather than a call.
    pub fn replay_only(&self) -> bool {
        self.replay_only
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    fn get(&self, key: &str) -> Option<CachedReply> {
        self.store.get(key)
    }

    fn put(&self, reply: CachedReply) -> Result<()> {
        Ok(self.store.put(reply)?)
    }
}

/// The content address of a request to `model`.
pub fn request_key(model: &str, request: &ChatRequest) -> String {
    let mut body = json!({
        "model": model,
        "messages": request.messages,
        "tools": request.tools,
        "response_format": request.response_format,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    });
    // Absent, it is left out, so keys recorded before the field existed still match.
    if let Some(choice) = &request.tool_choice {
        body["tool_choice"] = choice.clone();
    }
    let digest = Sha256::digest(body.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Per-role call settings.
#[derive(Debug, Clone)]
pub struct RoleSettings {
    /// The model name used in cache keys.
    pub model: String,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub structured: StructuredMode,
    pub format_retries: u32,
    pub input_usd_per_million: f64,
    pub output_usd_per_million: f64,
}

/// One role's LLM: backend, cache and settings.
#[derive(Clone)]
pub struct RoleLlm {
    pub chat: Arc<dyn DynChat>,
    pub cache: Option<Arc<ReplayCache>>,
    pub settings: RoleSettings,
    /// How far structured output has fallen back from `settings.structured`
    /// after the server refused it (0 = not at all), shared by clones.
    pub fallback: Arc<AtomicU8>,
}

/// The modes tried in order once a server refuses one with HTTP 400/422.
const FALLBACK: [StructuredMode; 3] = [
    StructuredMode::JsonSchema,
    StructuredMode::ToolCall,
    StructuredMode::Prompt,
];

/// Why one chat call produced no reply.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// A replay had no recorded reply, or the cache could not be written.
    #[error("{0}")]
    Cache(String),
}

/// Whether the server refused the structured-output feature itself (HTTP 400
/// or 422 whose body names it), not the request for another reason such as
/// its length: only then does the role fall back to the next mode.
fn refused_by_server(error: &CallError) -> bool {
    const FEATURE: &[&str] = &[
        "response_format",
        "json_schema",
        "structured output",
        "tool_choice",
        "tools",
        "function",
    ];
    let CallError::Llm(LlmError::Status { status, body, .. }) = error else {
        return false;
    };
    let body = body.to_lowercase();
    matches!(status, 400 | 422)
        && FEATURE.iter().any(|word| body.contains(word))
        && !body.contains("context")
}

impl RoleLlm {
    /// One chat call through the cache, counted in `counters`.
    pub async fn call(
        &self,
        mut request: ChatRequest,
        counters: &Counters,
    ) -> Result<ChatResponse, CallError> {
        request.temperature = request.temperature.or(self.settings.temperature);
        request.max_tokens = request.max_tokens.or(self.settings.max_tokens);
        let key = request_key(&self.settings.model, &request);
        let slot = self.cache.as_ref().map(|c| c.slot(&key));
        let turn = match &slot {
            Some(slot) => Some(slot.lock().await),
            None => None,
        };
        let response = match self.cache.as_ref().and_then(|c| c.get(&key)) {
            Some(hit) => ChatResponse {
                content: hit.content,
                tool_calls: hit.tool_calls,
                usage: hit.usage,
                latency: std::time::Duration::ZERO,
                attempts: 0,
            },
            None => {
                if self.cache.as_ref().is_some_and(|c| c.replay_only()) {
                    return Err(CallError::Cache(format!("{REPLAY_MISS} for request {key}")));
                }
                let response = self.chat.chat_dyn(&request).await?;
                if let Some(cache) = &self.cache {
                    cache
                        .put(CachedReply {
                            key: key.clone(),
                            content: response.content.clone(),
                            tool_calls: response.tool_calls.clone(),
                            usage: response.usage,
                        })
                        .map_err(|e| CallError::Cache(e.to_string()))?;
                }
                response
            }
        };
        drop(turn);
        if let (Some(cache), Some(slot)) = (&self.cache, slot) {
            cache.release(&key, slot);
        }
        counters.add(&counters.llm_calls, 1);
        counters.add(&counters.prompt_tokens, response.usage.prompt_tokens);
        counters.add(
            &counters.completion_tokens,
            response.usage.completion_tokens,
        );
        let usd = response.usage.prompt_tokens as f64 * self.settings.input_usd_per_million
            + response.usage.completion_tokens as f64 * self.settings.output_usd_per_million;
        counters.add(&counters.cost_micro_usd, usd.round() as u64);
        Ok(response)
    }

    /// Asks for a JSON value matching `schema`; malformed or off-schema replies
    /// are retried up to `format_retries` times, then reported as `role`'s error.
    pub async fn structured(
        &self,
        role: &'static str,
        messages: Vec<ChatMessage>,
        name: &str,
        schema: &Value,
        counters: &Counters,
    ) -> Result<Value, RoleError> {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| RoleError::new(role, format!("bad output schema: {e}")))?;
        let mut last_problem = String::new();
        let mut tries = 0;
        while tries <= self.settings.format_retries {
            let mode = self.mode();
            let mut messages = messages.clone();
            if !last_problem.is_empty() && mode == StructuredMode::Prompt {
                messages.push(ChatMessage::new(
                    "user",
                    format!("Your last reply was unusable ({last_problem}). Reply with JSON only."),
                ));
            }
            let request = self.structured_request(mode, messages, name, schema);
            let response = match self.call(request, counters).await {
                Ok(response) => response,
                Err(error) if refused_by_server(&error) && self.fall_back(mode) => continue,
                Err(error) => return Err(RoleError::new(role, error.to_string())),
            };
            tries += 1;
            let text = match mode {
                StructuredMode::ToolCall => response
                    .tool_calls
                    .first()
                    .map(|c| c.function.arguments.clone()),
                _ => response.content.clone(),
            };
            let Some(text) = text else {
                last_problem = "no content".into();
                continue;
            };
            match parse_json(&text) {
                Some(value) => match validator.validate(&value) {
                    Ok(()) => return Ok(value),
                    Err(e) => last_problem = format!("breaks the schema: {e}"),
                },
                None => last_problem = format!("not JSON: {}", snippet(&text)),
            }
        }
        Err(RoleError::new(
            role,
            format!("unusable structured reply: {last_problem}"),
        ))
    }

    /// The structured-output mode in force.
    fn mode(&self) -> StructuredMode {
        let start = FALLBACK
            .iter()
            .position(|m| *m == self.settings.structured)
            .unwrap_or(0);
        let step = self.fallback.load(Ordering::Relaxed) as usize;
        FALLBACK[(start + step).min(FALLBACK.len() - 1)]
    }

    /// Moves past `refused` to the next mode; false when none is left.
    fn fall_back(&self, refused: StructuredMode) -> bool {
        if refused == StructuredMode::Prompt {
            return false;
        }
        // Several calls may be refused at once: advance one step past `refused` only.
        let start = FALLBACK
            .iter()
            .position(|m| *m == self.settings.structured)
            .unwrap_or(0);
        let at = FALLBACK.iter().position(|m| *m == refused).unwrap_or(0);
        let step = at.saturating_sub(start) as u8;
        let _ =
            self.fallback
                .compare_exchange(step, step + 1, Ordering::Relaxed, Ordering::Relaxed);
        true
    }

    fn structured_request(
        &self,
        mode: StructuredMode,
        mut messages: Vec<ChatMessage>,
        name: &str,
        schema: &Value,
    ) -> ChatRequest {
        let mut request = ChatRequest::default();
        match mode {
            StructuredMode::JsonSchema => {
                request.response_format = Some(json!({
                    "type": "json_schema",
                    "json_schema": {"name": name, "strict": true, "schema": schema},
                }));
            }
            StructuredMode::ToolCall => {
                request.tools = vec![json!({
                    "type": "function",
                    "function": {"name": name, "description": "Submit the answer.", "parameters": schema},
                })];
                request.tool_choice = Some(json!({"type": "function", "function": {"name": name}}));
            }
            StructuredMode::Prompt => {
                messages.push(ChatMessage::new(
                    "user",
                    format!("Answer with one JSON object that matches this JSON Schema, and nothing else:\n{schema}"),
                ));
            }
        }
        request.messages = messages;
        request
    }
}

/// Parses a JSON object, also from inside a ```json fence or surrounding prose.
fn parse_json(text: &str) -> Option<Value> {
    if let Ok(value) = serde_json::from_str(text.trim()) {
        return Some(value);
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    // `} ok {` has its last `}` before its first `{`: no object to cut out.
    serde_json::from_str(text.get(start..=end)?).ok()
}

fn snippet(text: &str) -> String {
    let mut snippet = text.to_owned();
    truncate_chars(&mut snippet, 120);
    snippet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_the_request_not_on_secrets() {
        let mut request = ChatRequest::default();
        request.messages.push(ChatMessage::new("user", "hi"));
        let a = request_key("m", &request);
        assert_eq!(a, request_key("m", &request));
        assert_ne!(a, request_key("other", &request));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn only_a_refused_feature_demotes_the_structured_mode() {
        let status = |status: u16, body: &str| {
            CallError::Llm(LlmError::Status {
                endpoint: "e".into(),
                status,
                attempts: 1,
                body: body.into(),
            })
        };
        assert!(refused_by_server(&status(
            400,
            "response_format is not supported"
        )));
        assert!(refused_by_server(&status(
            422,
            "Unknown field: json_schema"
        )));
        assert!(!refused_by_server(&status(
            400,
            "This model's maximum context length is 8192 tokens; your messages used 9000"
        )));
        assert!(!refused_by_server(&status(400, "invalid temperature")));
        assert!(!refused_by_server(&status(
            500,
            "response_format crashed us"
        )));
        assert!(!refused_by_server(&CallError::Cache("miss".into())));
    }

    #[test]
    fn json_is_found_inside_fences() {
        assert_eq!(
            parse_json("```json\n{\"a\": 1}\n```"),
            Some(json!({"a": 1}))
        );
        assert_eq!(parse_json("nope"), None);
        assert_eq!(parse_json("} ok {"), None);
    }
}
