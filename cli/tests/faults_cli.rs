//! The fault and kill campaign end to end: `generate` (every role on the LLM
//! policy) and `eval bfcl` against a hostile endpoint that rotates through
//! malformed, truncated, oversized, empty, null, wrong-typed, bad-tool-call,
//! 429-with-odd-`Retry-After` and 5xx replies, each run twice (the second
//! resumes the first, killed midway); and `eval bfcl` killed with SIGKILL and
//! resumed to the uninterrupted run's answers.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toolgrad_testkit::{serve, MockOptions, MockServer};

mod common;

use common::{generate_command, run_blocking as run, TOOLGRAD};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn no_panic(output: &Output) {
    let text = stderr(output);
    assert!(!text.contains("panicked"), "{text}");
    assert_ne!(output.status.code(), Some(101), "{text}");
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Starts `command`, waits until `progress()` reaches `at` (or the command
/// ends), then kills it with SIGKILL.
async fn kill_when(mut command: Command, at: usize, progress: impl Fn() -> usize) {
    let mut child = command.stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while progress() < at && child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_on_a_hostile_endpoint_finishes_resumes_and_verifies() {
    let options = MockOptions {
        hostile: true,
        ..MockOptions::default()
    };
    let server = serve(options, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            r#"
num_seeds = 8
num_apis = 8
num_proposals = 2
max_iter = 2
concurrency = 4
[policy]
proposer = "llm"
executor = "llm"
selector = "llm"
inverse = "llm"
[llm]
base_url = "{}"
model = "mock"
max_retries = 3
timeout_s = 20
[[tools]]
kind = "builtin"
"#,
            server.base_url()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    kill_when(generate_command(&config, &out, &[]), 2, || {
        std::fs::read_dir(out.join("metadata")).map_or(0, |d| d.count())
    })
    .await;
    let resumed = run(generate_command(&config, &out, &[])).await;
    no_panic(&resumed);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let again = run(generate_command(&config, &out, &[])).await;
    no_panic(&again);
    assert!(again.status.success(), "{}", stderr(&again));

    let dataset = out.join("dataset.jsonl");
    assert!(
        lines(&dataset) > 0,
        "no sample survived the hostile endpoint"
    );
    let verify = Command::new(TOOLGRAD)
        .arg("verify")
        .arg(&dataset)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(server.requests() > 20);
}

/// A BFCL `simple_python` file of `n` entries and its answers.
fn bfcl_data(dir: &Path, n: usize) {
    let function = r#"{"name": "math.factorial", "description": "N!", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "N."}}, "required": ["number"]}}"#;
    let entries: String = (0..n)
        .map(|i| {
            format!(
                "{{\"id\": \"simple_python_{i}\", \"question\": [[{{\"role\": \"user\", \"content\": \"{i}!?\"}}]], \"function\": [{function}]}}\n"
            )
        })
        .collect();
    let answers: String = (0..n)
        .map(|i| {
            format!(
                "{{\"id\": \"simple_python_{i}\", \"ground_truth\": [{{\"math.factorial\": {{\"number\": [{i}]}}}}]}}\n"
            )
        })
        .collect();
    std::fs::create_dir_all(dir.join("possible_answer")).unwrap();
    std::fs::write(dir.join("BFCL_v4_simple_python.json"), entries).unwrap();
    std::fs::write(
        dir.join("possible_answer/BFCL_v4_simple_python.json"),
        answers,
    )
    .unwrap();
}

fn eval_command(server: &MockServer, dir: &Path, out: &Path) -> Command {
    let config = dir.join("models.toml");
    std::fs::write(
        &config,
        format!(
            "[models.mock]\nbase_url = \"{}\"\nmodel = \"m\"\nconcurrency = 2\nmax_retries = 2\ninitial_backoff_s = 0.01\nmax_backoff_s = 0.05\n",
            server.base_url()
        ),
    )
    .unwrap();
    let mut command = Command::new(TOOLGRAD);
    command
        .args([
            "eval",
            "bfcl",
            "--model",
            "mock",
            "--categories",
            "simple_python",
        ])
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--out")
        .arg(out);
    command
}

/// The result lines of a run, by id, each parsed (a torn line fails here).
fn results(out: &Path) -> Vec<(String, Value)> {
    let path = out.join("result/BFCL_v4_simple_python_result.json");
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: torn line {line:?}: {e}", path.display()));
            (value["id"].as_str().unwrap().to_owned(), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_bfcl_on_a_hostile_endpoint_finishes_and_resumes() {
    let server = serve(
        MockOptions {
            hostile: true,
            latency: Duration::from_millis(20),
            ..MockOptions::default()
        },
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    bfcl_data(&dir.path().join("data"), 24);
    let out = dir.path().join("run");
    let result = out.join("result/BFCL_v4_simple_python_result.json");
    kill_when(eval_command(&server, dir.path(), &out), 4, || {
        lines(&result)
    })
    .await;
    // A request the endpoint failed on every retry fails the run, which then
    // says to re-run it; re-runs retry only those, until none is left.
    let mut reruns = 0;
    loop {
        let output = run(eval_command(&server, dir.path(), &out)).await;
        no_panic(&output);
        reruns += 1;
        if output.status.success() {
            break;
        }
        assert!(
            stderr(&output).contains("re-run the same command to retry them"),
            "{}",
            stderr(&output)
        );
        assert!(reruns < 8, "still failing after {reruns} runs");
    }
    let answered = results(&out);
    let ids: Vec<&str> = answered.iter().map(|(id, _)| id.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        (ids.len(), unique.len()),
        (24, 24),
        "every entry once: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_bfcl_killed_midway_resumes_to_the_uninterrupted_answers() {
    let server = serve(
        MockOptions {
            latency: Duration::from_millis(30),
            ..MockOptions::default()
        },
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    bfcl_data(&dir.path().join("data"), 30);
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let output = run(eval_command(&server, dir.path(), &whole)).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let result = killed.join("result/BFCL_v4_simple_python_result.json");
    kill_when(eval_command(&server, dir.path(), &killed), 5, || {
        lines(&result)
    })
    .await;
    let partial = results(&killed).len();
    assert!((5..30).contains(&partial), "killed at {partial} of 30");
    let output = run(eval_command(&server, dir.path(), &killed)).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let answers = |out: &Path| -> Vec<(String, Value)> {
        results(out)
            .into_iter()
            .map(|(id, v)| (id, v["result"].clone()))
            .collect()
    };
    assert_eq!(answers(&whole), answers(&killed));
    assert_eq!(answers(&whole).len(), 30);
}
