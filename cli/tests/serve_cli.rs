//! `toolgrad serve` and `toolgrad eval bfcl --model local:..` on a tiny random
//! model the test writes: OpenAI-shaped replies, JSON-schema output that parses,
//! `tool_choice`, streaming, clear 400s, a bounded queue, cancellation on
//! disconnect, the `Host` check, and our own OpenAI client talking to the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use toolgrad_core::llm::openai::{OpenAiClient, OpenAiConfig};
use toolgrad_core::llm::{ChatMessage, ChatModel, ChatRequest};
use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};

struct Server {
    child: Child,
    base: String,
    /// The server's stderr after its first line, collected as it comes.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Waits up to 30 s for a log line containing `needle`.
    fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    // BFCL's system prompt is ~1,500 tokens of this byte-level vocabulary.
    let spec = SyntheticSpec {
        context: 4096,
        ..SyntheticSpec::default()
    };
    write_synthetic_gguf(&path, &spec).unwrap();
    path
}

/// Starts the server on a free port and waits for its "serving on" line.
fn serve(model: &Path) -> Server {
    serve_with(model, &[])
}

/// Without `--port` in `extra`, the server takes a free port.
fn serve_with(model: &Path, extra: &[&str]) -> Server {
    let free_port: &[&str] = if extra.contains(&"--port") {
        &[]
    } else {
        &["--port", "0"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolgrad"))
        .args(["serve", "--model"])
        .arg(model)
        .args(free_port)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let base = line
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Server { child, base, log }
}

/// A greedy request that runs until `max_tokens`: the random model's greedy
/// path never reaches end-of-turn within it (the tests below rely on that).
fn long_request(stream: bool) -> Value {
    json!({"messages": [{"role": "user", "content": "go"}], "max_tokens": 3500, "stream": stream})
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"unit": {"enum": ["C", "F"]}}, "required": ["unit"]}}},
        {"type": "function", "function": {"name": "get_time", "description": "Time in a zone.",
            "parameters": {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET"]}}, "required": ["zone"]}}}
    ])
}

async fn post(base: &str, body: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn serves_chat_json_schema_and_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&tiny_model(dir.path()));
    let messages = json!([{"role": "user", "content": [{"type": "text", "text": "hello"}]}]);

    let (status, text) = post(
        &server.base,
        json!({"model": "tiny", "messages": messages, "max_tokens": 8}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    let content = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let completion = reply["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=8).contains(&completion), "{reply}");
    assert_eq!(reply["object"], "chat.completion");
    assert!(reply["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
                        "required": ["ok", "n"], "additionalProperties": false});
    let (status, text) = post(&server.base, json!({"messages": messages, "max_tokens": 60,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema, "strict": true}}})).await;
    assert_eq!(status, 200, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    let parsed: Value =
        serde_json::from_str(reply["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(
        parsed["ok"].is_boolean() && parsed["n"].is_number(),
        "{parsed}"
    );

    // Streaming the same greedy request gives the same text, chunk by chunk.
    let (status, text) = post(
        &server.base,
        json!({"messages": messages, "max_tokens": 8, "stream": true}),
    )
    .await;
    assert_eq!(status, 200);
    let mut streamed = String::new();
    let mut done = false;
    for data in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        streamed.push_str(
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or(""),
        );
    }
    assert!(done, "{text}");
    assert_eq!(streamed, content);

    let (status, text) = post(&server.base, json!({"messages": [{"role": 3}]})).await;
    assert_eq!(status, 400);
    assert!(text.contains("messages[0]"), "{text}");
    let (status, text) = post(
        &server.base,
        json!({"messages": messages, "response_format": {"type": "yaml"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("yaml"), "{text}");
}

#[tokio::test]
async fn our_openai_client_talks_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&tiny_model(dir.path()));
    let client = OpenAiClient::new(OpenAiConfig::new(server.base.clone(), "tiny")).unwrap();
    let request = ChatRequest {
        messages: vec![ChatMessage::new("user", "hi")],
        max_tokens: Some(5),
        ..ChatRequest::default()
    };
    let reply = client.chat(&request).await.unwrap();
    assert!(reply.content.is_some());
    assert!(reply.usage.completion_tokens >= 1 && reply.usage.completion_tokens <= 5);
}

#[test]
fn bfcl_runs_on_the_local_engine_with_constrained_calls() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("possible_answer")).unwrap();
    let doc = r#"{"name": "math.factorial", "description": "N!", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "N."}}, "required": ["number"]}}"#;
    std::fs::write(
        data.join("BFCL_v4_simple_python.json"),
        format!(r#"{{"id": "simple_python_0", "question": [[{{"role": "user", "content": "5!?"}}]], "function": [{doc}]}}"#) + "\n",
    )
    .unwrap();
    std::fs::write(
        data.join("possible_answer/BFCL_v4_simple_python.json"),
        r#"{"id": "simple_python_0", "ground_truth": [{"math.factorial": {"number": [5]}}]}"#
            .to_string()
            + "\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_toolgrad"))
        .args([
            "eval",
            "bfcl",
            "--constrain",
            "--categories",
            "simple_python",
            "--data",
        ])
        .arg(&data)
        .arg("--model")
        .arg(format!("local:{}", model.display()))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let result =
        std::fs::read_to_string(out.join("result/BFCL_v4_simple_python_result.json")).unwrap();
    let record: Value = serde_json::from_str(result.lines().next().unwrap()).unwrap();
    let reply = record["result"].as_str().unwrap();
    assert!(reply.starts_with('[') && reply.ends_with(']'), "{reply}");
    let verdicts = std::fs::read_to_string(out.join("score/simple_python.verdicts.jsonl")).unwrap();
    let verdict: Value = serde_json::from_str(verdicts.lines().next().unwrap()).unwrap();
    // The random model's call may be wrong, but it is always a decodable call list.
    assert_ne!(
        verdict["error_type"], "ast_decoder:decoder_failed",
        "{verdict}"
    );
}

#[tokio::test]
async fn tool_choice_required_or_named_gives_one_call_that_fits_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&tiny_model(dir.path()));
    let messages = json!([{"role": "user", "content": "what is the weather?"}]);
    let request = |choice: Value| json!({"messages": messages, "tools": tools(), "tool_choice": choice, "max_tokens": 80});

    let (status, text) = post(&server.base, request(json!("required"))).await;
    assert_eq!(status, 200, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        reply["choices"][0]["finish_reason"], "tool_calls",
        "{reply}"
    );
    let calls = reply["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), 1, "{reply}");
    let name = calls[0]["function"]["name"].as_str().unwrap();
    let arguments: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    match name {
        "get_weather" => assert!(["C", "F"].contains(&arguments["unit"].as_str().unwrap())),
        "get_time" => assert!(["UTC", "CET"].contains(&arguments["zone"].as_str().unwrap())),
        other => panic!("called {other}"),
    }

    let named = json!({"type": "function", "function": {"name": "get_time"}});
    let (status, text) = post(&server.base, request(named)).await;
    assert_eq!(status, 200, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    let call = &reply["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_time", "{reply}");

    // Streaming a required call ends with the call in the last delta.
    let mut streamed = request(json!("required"));
    streamed["stream"] = json!(true);
    let (status, text) = post(&server.base, streamed).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"tool_calls\":[{"), "{text}");

    let (status, text) = post(&server.base, request(json!("none"))).await;
    assert_eq!(status, 200, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    assert!(
        reply["choices"][0]["message"]["tool_calls"].is_null(),
        "{reply}"
    );
    assert_ne!(reply["choices"][0]["finish_reason"], "tool_calls");

    let unknown = json!({"type": "function", "function": {"name": "launch"}});
    let (status, text) = post(&server.base, request(unknown)).await;
    assert_eq!(status, 400);
    assert!(text.contains("launch"), "{text}");
    let (status, text) = post(&server.base, request(json!("sometimes"))).await;
    assert_eq!(status, 400);
    assert!(text.contains("tool_choice"), "{text}");
}

/// Sends `body` as a bare HTTP/1.1 POST, so that dropping the socket really
/// disconnects (a dropped reqwest response may keep its connection open).
fn raw_post(address: &str, body: &Value) -> TcpStream {
    let body = body.to_string();
    let mut socket = TcpStream::connect(address).unwrap();
    write!(
        socket,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    socket
}

fn address(server: &Server) -> String {
    server
        .base
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_owned()
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(&tiny_model(dir.path()), &["--max-queue", "1"]);
    let mut running = raw_post(&address(&server), &long_request(true));
    // The first chunk arrives once the request holds the engine.
    let mut first = [0u8; 64];
    assert!(running.read(&mut first).unwrap() > 0);
    let refused = reqwest::Client::new()
        .post(format!("{}/chat/completions", server.base))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(refused.text().await.unwrap().contains("busy"));
    // Disconnecting cancels the stream and frees the slot.
    drop(running);
    assert!(
        server.wait_for_log("request 0: cancelled"),
        "{:?}",
        server.log.lock().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, text) = post(
            &server.base,
            json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}),
        )
        .await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{text}");
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_client_that_disconnects_cancels_its_generation() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(&tiny_model(dir.path()));
    let socket = raw_post(&address(&server), &long_request(false));
    std::thread::sleep(Duration::from_millis(300));
    drop(socket);
    assert!(
        server.wait_for_log("request 0: cancelled"),
        "{:?}",
        server.log.lock().unwrap()
    );
    assert!(server.is_running());
}

/// Sends a bare HTTP/1.1 request with this `Host` header and returns the status line.
fn status_line_for_host(address: &str, host: &str) -> String {
    let body = r#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#;
    let mut socket = TcpStream::connect(address).unwrap();
    write!(
        socket,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).unwrap();
    reply.lines().next().unwrap_or("").to_owned()
}

#[test]
fn only_host_headers_naming_this_machine_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&tiny_model(dir.path()));
    let address = address(&server);
    let port = address.rsplit(':').next().unwrap().to_owned();
    for host in [
        address.clone(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert!(
            status_line_for_host(&address, &host).contains(" 200 "),
            "{host}"
        );
    }
    for host in [
        "evil.example",
        "evil.example:8080",
        "127.0.0.1.evil.example",
    ] {
        let status = status_line_for_host(&address, host);
        assert!(status.contains(" 403 "), "{host}: {status}");
    }
}

#[tokio::test]
async fn sixty_four_clients_some_leaving_midway_are_all_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(&tiny_model(dir.path()));
    let url = format!("{}/chat/completions", server.base);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            if i % 4 == 0 {
                // Leaves before its (long) reply is done.
                let sent = client.post(&url).json(&long_request(i % 8 == 0)).send();
                let _ = tokio::time::timeout(Duration::from_millis(200), sent).await;
                return None;
            }
            let body = json!({"messages": [{"role": "user", "content": format!("hi {i}")}], "max_tokens": 6});
            let response = client.post(&url).json(&body).send().await.unwrap();
            Some(response.status().as_u16())
        }));
    }
    for task in tasks {
        if let Some(status) = task.await.unwrap() {
            assert_eq!(status, 200);
        }
    }
    assert!(server.is_running());
}

#[tokio::test]
async fn a_server_killed_midway_through_a_request_restarts_on_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut first = serve(&model);
    let address = address(&first);
    let port = address.rsplit(':').next().unwrap().to_owned();
    let mut in_flight = raw_post(&address, &long_request(true));
    let mut chunk = [0u8; 64];
    assert!(in_flight.read(&mut chunk).unwrap() > 0);
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    // The killed server's client sees the connection end, not a hang.
    let mut rest = Vec::new();
    let _ = in_flight.read_to_end(&mut rest);
    let second = serve_with(&model, &["--port", &port]);
    let (status, text) = post(
        &second.base,
        json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
}
