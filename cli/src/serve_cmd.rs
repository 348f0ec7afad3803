//! `toolgrad serve`: the local model behind an OpenAI-compatible HTTP API on
//! 127.0.0.1 (`POST /v1/chat/completions`, with tools, `response_format` and
//! streaming; `GET /v1/models`), so any OpenAI client can use it.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use toolgrad_core::llm::ChatMessage;
use toolgrad_model::chat_engine::{ChatOptions, ChatReply};
use toolgrad_model::engine::{Engine, FinishReason};

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
}

struct Server {
    engine: Mutex<Engine>,
    name: String,
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
    let options = ChatOptions {
        temperature: request.temperature,
        top_p: request.top_p,
        seed: request.seed,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        stop,
    };
    let id = format!("chatcmpl-{}", now());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let streaming = request.stream;
    let job = {
        let server = Arc::clone(&server);
        let id = id.clone();
        tokio::task::spawn_blocking(move || {
            let engine = server
                .engine
                .lock()
                .map_err(|_| "the engine lock is poisoned".to_string())?;
            let chunk = |delta: Value, finish: Value| {
                json!({"id": id, "object": "chat.completion.chunk", "created": now(), "model": server.name,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            if streaming {
                let _ = tx.send(chunk(
                    json!({"role": "assistant", "content": ""}),
                    Value::Null,
                ));
            }
            let reply = engine
                .chat(
                    &messages,
                    &request.tools,
                    request.response_format.as_ref(),
                    &options,
                    &mut |text| {
                        if streaming && request.tools.is_empty() {
                            let _ = tx.send(chunk(json!({"content": text}), Value::Null));
                        }
                    },
                )
                .map_err(|e| e.to_string())?;
            if streaming {
                let mut delta = json!({});
                if !request.tools.is_empty() {
                    delta["content"] = json!(reply.content);
                    delta["tool_calls"] = tool_calls_json(&reply, true);
                }
                let _ = tx.send(chunk(delta, json!(finish_reason(&reply))));
            }
            Ok::<_, String>(reply)
        })
    };
    if streaming {
        let stream = futures_util::stream::unfold((rx, Some(job)), |(mut rx, job)| async move {
            if let Some(chunk) = rx.recv().await {
                return Some((Ok::<_, Infallible>(format!("data: {chunk}\n\n")), (rx, job)));
            }
            let job = job?;
            let tail = match job.await {
                Ok(Ok(_)) => "data: [DONE]\n\n".to_string(),
                Ok(Err(e)) => format!(
                    "data: {}\n\ndata: [DONE]\n\n",
                    json!({"error": {"message": e}})
                ),
                Err(e) => format!(
                    "data: {}\n\ndata: [DONE]\n\n",
                    json!({"error": {"message": e.to_string()}})
                ),
            };
            Some((Ok(tail), (rx, None)))
        });
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    }
    drop(rx);
    let reply = match job.await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
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
        engine: Mutex::new(engine),
        name,
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .with_state(server);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
        eprintln!("serving on http://{}/v1", listener.local_addr()?);
        axum::serve(listener, app).await.context("serving")
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
