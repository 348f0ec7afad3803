//! `toolgrad eval` as a user runs it: outputs on disk, and clear errors on bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use toolgrad_testkit::{serve_in_thread, MockOptions, Reply, Responder};

fn toolgrad(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_toolgrad"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A BFCL data dir with two simple_python entries and two irrelevance entries.
fn dataset(dir: &Path) {
    let doc = r#"{"name": "math.factorial", "description": "N!", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "N."}}, "required": ["number"]}}"#;
    let question = |id: &str| {
        format!(
            r#"{{"id": "{id}", "question": [[{{"role": "user", "content": "5!?"}}]], "function": [{doc}]}}"#
        )
    };
    std::fs::create_dir_all(dir.join("possible_answer")).unwrap();
    std::fs::write(
        dir.join("BFCL_v4_simple_python.json"),
        format!(
            "{}\n{}\n",
            question("simple_python_0"),
            question("simple_python_1")
        ),
    )
    .unwrap();
    let answer = |id: &str| {
        format!(r#"{{"id": "{id}", "ground_truth": [{{"math.factorial": {{"number": [5]}}}}]}}"#)
    };
    std::fs::write(
        dir.join("possible_answer/BFCL_v4_simple_python.json"),
        format!(
            "{}\n{}\n",
            answer("simple_python_0"),
            answer("simple_python_1")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("BFCL_v4_irrelevance.json"),
        format!(
            "{}\n{}\n",
            question("irrelevance_0"),
            question("irrelevance_1")
        ),
    )
    .unwrap();
}

/// A temp dir with the dataset in `data/`, an empty results folder at `results`
/// (relative to it), and the path `out/`.
fn fixture(results: &str) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (data, results, out) = (
        dir.path().join("data"),
        dir.path().join(results),
        dir.path().join("out"),
    );
    dataset(&data);
    std::fs::create_dir_all(&results).unwrap();
    (dir, data, results, out)
}

fn score(data: &Path, results: &Path, out: &Path) -> std::process::Output {
    toolgrad(&[
        "eval",
        "score",
        "--data",
        data.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn writes_verdicts_and_summaries() {
    let (dir, data, results, out) = fixture("results/model");
    std::fs::write(
        results.join("BFCL_v4_simple_python_result.json"),
        "{\"id\": \"simple_python_0\", \"result\": \"[math.factorial(number=5)]\"}\n\
         {\"id\": \"simple_python_1\", \"result\": \"```python\\n[math.factorial(number=5)]\\n```\"}\n",
    )
    .unwrap();
    std::fs::write(
        results.join("BFCL_v4_irrelevance_result.json"),
        "{\"id\": \"irrelevance_0\", \"result\": \"I cannot do that.\"}\n",
    )
    .unwrap();
    let output = score(&data, &dir.path().join("results"), &out);
    assert!(output.status.success(), "{}", stderr(&output));

    let verdicts = std::fs::read_to_string(out.join("simple_python.verdicts.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = verdicts
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["error_type"], "ast_decoder:decoder_failed");

    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(csv.contains("simple_python,50.00,1,2,0,2"), "{csv}");
    assert!(
        csv.contains("irrelevance,50.00,1,1,1,2"),
        "missing entries count as wrong: {csv}"
    );
    assert!(std::fs::read_to_string(out.join("summary.md"))
        .unwrap()
        .contains("| irrelevance | 50.00 |"));
    assert!(stderr(&output).contains("irrelevance: 1 of 2 entries have no result"));
}

#[test]
fn bad_result_files_are_named_with_their_line() {
    let (_dir, data, results, out) = fixture("results");
    let file = results.join("BFCL_v4_simple_python_result.json");
    let cases = [
        ("{\"id\": \"simple_python_0\", \"result\": \"[]\"}\nnot json\n", ":2: not a result line"),
        ("{\"id\": \"simple_python_0\"}\n", ":1: not a result line"),
        (
            "{\"id\": \"simple_python_7\", \"result\": \"[]\"}\n",
            ":1: id `simple_python_7` is not in the simple_python dataset",
        ),
        (
            "{\"id\": \"simple_python_0\", \"result\": \"[]\"}\n{\"id\": \"simple_python_0\", \"result\": \"[]\"}\n",
            ":2: id `simple_python_0` appears again (first on line 1)",
        ),
    ];
    for (content, message) in cases {
        std::fs::write(&file, content).unwrap();
        let output = score(&data, &results, &out);
        assert_eq!(output.status.code(), Some(2));
        let err = stderr(&output);
        assert!(
            err.contains("BFCL_v4_simple_python_result.json") && err.contains(message),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }

    // Other BFCL categories are skipped with a note; a name BFCL lacks is an error.
    std::fs::write(&file, "{\"id\": \"simple_python_0\", \"result\": \"[]\"}\n").unwrap();
    std::fs::write(results.join("BFCL_v4_multi_turn_base_result.json"), "").unwrap();
    let output = score(&data, &results, &out);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output)
        .contains("BFCL_v4_multi_turn_base_result.json is not a single-turn category; skipped"));

    std::fs::remove_file(&file).unwrap();
    std::fs::write(results.join("BFCL_v4_memory_result.json"), "").unwrap();
    let err = stderr(&score(&data, &results, &out));
    assert!(err.contains("unknown BFCL category `memory`"), "{err}");
}

#[test]
fn missing_data_and_bad_config_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let output = score(
        &dir.path().join("nowhere"),
        dir.path(),
        &dir.path().join("out"),
    );
    assert!(
        stderr(&output).contains("BFCL data not found"),
        "{}",
        stderr(&output)
    );

    let data = dir.path().join("data");
    dataset(&data);
    let config = dir.path().join("models.toml");
    let run = |categories: &str| {
        toolgrad(&[
            "eval",
            "bfcl",
            "--model",
            "m",
            "--config",
            config.to_str().unwrap(),
            "--categories",
            categories,
            "--out",
            dir.path().join("run").to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
    };
    std::fs::write(
        &config,
        "[models.m]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nconcurency = 2\n",
    )
    .unwrap();
    let err = stderr(&run("simple_python"));
    assert!(
        err.contains("models.toml") && err.contains("concurency"),
        "{err}"
    );

    std::fs::write(
        &config,
        "[models.m]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\napi_key_env = \"TOOLGRAD_TEST_UNSET_KEY\"\n",
    )
    .unwrap();
    let err = stderr(&run("simple"));
    assert!(err.contains("unknown BFCL category `simple`"), "{err}");
    let err = stderr(&run("simple_python"));
    assert!(
        err.contains("TOOLGRAD_TEST_UNSET_KEY") && err.contains("not set"),
        "{err}"
    );
}

/// A chat-completions server on 127.0.0.1 that always answers `[math.factorial(number=5)]`.
fn serve_factorial() -> String {
    let options = MockOptions {
        responder: Responder::new(|_| Reply::text("[math.factorial(number=5)]", 50, 9)),
        ..MockOptions::default()
    };
    serve_in_thread(options).unwrap().base_url()
}

#[test]
fn bfcl_runs_a_model_and_scores_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data);
    let config = dir.path().join("models.toml");
    std::fs::write(
        &config,
        format!(
            "[models.mock]\nbase_url = \"{}\"\nmodel = \"m\"\n",
            serve_factorial()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let output = toolgrad(&[
        "eval",
        "bfcl",
        "--model",
        "mock",
        "--config",
        config.to_str().unwrap(),
        "--categories",
        "simple_python,irrelevance",
        "--out",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let results =
        std::fs::read_to_string(out.join("result/BFCL_v4_simple_python_result.json")).unwrap();
    let first: serde_json::Value = serde_json::from_str(results.lines().next().unwrap()).unwrap();
    assert_eq!(first["result"], "[math.factorial(number=5)]");
    assert_eq!(first["input_token_count"], 50);
    let csv = std::fs::read_to_string(out.join("score/summary.csv")).unwrap();
    assert!(csv.contains("simple_python,100.00,2,2,0,2"), "{csv}");
    assert!(
        csv.contains("irrelevance,0.00,0,2,0,2"),
        "a model that always calls fails irrelevance: {csv}"
    );

    // A smoke run: the first entry of each category, scored over what was answered.
    let smoke = dir.path().join("smoke");
    let mut args = vec![
        "eval",
        "bfcl",
        "--model",
        "mock",
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend([
        "--categories",
        "simple_python",
        "--limit",
        "1",
        "--data",
        data.to_str().unwrap(),
    ]);
    args.extend(["--out", smoke.to_str().unwrap()]);
    let output = toolgrad(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let csv = std::fs::read_to_string(smoke.join("score/summary.csv")).unwrap();
    assert!(csv.contains("simple_python,100.00,1,1,1,2"), "{csv}");
}
