//! `toolgrad serve`: the local model behind an OpenAI-compatible HTTP API on
//! 127.0.0.1 (`POST /v1/chat/completions`, with tools, `tool_choice`,
//! `response_format` and streaming; `GET /v1/models`), so any OpenAI client
//! can use it.
//!
//! Requests decode together, up to `--batch` per step (continuous batching, see
//! `toolgrad_model::batch`). At most `--max-queue` wait or run; more get 503
//! with `Retry-After`. A client that disconnects cancels its generation. A
//! panic in the engine fails the requests it touched, with a 500. Only `Host`
//! headers naming this machine are served, so a web page cannot reach the
//! server through DNS rebinding.

use std::convert::Infallible;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use toolgrad_core::llm::ChatMessage;
use toolgrad_model::batch::{Batcher, Job, DEFAULT_MAX_BATCH};
use toolgrad_model::chat_engine::{ChatJob, ChatOptions, ChatReply, ToolChoice};
use toolgrad_model::engine::{Engine, FinishReason};
use toolgrad_model::error::ModelError;

#[derive(Args)]
pub struct ServeArgs {
    /// A `.gguf` file or an HF model directory.
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The model name reported by /v1/models (default: the file name).
    #[arg(long)]
    name: Option<String>,
    /// Requests that may wait or run at once; more are answered 503.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    max_queue: u32,
    /// Requests decoded together in one step (continuous batching; 1 runs them
    /// one at a time). Answers do not depend on it.
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH as u32, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
}

struct Server {
    batcher: Batcher,
    name: String,
    /// One permit per request waiting for or holding the engine.
    queue: Arc<Semaphore>,
    max_queue: usize,
    /// Numbers requests in the log.
    next_id: AtomicU64,
}

/// One line on stderr; a closed stderr is not a reason to fail a request.
fn log(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Sets the flag when the request's future is dropped: the client went away
/// (or the reply was sent, when the flag no longer matters).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether a `Host` header names this machine: `localhost`, `127.0.0.1` or
/// `[::1]`, with any port.
fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

async fn check_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if is_local_host(host) => next.run(request).await,
        Some(_) => error(
            StatusCode::FORBIDDEN,
            "the Host header must name localhost, 127.0.0.1 or [::1]".into(),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "the request has no Host header".into(),
        ),
    }
}

/// The fields of an OpenAI chat-completions request that the engine honours.
#[derive(Deserialize)]
struct CompletionRequest {
    messages: Vec<Value>,
    #[serde(default)]
    tools: Vec<Value>,
    response_format: Option<Value>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<u64>,
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    stop: Option<Value>,
    #[serde(default)]
    stream: bool,
    tool_choice: Option<Value>,
}

/// A message whose `content` may also be a list of `{"type": "text", "text"}` parts.
fn to_message(value: &Value, index: usize) -> Result<ChatMessage, String> {
    let mut value = value.clone();
    if let Some(parts) = value.get("content").and_then(Value::as_array) {
        let text: String = parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        value["content"] = Value::String(text);
    }
    serde_json::from_value(value).map_err(|e| format!("messages[{index}]: {e}"))
}

fn stop_list(stop: Option<&Value>) -> Result<Vec<String>, String> {
    match stop {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or("stop: expected strings".to_string())
            })
            .collect(),
        Some(_) => Err("stop: expected a string or a list of strings".into()),
    }
}

fn busy(max_queue: usize) -> Response {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the server is busy: {max_queue} requests are already waiting or running"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

fn error(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn finish_reason(reply: &ChatReply) -> &'static str {
    match reply.finish {
        _ if !reply.tool_calls.is_empty() => "tool_calls",
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

/// Why a request got no reply: its own fault (400) or the engine's (500).
struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn bad_request(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    fn internal(message: String) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
        }
    }
}

async fn completions(State(server): State<Arc<Server>>, body: axum::body::Bytes) -> Response {
    let request: CompletionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("request body: {e}")),
    };
    let messages: Vec<ChatMessage> = match request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| to_message(m, i))
        .collect()
    {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let stop = match stop_list(request.stop.as_ref()) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let tool_choice = match ToolChoice::from_openai(request.tool_choice.as_ref()) {
        Ok(choice) => choice,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let Ok(permit) = Arc::clone(&server.queue).try_acquire_owned() else {
        return busy(server.max_queue);
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let options = ChatOptions {
        temperature: request.temperature,
        top_p: request.top_p,
        seed: request.seed,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        stop,
        tool_choice,
        cancel: Some(Arc::clone(&cancel)),
    };
    let number = server.next_id.fetch_add(1, Ordering::Relaxed);
    let id = format!("chatcmpl-{}-{number}", now());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let streaming = request.stream;
    let job = {
        let server = Arc::clone(&server);
        let id = id.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let name = server.name.clone();
            let chunk = move |delta: Value, finish: Value| {
                json!({"id": id, "object": "chat.completion.chunk", "created": now(), "model": name,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            let plain_text = !options.tool_choice.may_call(&request.tools);
            let prepared = {
                let server = Arc::clone(&server);
                tokio::task::spawn_blocking(move || {
                    server.batcher.engine().chat_job(
                        &messages,
                        &request.tools,
                        request.response_format.as_ref(),
                        &options,
                    )
                })
                .await
                .map_err(|e| Failure::internal(failed_job(number, &e)))?
                .map_err(|e| Failure::bad_request(e.to_string()))?
            };
            if streaming {
                let _ = tx.send(chunk(
                    json!({"role": "assistant", "content": ""}),
                    Value::Null,
                ));
            }
            let on_text = {
                let (tx, chunk) = (tx.clone(), chunk.clone());
                move |text: &str| {
                    if streaming && plain_text {
                        let _ = tx.send(chunk(json!({"content": text}), Value::Null));
                    }
                }
            };
            let may_call = prepared.may_call;
            let finished = server
                .batcher
                .submit(Job {
                    prompt: prepared.prompt,
                    params: prepared.params,
                    constraint: prepared.constraint,
                    on_text: Box::new(on_text),
                })
                .await
                .map_err(|_| Failure::internal("the batching thread has stopped".into()))?;
            let reply = match finished {
                Ok(finished) => ChatJob::reply(may_call, finished.generation),
                Err(ModelError::Cancelled) => {
                    log(format_args!(
                        "request {number}: cancelled, the client disconnected"
                    ));
                    return Err(Failure::bad_request("cancelled".into()));
                }
                Err(e @ ModelError::Batch(_)) => {
                    log(format_args!("request {number}: {e}"));
                    return Err(Failure::internal(e.to_string()));
                }
                Err(e) => return Err(Failure::bad_request(e.to_string())),
            };
            if streaming {
                let mut delta = json!({});
                if !plain_text {
                    delta["content"] = json!(reply.content);
                    delta["tool_calls"] = tool_calls_json(&reply, true);
                }
                let _ = tx.send(chunk(delta, json!(finish_reason(&reply))));
            }
            Ok::<_, Failure>(reply)
        })
    };
    let guard = CancelOnDrop(cancel);
    if streaming {
        let stream = futures_util::stream::unfold(
            (rx, Some(job), guard),
            move |(mut rx, job, guard)| async move {
                if let Some(chunk) = rx.recv().await {
                    return Some((
                        Ok::<_, Infallible>(format!("data: {chunk}\n\n")),
                        (rx, job, guard),
                    ));
                }
                let job = job?;
                let tail = match job.await {
                    Ok(Ok(_)) => "data: [DONE]\n\n".to_string(),
                    Ok(Err(e)) => format!(
                        "data: {}\n\ndata: [DONE]\n\n",
                        json!({"error": {"message": e.message}})
                    ),
                    Err(e) => format!(
                        "data: {}\n\ndata: [DONE]\n\n",
                        json!({"error": {"message": failed_job(number, &e)}})
                    ),
                };
                Some((Ok(tail), (rx, None, guard)))
            },
        );
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    }
    drop(rx);
    let outcome = job.await;
    drop(guard);
    let reply = match outcome {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return error(e.status, e.message),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, failed_job(number, &e)),
    };
    let mut message = json!({"role": "assistant", "content": reply.content});
    if !reply.tool_calls.is_empty() {
        message["tool_calls"] = tool_calls_json(&reply, false);
    }
    Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": server.name,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(&reply)}],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }))
    .into_response()
}

/// The message for a request whose blocking job died (a panic), logged too.
fn failed_job(number: u64, error: &tokio::task::JoinError) -> String {
    let message = if error.is_panic() {
        "the request failed inside the engine (a panic); the server carries on".to_string()
    } else {
        format!("the request was aborted: {error}")
    };
    log(format_args!("request {number}: {message}"));
    message
}

fn tool_calls_json(reply: &ChatReply, indexed: bool) -> Value {
    Value::Array(
        reply
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let mut v = serde_json::to_value(call).unwrap_or(Value::Null);
                if indexed {
                    v["index"] = json!(i);
                }
                v
            })
            .collect(),
    )
}

async fn models(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(
        json!({"object": "list", "data": [{"id": server.name, "object": "model", "owned_by": "toolgrad"}]}),
    )
}

pub fn run(args: ServeArgs) -> Result<std::process::ExitCode> {
    let engine =
        Engine::load(&args.model).with_context(|| format!("loading {}", args.model.display()))?;
    let name = args.name.unwrap_or_else(|| {
        args.model
            .file_stem()
            .map_or("local".into(), |s| s.to_string_lossy().into_owned())
    });
    let server = Arc::new(Server {
        batcher: Batcher::start(engine, args.batch as usize)?,
        name,
        queue: Arc::new(Semaphore::new(args.max_queue as usize)),
        max_queue: args.max_queue as usize,
        next_id: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .layer(middleware::from_fn(check_host))
        .with_state(server);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
        log(format_args!(
            "serving on http://{}/v1",
            listener.local_addr()?
        ));
        axum::serve(listener, app).await.context("serving")
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_reported_as_a_failed_request() {
        let outcome = tokio::task::spawn_blocking(|| -> u8 { panic!("boom") }).await;
        let message = failed_job(3, &outcome.unwrap_err());
        assert!(message.contains("panic"), "{message}");
    }

    #[test]
    fn local_host_names_pass_and_others_do_not() {
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:1",
            "[::1]:80",
            "[::1]",
        ] {
            assert!(is_local_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "127.0.0.1.nip.io",
            "localhost.evil:80",
            "[::2]:80",
            "",
        ] {
            assert!(!is_local_host(host), "{host}");
        }
    }
}
