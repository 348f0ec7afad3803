//! `toolgrad serve` and `toolgrad eval bfcl --model local:..` on a tiny random
//! model the test writes: OpenAI-shaped replies, JSON-schema output that parses,
//! streaming, clear 400s, and our own OpenAI client talking to the server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use toolgrad_core::llm::openai::{OpenAiClient, OpenAiConfig};
use toolgrad_core::llm::{ChatMessage, ChatModel, ChatRequest};
use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};

struct Server {
    child: Child,
    base: String,
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolgrad"))
        .args(["serve", "--port", "0", "--model"])
        .arg(model)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let base = line
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, base }
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
