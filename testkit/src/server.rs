//! A mock OpenAI-compatible endpoint on 127.0.0.1: `POST /v1/chat/completions`
//! answered by a [`Responder`] (the scripted LLM unless a test gives its own),
//! with a fixed latency and the faults a test asks for: periodic HTTP 500s or
//! unparsable content, refused structured outputs, a hostile rotation of
//! malformed replies, and per-question fault sequences (429, 502, a non-JSON
//! body, a stall). It records every request body and `Authorization` header
//! and the most requests it had in flight at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use toolgrad_core::llm::{ChatRequest, ToolCall, Usage};

use crate::scripted::{scripted_reply, usage};

/// One reply of the endpoint.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
}

impl Reply {
    /// A text reply with the given token counts.
    pub fn text(content: impl Into<String>, prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            content: Some(content.into()),
            tool_calls: Vec::new(),
            usage: Usage {
                prompt_tokens,
                completion_tokens,
            },
        }
    }
}

/// What answers a well-formed request.
#[derive(Clone)]
pub struct Responder(Arc<dyn Fn(&ChatRequest) -> Reply + Send + Sync>);

impl Responder {
    pub fn new(reply: impl Fn(&ChatRequest) -> Reply + Send + Sync + 'static) -> Self {
        Self(Arc::new(reply))
    }

    /// The scripted LLM of [`crate::scripted`].
    pub fn scripted() -> Self {
        Self::new(|request| {
            let (content, tool_calls) = scripted_reply(request);
            Reply {
                content,
                tool_calls,
                usage: usage(request),
            }
        })
    }
}

impl Default for Responder {
    fn default() -> Self {
        Self::scripted()
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}

/// A fault served to one question before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: 0`.
    TooManyRequests,
    /// HTTP 502.
    ServerError,
    /// HTTP 200 whose body is not JSON.
    NotJson,
    /// No reply for 5 s; the client's timeout must give up first. A stalled
    /// request does not count as in flight.
    Stall,
}

/// Behaviour of the mock.
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    pub latency: Duration,
    /// Every n-th request gets HTTP 500 (0 = never).
    pub fail_every: u64,
    /// Every n-th request gets unparsable JSON content (0 = never).
    pub garbage_every: u64,
    /// Answer HTTP 400 to any request with a `response_format`, as servers
    /// without structured outputs do.
    pub reject_response_format: bool,
    /// Every other request gets the next of [`HOSTILE_REPLIES`] in turn.
    pub hostile: bool,
    /// Served in order to each question (its last user message) before the
    /// question is answered.
    pub faults_per_question: Vec<Fault>,
    /// Questions that always get HTTP 500.
    pub broken_questions: Vec<String>,
    pub responder: Responder,
}

/// The faults a hostile endpoint rotates through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileReply {
    /// HTTP 200 whose body is not JSON.
    Malformed,
    /// HTTP 200 whose JSON body stops halfway.
    Truncated,
    /// A 2 MB content string.
    Oversized,
    /// `"choices": []`.
    EmptyChoices,
    /// `content: null` and no tool calls.
    NullContent,
    /// Fields of the wrong JSON type (`choices` an object, `content` a number).
    WrongType,
    /// A tool call with no name and arguments that are not JSON.
    BadToolCall,
    /// HTTP 429 with a `Retry-After` no client should trust.
    TooManyRequests,
    /// HTTP 502 with an HTML body.
    ServerError,
}

pub const HOSTILE_REPLIES: [HostileReply; 9] = [
    HostileReply::Malformed,
    HostileReply::Truncated,
    HostileReply::Oversized,
    HostileReply::EmptyChoices,
    HostileReply::NullContent,
    HostileReply::WrongType,
    HostileReply::BadToolCall,
    HostileReply::TooManyRequests,
    HostileReply::ServerError,
];

/// Odd `Retry-After` values, one per 429 in turn.
const ODD_RETRY_AFTER: [&str; 5] = ["inf", "1e20", "-5", "NaN", "soon"];

fn json_body(body: impl Into<String>) -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.into()))
        .unwrap_or_default()
}

fn hostile_reply(fault: HostileReply, n: u64) -> Response {
    match fault {
        HostileReply::Malformed => json_body("<html>this is not JSON</html>"),
        HostileReply::Truncated => {
            json_body(r#"{"choices": [{"message": {"role": "assistant", "content": "{"ans"#)
        }
        HostileReply::Oversized => Json(json!({
            "choices": [{"message": {"role": "assistant", "content": "x".repeat(2 << 20)}}],
        }))
        .into_response(),
        HostileReply::EmptyChoices => Json(json!({"choices": []})).into_response(),
        HostileReply::NullContent => Json(json!({
            "choices": [{"message": {"role": "assistant", "content": null}}],
        }))
        .into_response(),
        HostileReply::WrongType => Json(if (n / 18).is_multiple_of(2) {
            json!({"choices": {"message": "hello"}})
        } else {
            json!({"choices": [{"message": {"role": "assistant", "content": 42}}], "usage": "lots"})
        })
        .into_response(),
        HostileReply::BadToolCall => Json(json!({
            "choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c", "type": "function", "function": {"arguments": "{not json"}},
                {"id": "d", "type": "function", "function": {"name": "add", "arguments": "{\"a\": "}}
            ]}}],
        }))
        .into_response(),
        HostileReply::TooManyRequests => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(
                "retry-after",
                ODD_RETRY_AFTER[(n as usize / 18) % ODD_RETRY_AFTER.len()],
            )
            .body(axum::body::Body::from("slow down"))
            .unwrap_or_default(),
        HostileReply::ServerError => (
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
    }
}

#[derive(Default)]
struct Recorded {
    bodies: Vec<Value>,
    authorizations: Vec<String>,
    attempts_per_question: std::collections::HashMap<String, usize>,
}

struct MockState {
    options: MockOptions,
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    recorded: Mutex<Recorded>,
}

impl MockState {
    fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running mock endpoint; it serves until the runtime that started it ends.
pub struct MockServer {
    pub addr: SocketAddr,
    state: Arc<MockState>,
}

impl MockServer {
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far, faults included.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> u64 {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Every request body, in arrival order.
    pub fn bodies(&self) -> Vec<Value> {
        self.state.recorded().bodies.clone()
    }

    /// Every `Authorization` header received.
    pub fn authorizations(&self) -> Vec<String> {
        self.state.recorded().authorizations.clone()
    }
}

/// Serves `options` at `POST /v1/chat/completions` on 127.0.0.1 (`port` 0 = any)
/// from the current tokio runtime.
pub async fn serve(options: MockOptions, port: u16) -> std::io::Result<MockServer> {
    let state = Arc::new(MockState {
        options,
        requests: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        max_in_flight: AtomicU64::new(0),
        recorded: Mutex::default(),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(MockServer { addr, state })
}

/// [`serve`] on a runtime of its own thread, for tests that are not async
/// (those that run the `toolgrad` binary).
pub fn serve_in_thread(options: MockOptions) -> std::io::Result<MockServer> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(e) => return drop(sender.send(Err(e))),
        };
        runtime.block_on(async move {
            let started = serve(options, 0).await;
            let running = started.is_ok();
            let _ = sender.send(started);
            if running {
                std::future::pending::<()>().await;
            }
        });
    });
    receiver
        .recv()
        .map_err(|e| std::io::Error::other(format!("the mock's thread died: {e}")))?
}

async fn completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = respond(&state, n, &headers, body).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// The last user message: what a per-question fault is counted against.
fn question(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn respond(state: &MockState, n: u64, headers: &HeaderMap, body: Value) -> Response {
    let options = &state.options;
    let question = question(&body);
    let attempt = {
        let mut recorded = state.recorded();
        recorded.bodies.push(body.clone());
        if let Some(auth) = headers.get("authorization").and_then(|a| a.to_str().ok()) {
            recorded.authorizations.push(auth.to_owned());
        }
        let attempts = recorded
            .attempts_per_question
            .entry(question.clone())
            .or_default();
        *attempts += 1;
        *attempts - 1
    };
    tokio::time::sleep(options.latency).await;
    if options.broken_questions.contains(&question) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    match options.faults_per_question.get(attempt) {
        Some(Fault::TooManyRequests) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "slow down",
            )
                .into_response()
        }
        Some(Fault::ServerError) => {
            return (StatusCode::BAD_GATEWAY, "upstream error").into_response()
        }
        Some(Fault::NotJson) => return (StatusCode::OK, "<html>not json</html>").into_response(),
        Some(Fault::Stall) => {
            state.in_flight.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(5)).await;
            state.in_flight.fetch_add(1, Ordering::SeqCst);
            return (StatusCode::OK, "late").into_response();
        }
        None => {}
    }
    if options.reject_response_format && body.get("response_format").is_some() {
        return (StatusCode::BAD_REQUEST, "response_format is not supported").into_response();
    }
    if options.fail_every > 0 && n.is_multiple_of(options.fail_every) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected fault").into_response();
    }
    if options.hostile && n.is_multiple_of(2) {
        let fault = HOSTILE_REPLIES[(n / 2) as usize % HOSTILE_REPLIES.len()];
        return hostile_reply(fault, n);
    }
    let request = ChatRequest {
        messages: serde_json::from_value(body["messages"].clone()).unwrap_or_default(),
        tools: body["tools"].as_array().cloned().unwrap_or_default(),
        response_format: body.get("response_format").cloned(),
        ..ChatRequest::default()
    };
    let mut reply = (options.responder.0)(&request);
    if options.garbage_every > 0 && n.is_multiple_of(options.garbage_every) {
        reply.content = Some("{not json".into());
    }
    let tool_calls = if reply.tool_calls.is_empty() {
        Value::Null
    } else {
        json!(reply.tool_calls)
    };
    Json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content, "tool_calls": tool_calls}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": reply.usage.prompt_tokens, "completion_tokens": reply.usage.completion_tokens},
    }))
    .into_response()
}
