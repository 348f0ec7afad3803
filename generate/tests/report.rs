//! `report::describe` over two small real runs, a ToolGrad run and a DFS run
//! with scripted LLMs, checked against numbers computed here from their
//! files; the markdown, CSV and chart; and errors that name the bad file.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use toolgrad_core::llm::{ChatModel, ChatRequest, ChatResponse, LlmError};
use toolgrad_generate::config::{DfsConfig, Method};
use toolgrad_generate::dfs::{DfsEngine, DfsRoles};
use toolgrad_generate::engine::LoopConfig;
use toolgrad_generate::report::{self, chart};
use toolgrad_generate::run::run;
use toolgrad_generate::validate::{Validator, ValidatorConfig};
use toolgrad_testkit::scripted::ScriptedLlm;

/// The scripted LLM, except that the judge finds every second answer unsolved.
#[derive(Default)]
struct StrictJudge {
    inner: ScriptedLlm,
    judged: AtomicU64,
}

impl ChatModel for StrictJudge {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut response = self.inner.chat(request).await?;
        let judge = request
            .response_format
            .as_ref()
            .is_some_and(|f| f["json_schema"]["name"] == "check_answer_status");
        if judge && self.judged.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
            response.content = Some(
                r#"{"reason": "It answers another question.", "answer_status": "Unsolved"}"#.into(),
            );
        }
        Ok(response)
    }
}

async fn toolgrad_run(out: &Path) {
    let config = LoopConfig {
        num_apis: 10,
        num_proposals: 2,
        max_iter: 3,
        gradient_memory: 0,
    };
    let engine = common::llm_engine(
        common::role_llm(Arc::new(ScriptedLlm::default()), None),
        config,
    );
    run(Arc::new(engine), &[1, 2, 3, 4], 2, out, false)
        .await
        .unwrap();
}

async fn dfs_run(out: &Path) {
    let llm = common::role_llm(Arc::new(StrictJudge::default()), None);
    let engine = DfsEngine {
        config: DfsConfig::default(),
        num_apis: 10,
        max_iter: 3,
        roles: DfsRoles {
            query_writer: llm.clone(),
            solver: llm.clone(),
            judge: llm,
        },
        toolbox: Arc::new(common::builtin_toolbox()),
        validator: Validator::new(ValidatorConfig::default()),
    };
    // One seed at a time, so that the judge rejects the same seeds every run.
    run(Arc::new(engine), &[1, 2, 3, 4], 1, out, false)
        .await
        .unwrap();
}

fn json_files(dir: &Path) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

/// Totals over every seed / accepted seeds, straight from the metadata files.
fn expected_per_accepted(run: &Path, field: &str) -> f64 {
    let metadata = json_files(&run.join("metadata"));
    let accepted = metadata.iter().filter(|m| m["accepted"] == true).count();
    let total: f64 = metadata.iter().map(|m| m[field].as_f64().unwrap()).sum();
    total / accepted as f64
}

#[tokio::test]
async fn the_report_reads_real_numbers_from_both_kinds_of_run() {
    let dir = tempfile::tempdir().unwrap();
    let (tg, dfs) = (dir.path().join("toolgrad-run"), dir.path().join("dfs-run"));
    toolgrad_run(&tg).await;
    dfs_run(&dfs).await;
    let rows = [
        report::describe(&tg).unwrap(),
        report::describe(&dfs).unwrap(),
    ];

    for (row, run) in rows.iter().zip([&tg, &dfs]) {
        let metadata = json_files(&run.join("metadata"));
        let accepted: Vec<&Value> = metadata.iter().filter(|m| m["accepted"] == true).collect();
        assert_eq!(row.seeds, 4);
        assert_eq!(row.accepted, accepted.len());
        let p = row.per_accepted.unwrap();
        for (value, field) in [
            (p.llm_calls, "llm_calls"),
            (p.tool_calls, "tool_calls"),
            (p.prompt_tokens, "prompt_tokens"),
            (p.completion_tokens, "completion_tokens"),
            (p.cost_usd, "cost_usd"),
            (p.wall_time_s, "wall_time_s"),
        ] {
            assert!(
                close(value, expected_per_accepted(run, field)),
                "{field}: {value}"
            );
        }
        // Tool uses: the steps of the accepted workflows in dataset.jsonl.
        let dataset = std::fs::read_to_string(run.join("dataset.jsonl")).unwrap();
        let steps: usize = dataset
            .lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).unwrap();
                record["api_use_chains"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|c| c["intermediate_steps"].as_array().unwrap().len())
                    .sum::<usize>()
            })
            .sum();
        assert!(close(
            row.tool_uses.unwrap(),
            steps as f64 / accepted.len() as f64
        ));
    }

    let toolgrad = &rows[0];
    assert_eq!(toolgrad.method, Method::Toolgrad);
    let traces = json_files(&tg.join("trace"));
    let iterations: Vec<&Value> = traces.iter().flat_map(|t| t.as_array().unwrap()).collect();
    let reached = iterations
        .iter()
        .filter(|i| {
            i["executions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["success"] == true)
        })
        .count();
    let selected = iterations
        .iter()
        .filter(|i| !i["gradient"]["chosen"].is_null())
        .count();
    let kinds = |kind: &str| {
        iterations
            .iter()
            .filter(|i| i["update"]["kind"] == kind)
            .count()
    };
    let early = iterations
        .iter()
        .filter(|i| !i["early_next"].is_null())
        .count();
    let g = toolgrad.gradient.as_ref().unwrap();
    assert_eq!(g.iterations, 12);
    assert_eq!((g.reached_selector, g.selected), (reached, selected));
    assert_eq!(
        (g.new_chain, g.appended),
        (kinds("new_chain"), kinds("appended"))
    );
    assert_eq!(g.early_next.iter().map(|(_, n)| n).sum::<usize>(), early);
    assert!(close(
        g.selection_rate().unwrap(),
        selected as f64 / reached as f64
    ));

    let baseline = &rows[1];
    assert_eq!(baseline.method, Method::Dfs);
    assert!(baseline.gradient.is_none());
    // The judge rejected seeds 2 and 4 (every second judgement).
    assert_eq!(baseline.accepted, 2);
    assert!(close(baseline.pass_rate(), 0.5));
    assert_eq!(
        baseline.rejections,
        vec![(
            "judge: Unsolved (It answers another question.)".to_owned(),
            2
        )]
    );
    // The rejected seeds' calls count in the cost of the accepted ones.
    let all_calls: f64 = json_files(&dfs.join("metadata"))
        .iter()
        .map(|m| m["llm_calls"].as_f64().unwrap())
        .sum();
    assert!(close(
        baseline.per_accepted.unwrap().llm_calls,
        all_calls / 2.0
    ));

    let markdown = report::markdown(&rows);
    assert!(
        markdown.contains("| dfs-run | dfs | 4 | 2 | 50.0 % |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("judge: Unsolved (It answers another question.) (2)"),
        "{markdown}"
    );
    assert!(markdown.contains("rejected seeds included"), "{markdown}");
    let csv = report::csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("run,method,seeds,accepted,pass_rate,llm_calls_per_accepted"));
    let dfs_fields: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(&dfs_fields[..5], ["dfs-run", "dfs", "4", "2", "0.5"]);
    assert_eq!(dfs_fields[12], "", "no gradient for DFS");
    let chart_path = dir.path().join("report/generation.png");
    chart::bar_chart(&rows, &chart_path).unwrap();
    let png = std::fs::read(&chart_path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5000,
        "{} bytes",
        png.len()
    );
}

#[tokio::test]
async fn bad_run_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let error = report::describe(&dir.path().join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nowhere/metadata") && error.contains("output directory"),
        "{error}"
    );
    std::fs::create_dir_all(dir.path().join("empty/metadata")).unwrap();
    let error = report::describe(&dir.path().join("empty"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no finished seed"), "{error}");

    let tg = dir.path().join("tg");
    toolgrad_run(&tg).await;
    std::fs::remove_file(tg.join("trace/00003.json")).unwrap();
    let error = report::describe(&tg).unwrap_err().to_string();
    assert!(error.contains("trace/00003.json"), "{error}");
    std::fs::write(tg.join("metadata/00002.json"), "{\"seed\": ").unwrap();
    let error = report::describe(&tg).unwrap_err().to_string();
    assert!(error.contains("metadata/00002.json"), "{error}");

    // A folder that mixes methods is refused, naming the odd file.
    let dfs = dir.path().join("dfs");
    dfs_run(&dfs).await;
    std::fs::copy(
        tg.join("metadata/00001.json"),
        dfs.join("metadata/00009.json"),
    )
    .unwrap();
    let error = report::describe(&dfs).unwrap_err().to_string();
    assert!(
        error.contains("00009.json") && error.contains("one run per method"),
        "{error}"
    );
}
