//! `toolgrad format` and `toolgrad report dataset` end to end: an offline run
//! in every format, each baseline fixture imported, and bad input named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOOLGRAD: &str = env!("CARGO_BIN_EXE_toolgrad");

fn toolgrad(args: &[&str]) -> Output {
    Command::new(TOOLGRAD).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../format/tests/fixtures/import")
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn an_offline_run_is_formatted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let sft = dir.path().join("sft");
    let (run_s, sft_s) = (run.display().to_string(), sft.display().to_string());
    let config = repo("configs/generate-offline.toml");
    let out = toolgrad(&[
        "generate",
        "--quiet",
        "--config",
        &config,
        "--out",
        &run_s,
        "--num-seeds",
        "10",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let paper = repo("configs/format-paper.toml");
    let out = toolgrad(&["format", &run_s, "--out", &sft_s, "--config", &paper]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    // 10 workflows: 1 held out; int(9 × 0.2) = 1 negative in train.
    assert!(log.contains("bfcl-python/train.jsonl: 10 samples"), "{log}");
    assert!(log.contains("bfcl-python/test.jsonl: 1 samples"), "{log}");
    for format in ["bfcl-python", "openai-tools", "sharegpt", "agentic"] {
        assert!(sft.join(format).join("train.jsonl").exists(), "{format}");
    }
    let out = toolgrad(&["report", "dataset", &sft_s, "--out", &sft_s]);
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.starts_with("| dataset | samples |"), "{table}");
    assert!(table.contains("| sft | 11 | 1 |"), "{table}");
    let csv = std::fs::read_to_string(sft.join("datasets.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2);
}

#[test]
fn every_baseline_fixture_imports_with_its_problems_counted() {
    let dir = tempfile::tempdir().unwrap();
    for (format, file, rows) in [
        ("xlam", "xlam.json", 6),
        ("toolace", "toolace.jsonl", 6),
        ("glaive", "glaive.jsonl", 5),
        ("hermes", "hermes.jsonl", 5),
        ("toolbench", "toolbench", 6),
    ] {
        let input = fixtures().join(file).display().to_string();
        let out_dir = dir.path().join(format).display().to_string();
        let out = toolgrad(&["format", &input, "--import", format, "--out", &out_dir]);
        let log = text(&out);
        assert!(out.status.success(), "{format}: {log}");
        assert!(log.contains(&format!("{rows} rows")), "{format}: {log}");
        assert!(log.contains("left out (malformed rows)"), "{format}: {log}");
        assert!(
            Path::new(&out_dir).join("bfcl-python/train.jsonl").exists(),
            "{format}"
        );
        let card = std::fs::read_to_string(Path::new(&out_dir).join("README.md")).unwrap();
        assert!(card.contains("- config_name: bfcl-python"), "{card}");
    }
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out").display().to_string();
    let missing = dir.path().join("nope").display().to_string();
    let out = toolgrad(&["format", &missing, "--out", &out_dir]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("dataset.jsonl"), "{}", text(&out));
    let out = toolgrad(&["format", &missing, "--import", "parquet", "--out", &out_dir]);
    assert!(!out.status.success());
    assert!(text(&out).contains("parquet"), "{}", text(&out));
    let config = dir.path().join("f.toml");
    std::fs::write(&config, "negative_ratio = -1\n").unwrap();
    let config = config.display().to_string();
    let out = toolgrad(&["format", &missing, "--out", &out_dir, "--config", &config]);
    assert!(text(&out).contains("negative_ratio"), "{}", text(&out));
    let out = toolgrad(&["report", "dataset", &missing]);
    assert!(text(&out).contains("samples.jsonl"), "{}", text(&out));
}

/// A run whose only tools come from an MCP server (our own library served over
/// stdio), played by the scripted LLM: `format` needs nothing but the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_only_run_formats_from_its_catalog() {
    use toolgrad_testkit::{serve, MockOptions};
    let server = serve(MockOptions::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            r#"
num_seeds = 6
num_apis = 10
num_proposals = 2
max_iter = 3
concurrency = 2
[policy]
proposer = "llm"
executor = "llm"
selector = "llm"
inverse = "llm"
[llm]
base_url = "{}"
model = "mock"
[[tools]]
kind = "mcp"
name = "lib"
command = "{TOOLGRAD}"
args = ["tools", "mcp"]
"#,
            server.base_url()
        ),
    )
    .unwrap();
    let run = dir.path().join("run").display().to_string();
    let sft = dir.path().join("sft");
    let config = config.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        toolgrad(&["generate", "--quiet", "--config", &config, "--out", &run])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = dir.path().join("run");
    let catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("tools.json")).unwrap()).unwrap();
    let catalog = catalog.as_array().unwrap();
    assert!(catalog.len() > 40);
    assert!(catalog
        .iter()
        .all(|t| t["family"] == "mcp:lib" && t["parameters"]["type"] == "object"));
    let out = toolgrad(&[
        "format",
        &run.display().to_string(),
        "--out",
        &sft.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(sft.join("agentic/train.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty(), "{}", text(&out));
    for row in &rows {
        let query = row["messages"][0]["content"].as_str().unwrap();
        assert!(query.starts_with("Scripted agentic query"), "{query}");
        let tools: serde_json::Value =
            serde_json::from_str(row["tools"].as_str().unwrap()).unwrap();
        assert_eq!(tools.as_array().unwrap().len(), 10);
    }
}
