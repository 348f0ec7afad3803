//! The BFCL runner against a mock OpenAI-compatible server on 127.0.0.1 that
//! injects 429s, 500s, timeouts and garbage replies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use toolgrad_core::llm::openai::{OpenAiClient, OpenAiConfig};
use toolgrad_core::llm::{ChatRequest, FunctionCall, ToolCall, Usage};
use toolgrad_eval::category::Category;
use toolgrad_eval::runner::results::ResultRecord;
use toolgrad_eval::runner::{
    progress_bar, result_path, run_category, Mode, RunReport, RunSettings,
};
use toolgrad_eval::score::score_directory;
use toolgrad_testkit::{serve, Fault, MockOptions, MockServer, Reply, Responder};

/// The reply a perfect model gives to each question of the tiny dataset:
/// native tool calls when the request offers tools, else the prompt-mode text.
fn answer(request: &ChatRequest) -> Reply {
    let question = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .and_then(|m| m.content.as_deref())
        .unwrap_or_default();
    let (name, args) = if question.contains("triangle") {
        ("geometry.area", json!({"base": 10, "height": 5}))
    } else {
        ("math.factorial", json!({"number": 5}))
    };
    let usage = Usage {
        prompt_tokens: 100,
        completion_tokens: 7,
    };
    if !request.tools.is_empty() {
        let call = ToolCall {
            id: "call_1".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: name.replace('.', "_"),
                arguments: args.to_string(),
            },
        };
        return Reply {
            content: None,
            tool_calls: vec![call],
            usage,
        };
    }
    let rendered: Vec<String> = args
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Reply {
        content: Some(format!("[{name}({})]", rendered.join(", "))),
        tool_calls: Vec::new(),
        usage,
    }
}

/// The mock with `options`, answering as [`answer`] after a 20 ms latency.
async fn mock(options: MockOptions) -> MockServer {
    serve(
        MockOptions {
            latency: Duration::from_millis(20),
            responder: Responder::new(answer),
            ..options
        },
        0,
    )
    .await
    .unwrap()
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
    let mock = mock(MockOptions {
        faults_per_question: vec![
            Fault::TooManyRequests,
            Fault::ServerError,
            Fault::NotJson,
            Fault::Stall,
        ],
        ..MockOptions::default()
    })
    .await;
    let client = client(&mock.base_url(), 2);

    let report = run(&client, data.path(), out.path(), Mode::Prompt).await;
    assert_eq!((report.queried, report.failed, report.skipped), (3, 0, 0));
    assert_eq!(mock.requests(), 15, "4 faults + 1 answer per question");
    assert!(mock.max_in_flight() <= 2, "concurrency limit holds");
    let authorizations = mock.authorizations();
    assert_eq!(authorizations.len(), 15);
    assert!(authorizations.iter().all(|a| a == "Bearer sk-test-secret"));

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
    let bodies = mock.bodies();
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
    let before = mock.requests();
    let again = run(&client, data.path(), out.path(), Mode::Prompt).await;
    assert_eq!((again.queried, again.skipped), (0, 3));
    assert_eq!(mock.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_keeps_failing_is_recorded_and_retried_on_the_next_run() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    tiny_dataset(data.path());
    let broken = mock(MockOptions {
        broken_questions: vec!["What is 5 factorial?".into()],
        ..MockOptions::default()
    })
    .await;
    let report = run(
        &client(&broken.base_url(), 4),
        data.path(),
        out.path(),
        Mode::Prompt,
    )
    .await;
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

    let healthy = mock(MockOptions::default()).await;
    let report = run(
        &client(&healthy.base_url(), 4),
        data.path(),
        out.path(),
        Mode::Prompt,
    )
    .await;
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
    let mock = mock(MockOptions::default()).await;
    run(
        &client(&mock.base_url(), 3),
        data.path(),
        out.path(),
        Mode::Fc,
    )
    .await;

    let bodies = mock.bodies();
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
