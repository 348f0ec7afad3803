//! A client for OpenAI-compatible `POST {base_url}/chat/completions` endpoints.
//!
//! Retries 429, 5xx, timeouts, connection errors and unparsable replies with
//! exponential backoff and full jitter (honouring `Retry-After`), and bounds the
//! number of requests in flight. The API key is sent as a bearer token and never
//! appears in errors or logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::{ChatModel, ChatRequest, ChatResponse, LlmError, ToolCall, Usage};

/// Endpoint, model and retry settings.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// For example `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Requests started per minute at most (evenly spaced); `None` = unlimited.
    pub requests_per_minute: Option<u32>,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            max_retries: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(120),
            concurrency: 8,
            requests_per_minute: None,
        }
    }
}

/// The OpenAI-compatible chat client.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    config: Arc<OpenAiConfig>,
    endpoint: String,
    permits: Arc<Semaphore>,
    /// When the next request may start, under `requests_per_minute`.
    next_start: Arc<tokio::sync::Mutex<Instant>>,
}

/// How one attempt ended.
enum Attempt {
    Done(ChatResponse),
    Retry {
        error: LlmError,
        wait_hint: Option<Duration>,
    },
    Fatal(LlmError),
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        if config.concurrency == 0 {
            return Err(LlmError::Setup("concurrency must be at least 1".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| LlmError::Setup(e.to_string()))?;
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let permits = Arc::new(Semaphore::new(config.concurrency));
        Ok(Self {
            http,
            config: Arc::new(config),
            endpoint,
            permits,
            next_start: Arc::new(tokio::sync::Mutex::new(Instant::now())),
        })
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    fn body(&self, request: &ChatRequest) -> serde_json::Value {
        let mut body =
            serde_json::json!({ "model": self.config.model, "messages": request.messages });
        if !request.tools.is_empty() {
            body["tools"] = serde_json::Value::Array(request.tools.clone());
        }
        if let Some(format) = &request.response_format {
            body["response_format"] = format.clone();
        }
        if let Some(choice) = &request.tool_choice {
            body["tool_choice"] = choice.clone();
        }
        if let Some(t) = request.temperature {
            body["temperature"] = serde_json::json!(t);
        }
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = serde_json::json!(n);
        }
        body
    }

    /// Waits for this request's slot under the rate limit.
    async fn pace(&self) {
        let Some(per_minute) = self.config.requests_per_minute.filter(|n| *n > 0) else {
            return;
        };
        let interval = Duration::from_secs(60) / per_minute;
        let wait = {
            let mut next = self.next_start.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot - now
        };
        tokio::time::sleep(wait).await;
    }

    async fn attempt(&self, body: &serde_json::Value, attempts: u32) -> Attempt {
        self.pace().await;
        let started = Instant::now();
        let mut builder = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => return self.transport_failure(attempts, &e),
        };
        let status = response.status();
        let wait_hint = retry_after(&response);
        let text = match read_capped(response, MAX_REPLY_BYTES).await {
            Ok(text) => text,
            Err(ReadError::Transport(e)) => return self.transport_failure(attempts, &e),
            Err(ReadError::TooLarge) => {
                return Attempt::Retry {
                    error: LlmError::BadReply {
                        endpoint: self.endpoint.clone(),
                        attempts,
                        message: format!("the reply is larger than {} MiB", MAX_REPLY_BYTES >> 20),
                    },
                    wait_hint: None,
                }
            }
        };
        if !status.is_success() {
            let error = LlmError::Status {
                endpoint: self.endpoint.clone(),
                status: status.as_u16(),
                attempts,
                body: snippet(&text),
            };
            return if status.as_u16() == 429 || status.is_server_error() {
                Attempt::Retry { error, wait_hint }
            } else {
                Attempt::Fatal(error)
            };
        }
        match parse_reply(&text) {
            Ok((content, tool_calls, usage)) => Attempt::Done(ChatResponse {
                content,
                tool_calls,
                usage,
                latency: started.elapsed(),
                attempts,
            }),
            Err(message) => Attempt::Retry {
                error: LlmError::BadReply {
                    endpoint: self.endpoint.clone(),
                    attempts,
                    message,
                },
                wait_hint: None,
            },
        }
    }

    fn transport_failure(&self, attempts: u32, error: &reqwest::Error) -> Attempt {
        let error = LlmError::Transport {
            endpoint: self.endpoint.clone(),
            attempts,
            message: describe(error),
        };
        Attempt::Retry {
            error,
            wait_hint: None,
        }
    }

    /// Full-jitter exponential backoff, or the server's `Retry-After` when given.
    fn backoff(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let ceiling = self
            .config
            .initial_backoff
            .saturating_mul(1u32 << retry.min(20))
            .min(self.config.max_backoff);
        match hint {
            Some(hint) => hint.min(self.config.max_backoff),
            None => ceiling.mul_f64(rand::rng().random_range(0.0..=1.0)),
        }
    }
}

impl ChatModel for OpenAiClient {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| LlmError::Setup("client is shutting down".into()))?;
        let body = self.body(request);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&body, attempts).await {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fatal(error) => return Err(error),
                Attempt::Retry { error, wait_hint } => {
                    if attempts > self.config.max_retries {
                        return Err(error);
                    }
                    tokio::time::sleep(self.backoff(attempts - 1, wait_hint)).await;
                }
            }
        }
    }
}

/// Replies larger than this are refused: a server that streams without end
/// must not exhaust memory before the timeout.
const MAX_REPLY_BYTES: usize = 64 << 20;

enum ReadError {
    Transport(reqwest::Error),
    TooLarge,
}

/// The body as text, read chunk by chunk and abandoned past `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<String, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        format!("could not connect: {error}")
    } else {
        error.to_string()
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    parse_retry_after(value)
}

/// Seconds from a `Retry-After` header; `inf`, `NaN`, negative or
/// unrepresentable values (`1e20`) are ignored rather than trusted.
/// [`OpenAiClient::backoff`] caps the result at the configured maximum.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<f64>().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// The start of a reply body for an error message, credentials masked (an
/// error body may echo the key) and cut at 300 characters.
fn snippet(text: &str) -> String {
    let mut snippet = crate::redact::redact(text);
    if crate::text::truncate_chars(&mut snippet, 300) {
        snippet.push('…');
    }
    snippet
}

#[derive(Deserialize)]
struct Reply {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ReplyMessage,
}

#[derive(Deserialize)]
struct ReplyMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
}

fn parse_reply(text: &str) -> Result<(Option<String>, Vec<ToolCall>, Usage), String> {
    let reply: Reply = serde_json::from_str(text)
        .map_err(|e| format!("not a chat completion ({e}): {}", snippet(text)))?;
    let choice = reply
        .choices
        .into_iter()
        .next()
        .ok_or("the reply has no choices")?;
    Ok((
        choice.message.content,
        choice.message.tool_calls.unwrap_or_default(),
        reply.usage.unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_tool_calls_and_usage() {
        let text = r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}}],
            "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;
        let (content, calls, usage) = parse_reply(text).unwrap();
        assert_eq!(content, None);
        assert_eq!(calls[0].function.arguments, "{\"a\":1}");
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 12,
                completion_tokens: 3
            }
        );
    }

    #[test]
    fn rejects_garbage_and_empty_choices() {
        assert!(parse_reply("<html>oops</html>").is_err());
        assert!(parse_reply(r#"{"choices":[]}"#).is_err());
    }

    #[tokio::test]
    async fn rate_limit_spaces_request_starts() {
        let mut config = OpenAiConfig::new("http://127.0.0.1:9", "m");
        config.requests_per_minute = Some(600);
        let client = OpenAiClient::new(config).unwrap();
        let started = Instant::now();
        for _ in 0..4 {
            client.pace().await;
        }
        // Four starts at 100 ms spacing: the fourth waits about 300 ms.
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    #[test]
    fn odd_retry_after_values_are_ignored_not_a_panic() {
        assert_eq!(
            parse_retry_after(" 2.5 "),
            Some(Duration::from_millis(2500))
        );
        for odd in ["inf", "-inf", "NaN", "-1", "1e20", "soon", ""] {
            assert_eq!(parse_retry_after(odd), None, "{odd}");
        }
    }

    #[tokio::test]
    async fn an_endless_reply_is_refused_at_the_cap_not_read_into_memory() {
        use axum::body::Body;
        // 1 MiB chunks without end, and no Content-Length.
        let endless = || async {
            let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
            let stream = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            Body::from_stream(stream)
        };
        let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(endless));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut config = OpenAiConfig::new(base, "m");
        config.max_retries = 0;
        let client = OpenAiClient::new(config).unwrap();
        let request = ChatRequest::default();
        let error = client.chat(&request).await.unwrap_err().to_string();
        assert!(error.contains("larger than 64 MiB"), "{error}");
    }

    #[test]
    fn backoff_respects_ceiling_and_retry_after() {
        let mut config = OpenAiConfig::new("http://127.0.0.1:9", "m");
        config.initial_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_millis(250);
        let client = OpenAiClient::new(config).unwrap();
        for retry in 0..8 {
            assert!(client.backoff(retry, None) <= Duration::from_millis(250));
        }
        assert_eq!(
            client.backoff(0, Some(Duration::from_secs(9))),
            Duration::from_millis(250)
        );
    }
}
