//! The BFCL runner against a mock OpenAI-compatible server on 127.0.0.1 that
//! injects 429s, 500s, timeouts and garbage replies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use toolgrad_core::llm::openai::{OpenAiClient, OpenAiConfig};
use toolgrad_eval::category::Category;
use toolgrad_eval::runner::results::ResultRecord;
use toolgrad_eval::runner::{
    progress_bar, result_path, run_category, Mode, RunReport, RunSettings,
};
use toolgrad_eval::score::score_directory;

/// What the mock does with the n-th request for a question.
#[derive(Clone, Copy)]
enum Fault {
    TooManyRequests,
    ServerError,
    Garbage,
    Stall,
}

#[derive(Default)]
struct Mock {
    /// Faults served, in order, before a question is answered.
    faults: Vec<Fault>,
    /// Questions that always get a 500.
    broken: Vec<String>,
    calls_per_question: Mutex<std::collections::HashMap<String, usize>>,
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
    auth: Mutex<Vec<String>>,
}

/// The reply a perfect model gives to each question of the tiny dataset.
fn answer(question: &str, fc: bool) -> Value {
    let (name, args) = if question.contains("triangle") {
        ("geometry.area", json!({"base": 10, "height": 5}))
    } else {
        ("math.factorial", json!({"number": 5}))
    };
    if fc {
        let tool = name.replace('.', "_");
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": args.to_string()}}
        ]})
    } else {
        let rendered: Vec<String> = args
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        json!({"role": "assistant", "content": format!("[{name}({})]", rendered.join(", "))})
    }
}

async fn chat(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    mock.requests.fetch_add(1, Ordering::SeqCst);
    let now = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = respond(&mock, &headers, body).await;
    mock.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn respond(mock: &Mock, headers: &HeaderMap, body: Value) -> Response {
    if let Some(auth) = headers.get("authorization") {
        mock.auth
            .lock()
            .unwrap()
            .push(auth.to_str().unwrap().to_owned());
    }
    mock.bodies.lock().unwrap().push(body.clone());
    let question = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    if mock.broken.contains(&question) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    let attempt = {
        let mut calls = mock.calls_per_question.lock().unwrap();
        let n = calls.entry(question.clone()).or_default();
        *n += 1;
        *n - 1
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    match mock.faults.get(attempt) {
        Some(Fault::TooManyRequests) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            "slow down",
        )
            .into_response(),
        Some(Fault::ServerError) => (StatusCode::BAD_GATEWAY, "upstream error").into_response(),
        Some(Fault::Garbage) => (StatusCode::OK, "<html>not json</html>").into_response(),
        Some(Fault::Stall) => {
            // The client gives up after its timeout; an abandoned request is not in flight.
            mock.in_flight.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(5)).await;
            mock.in_flight.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, "late").into_response()
        }
        None => {
            let fc = body.get("tools").is_some();
            Json(json!({
                "choices": [{"index": 0, "message": answer(&question, fc), "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}
            }))
            .into_response()
        }
    }
}

async fn serve(mock: Arc<Mock>) -> String {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/v1")
}

/// A tiny BFCL data directory: simple_python with three entries.
fn tiny_dataset(dir: &std::path::Path) {
    let doc = |name: &str, params: Value, required: Value| json!({"name": name, "description": "Does it.", "parameters": {"type": "dict", "properties": params, "required": required}});
    let area = doc(
        "geometry.area",
        json!({"base": {"type": "integer", "description": "Base."}, "height": {"type": "integer", "description": "Height."}}),
        json!(["base", "height"]),
    );
    let factorial = doc(
        "math.factorial",
        json!({"number": {"type": "integer", "description": "N."}}),
        json!(["number"]),
    );
    let questions = [
        (
            "simple_python_0",
            "Area of a triangle with base 10 and height 5?",
            &area,
        ),
        ("simple_python_1", "What is 5 factorial?", &factorial),
        (
            "simple_python_2",
            "And the factorial of five, again?",
            &factorial,
        ),
    ];
    let answers = [
        json!({"geometry.area": {"base": [10], "height": [5]}}),
        json!({"math.factorial": {"number": [5]}}),
        json!({"math.factorial": {"number": [5]}}),
    ];
    let mut q = String::new();
    let mut a = String::new();
    for ((id, text, function), answer) in questions.iter().zip(answers) {
        q += &format!(
            "{}\n",
            json!({"id": id, "question": [[{"role": "user", "content": text}]], "function": [function]})
        );
        a += &format!("{}\n", json!({"id": id, "ground_truth": [answer]}));
    }
    std::fs::create_dir_all(dir.join("possible_answer")).unwrap();
    std::fs::write(dir.join("BFCL_v4_simple_python.json"), q).unwrap();
    std::fs::write(dir.join("possible_answer/BFCL_v4_simple_python.json"), a).unwrap();
}

fn client(base_url: &str, concurrency: usize) -> Arc<OpenAiClient> {
    let mut config = OpenAiConfig::new(base_url, "mock-model");
    config.api_key = Some("sk-test-secret".into());
    config.max_retries = 5;
    config.initial_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(50);
    config.timeout = Duration::from_millis(800);
    config.concurrency = concurrency;
    Arc::new(OpenAiClient::new(config).unwrap())
}

fn settings(mode: Mode) -> RunSettings {
    RunSettings {
        mode,
        temperature: Some(0.001),
        max_tokens: None,
        underscore_to_dot: mode == Mode::Fc,
        limit: None,
        constrain_calls: false,
        shard: None,
    }
}

/// Runs simple_python of the tiny dataset against the mock.
async fn run(
    client: &Arc<OpenAiClient>,
    data: &std::path::Path,
    out: &std::path::Path,
    mode: Mode,
) -> RunReport {
    let bar = progress_bar();
    run_category(
        Arc::clone(client),
        data,
        out,
        Category::SimplePython,
        &settings(mode),
        &bar,
    )
    .await
    .unwrap()
}

fn records(path: &std::path::Path) -> Vec<ResultRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prompt_mode_survives_faults_records_usage_and_resumes() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    tiny_dataset(data.path());
    let mock = Arc::new(Mock {
        faults: vec![
            Fault::TooManyRequests,
            Fault::ServerError,
            Fault::Garbage,
            Fault::Stall,
        ],
        ..Mock::default()
    });
    let url = serve(Arc::clone(&mock)).await;
    let client = client(&url, 2);

    let report = run(&client, data.path(), out.path(), Mode::Prompt).await;
    assert_eq!((report.queried, report.failed, report.skipped), (3, 0, 0));
    assert_eq!(
        mock.requests.load(Ordering::SeqCst),
        15,
        "4 faults + 1 answer per question"
    );
    assert!(
        mock.max_in_flight.load(Ordering::SeqCst) <= 2,
        "concurrency limit holds"
    );
    assert!(mock
        .auth
        .lock()
        .unwrap()
        .iter()
        .all(|a| a == "Bearer sk-test-secret"));

    let path = result_path(out.path(), Category::SimplePython);
    let lines = records(&path);
    let ids: Vec<&str> = lines.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["simple_python_0", "simple_python_1", "simple_python_2"],
        "dataset order"
    );
    assert_eq!(lines[1].result, json!("[math.factorial(number=5)]"));
    assert!(lines
        .iter()
        .all(|r| r.input_token_count == 100 && r.output_token_count == 7 && r.latency > 0.0));
    assert!(
        !std::fs::read_to_string(&path)
            .unwrap()
            .contains("sk-test-secret"),
        "no key in outputs"
    );

    // The official v4 system prompt goes first, with the docs as 4-space JSON.
    let bodies = mock.bodies.lock().unwrap().clone();
    let system = bodies[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are an expert in composing functions.You are given a question"));
    assert!(system.contains("Here is a list of functions in json format that you can invoke.\n[\n    {\n        \"name\": "));
    assert!(system.contains("Note that the provided function is in Python 3 syntax."));

    let scores = score_directory(
        data.path(),
        out.path(),
        settings(Mode::Prompt).score_options(),
    )
    .unwrap()
    .scores;
    assert_eq!(scores[0].correct(), 3);

    // A re-run finds every entry answered and sends nothing.
    let before = mock.requests.load(Ordering::SeqCst);
    let again = run(&client, data.path(), out.path(), Mode::Prompt).await;
    assert_eq!((again.queried, again.skipped), (0, 3));
    assert_eq!(mock.requests.load(Ordering::SeqCst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_keeps_failing_is_recorded_and_retried_on_the_next_run() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    tiny_dataset(data.path());
    let broken = Arc::new(Mock {
        broken: vec!["What is 5 factorial?".into()],
        ..Mock::default()
    });
    let url = serve(Arc::clone(&broken)).await;
    let report = run(&client(&url, 4), data.path(), out.path(), Mode::Prompt).await;
    assert_eq!(report.failed, 1);
    let path = result_path(out.path(), Category::SimplePython);
    let failed = records(&path)
        .into_iter()
        .find(|r| r.id == "simple_python_1")
        .unwrap();
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("HTTP 500 after 6 attempt(s)"),
        "{:?}",
        failed.error
    );

    let healthy = Arc::new(Mock::default());
    let url = serve(Arc::clone(&healthy)).await;
    let report = run(&client(&url, 4), data.path(), out.path(), Mode::Prompt).await;
    assert_eq!((report.queried, report.skipped, report.failed), (1, 2, 0));
    let lines = records(&path);
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|r| r.error.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fc_mode_sends_tools_and_stores_native_calls() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    tiny_dataset(data.path());
    let mock = Arc::new(Mock::default());
    let url = serve(Arc::clone(&mock)).await;
    run(&client(&url, 3), data.path(), out.path(), Mode::Fc).await;

    let bodies = mock.bodies.lock().unwrap().clone();
    let tools = bodies[0]["tools"].as_array().unwrap();
    assert!(
        tools[0]["function"]["name"].as_str().unwrap().contains('_'),
        "dots become underscores"
    );
    assert_eq!(tools[0]["function"]["parameters"]["type"], "object");
    assert_eq!(
        bodies[0]["messages"].as_array().unwrap().len(),
        1,
        "no system prompt in FC mode"
    );

    let lines = records(&result_path(out.path(), Category::SimplePython));
    assert_eq!(
        lines[1].result,
        json!([{"math_factorial": "{\"number\":5}"}])
    );
    let scores = score_directory(data.path(), out.path(), settings(Mode::Fc).score_options())
        .unwrap()
        .scores;
    assert_eq!(scores[0].correct(), 3);
}
