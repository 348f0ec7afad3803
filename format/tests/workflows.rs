//! `format_run` over a real offline run (built-in tools, rule policy) and over
//! an MCP-only run whose tools exist only in `tools.json`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use toolgrad_eval::decode::python::decode_prompt_reply;
use toolgrad_eval::decode::Decoded;
use toolgrad_format::output::read_samples;
use toolgrad_format::render::bfcl_system_prompt;
use toolgrad_format::{format_run, FormatConfig};
use toolgrad_generate::config::GenerateConfig;
use toolgrad_generate::derived::{derived_values, leaked};
use toolgrad_generate::run::DatasetRecord;

async fn offline_run(seeds: u64, out: &Path) {
    let text = include_str!("../../configs/generate-offline.toml");
    let mut config = GenerateConfig::parse(text, Path::new("generate-offline.toml")).unwrap();
    config.num_seeds = seeds;
    let engine = Arc::new(
        toolgrad_generate::setup::engine(&config, out)
            .await
            .unwrap(),
    );
    toolgrad_generate::run::run(engine, &config.seeds(), 4, out, false)
        .await
        .unwrap();
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn records(run: &Path) -> Vec<DatasetRecord> {
    std::fs::read_to_string(run.join("dataset.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn an_offline_run_becomes_every_format() {
    let run = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    offline_run(20, run.path()).await;
    let config = FormatConfig::default();
    let summary = format_run(run.path(), out.path(), &config, "test").unwrap();
    let records = records(run.path());
    let catalog = toolgrad_generate::catalog::read(&run.path().join("tools.json")).unwrap();
    let family = |name: &str| {
        catalog
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.family.clone())
            .unwrap()
    };

    // Split by workflow: 2 of 20 held out, no workflow in both; negatives follow.
    let samples = read_samples(out.path()).unwrap();
    let train = lines(&out.path().join("bfcl-python/train.jsonl"));
    let test = lines(&out.path().join("bfcl-python/test.jsonl"));
    let ids = |rows: &[Value]| -> HashSet<String> {
        rows.iter()
            .map(|r| {
                r["id"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches("-neg")
                    .to_owned()
            })
            .collect()
    };
    assert!(ids(&train).is_disjoint(&ids(&test)));
    assert_eq!(ids(&test).len(), 2);
    assert_eq!(samples.len(), train.len() + test.len());
    let negatives: Vec<_> = samples.iter().filter(|s| s.negative).collect();
    assert_eq!(negatives.len(), 3, "int(18 × 0.2) + int(2 × 0.2)");

    for row in train.iter().chain(&test) {
        let id = row["id"].as_str().unwrap();
        let sample = samples.iter().find(|s| s.id == id).unwrap();
        let messages = row["messages"].as_array().unwrap();
        // The system prompt is eval's BFCL prompt for exactly these candidates.
        assert_eq!(messages[0]["content"], bfcl_system_prompt(&sample.tools));
        assert!(messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("Python 3 syntax"));
        assert_eq!(sample.tools.len(), config.num_tools);
        let target = messages[2]["content"].as_str().unwrap();
        let Ok(Decoded::Calls(decoded)) = decode_prompt_reply(target) else {
            panic!("{target} does not decode");
        };
        let Some(record) = records.iter().find(|r| r.id == id.trim_end_matches("-neg")) else {
            panic!("no record {id}");
        };
        if sample.negative {
            assert!(decoded.is_empty());
            let used: HashSet<String> = record
                .workflow
                .steps()
                .map(|s| family(&s.action().tool))
                .collect();
            for tool in &sample.tools {
                assert!(
                    !used.contains(&tool.family),
                    "{id}: {} shares a used family",
                    tool.name
                );
            }
            continue;
        }
        // Every call decodes to exactly the executed call, in chain order.
        let executed: Vec<_> = record.workflow.steps().map(|s| s.action()).collect();
        assert_eq!(decoded.len(), executed.len(), "{target}");
        for (got, want) in decoded.iter().zip(executed) {
            assert_eq!(got.name, want.tool);
            let args: serde_json::Map<String, Value> = got
                .args
                .iter()
                .map(|(k, v)| (k.clone().unwrap(), v.to_json()))
                .collect();
            assert_eq!(Value::Object(args), want.tool_input);
        }
        let names: HashSet<&str> = sample.tools.iter().map(|t| t.name.as_str()).collect();
        assert!(executed_names(record)
            .iter()
            .all(|n| names.contains(n.as_str())));
    }

    // Agentic: no observation-derived value in any query; calls, then tool
    // turns with the recorded observations, then the answer.
    let agentic = lines(&out.path().join("agentic/train.jsonl"));
    assert!(!agentic.is_empty());
    for row in &agentic {
        let id = row["id"].as_str().unwrap();
        let record = records
            .iter()
            .find(|r| r.id == id.trim_end_matches("-neg"))
            .unwrap();
        let messages = row["messages"].as_array().unwrap();
        let query = messages[0]["content"].as_str().unwrap();
        let derived = derived_values(&record.workflow);
        assert!(leaked(query, &derived).is_empty(), "{id}: {query}");
        let observations: Vec<&str> = messages
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        if !id.ends_with("-neg") {
            assert_eq!(observations.len(), record.workflow.num_steps());
            for step in record.workflow.steps() {
                assert!(observations.contains(&step.observation()));
            }
        }
        assert_eq!(messages.last().unwrap()["role"], "assistant");
    }

    // openai-tools: arguments and tools are JSON strings that parse back.
    for row in lines(&out.path().join("openai-tools/train.jsonl")) {
        let tools: Value = serde_json::from_str(row["tools"].as_str().unwrap()).unwrap();
        assert_eq!(tools.as_array().unwrap().len(), config.num_tools);
        for call in row["messages"][1]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let args: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            assert!(args.is_object());
        }
    }
    let sharegpt = lines(&out.path().join("sharegpt/train.jsonl"));
    assert_eq!(sharegpt[0]["conversations"][2]["from"], "gpt");

    // The card lists a config per format, and the summary the position test.
    let card = std::fs::read_to_string(out.path().join("README.md")).unwrap();
    for name in ["bfcl-python", "openai-tools", "sharegpt", "agentic"] {
        assert!(card.contains(&format!("- config_name: {name}")), "{card}");
    }
    assert_eq!(summary.answer_positions.counts.len(), 10);
    assert!(summary.answer_positions.counts.iter().sum::<usize>() > 0);

    // Same inputs, same bytes.
    let again = tempfile::tempdir().unwrap();
    format_run(run.path(), again.path(), &config, "test").unwrap();
    for file in [
        "bfcl-python/train.jsonl",
        "agentic/train.jsonl",
        "samples.jsonl",
    ] {
        assert_eq!(
            std::fs::read(out.path().join(file)).unwrap(),
            std::fs::read(again.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

fn executed_names(record: &DatasetRecord) -> Vec<String> {
    record
        .workflow
        .steps()
        .map(|s| s.action().tool.clone())
        .collect()
}

#[test]
fn an_mcp_run_formats_from_its_catalog_alone() {
    let run = tempfile::tempdir().unwrap();
    let step = |tool: &str, args: Value, obs: &str| {
        json!([
            {"tool": tool, "tool_input": args, "source": "mcp:files", "log": ""}, obs
        ])
    };
    let record = json!({
        "id": "00001",
        "query": "List my notes folder and read todo.md.",
        "api_use_chains": {"api_use_chain_1": {"chain_id": "api_use_chain_1", "intermediate_steps": [
            step("list-directory", json!({"path": "/notes"}), "[FILE] todo.md\n[FILE] ideas.md"),
            step("read-file", json!({"path": "/notes/todo.md"}), "- buy milk"),
        ]}},
        "response": "Your todo list says: buy milk.",
        "agentic_query": "List my notes folder and read the to-do file in it.",
    });
    std::fs::write(run.path().join("dataset.jsonl"), format!("{record}\n")).unwrap();
    let tool = |name: &str, family: &str| {
        json!({
            "name": name, "description": format!("{name} tool"), "source": family, "family": family,
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        })
    };
    let mut catalog = vec![
        tool("list-directory", "mcp:files"),
        tool("read-file", "mcp:files"),
    ];
    for i in 0..12 {
        catalog.push(tool(&format!("create_entity_{i}"), "mcp:memory"));
    }
    std::fs::write(
        run.path().join("tools.json"),
        Value::Array(catalog).to_string(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let config = FormatConfig {
        test_ratio: 0.0,
        negative_ratio: 1.0,
        ..FormatConfig::default()
    };
    format_run(run.path(), out.path(), &config, "test").unwrap();
    let rows = lines(&out.path().join("bfcl-python/train.jsonl"));
    assert_eq!(
        rows[0]["messages"][2]["content"],
        "[list_directory(path='/notes'), read_file(path='/notes/todo.md')]"
    );
    // The negative draws only from the other server's family.
    let negative = &rows[1];
    assert_eq!(negative["messages"][2]["content"], "[]");
    assert!(!negative["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("read_file"));
    // The multi-turn trace carries the recorded query and observations.
    let agentic = lines(&out.path().join("agentic/train.jsonl"));
    assert_eq!(
        agentic[0]["messages"][0]["content"],
        record["agentic_query"]
    );

    // Without the catalog, the error says how to get one.
    std::fs::remove_file(run.path().join("tools.json")).unwrap();
    let error = format_run(run.path(), out.path(), &config, "test")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("tools.json") && error.contains("resume"),
        "{error}"
    );
}

#[test]
fn a_bad_dataset_line_is_named() {
    let run = tempfile::tempdir().unwrap();
    std::fs::write(run.path().join("dataset.jsonl"), "{\"id\": \"1\"}\n").unwrap();
    std::fs::write(run.path().join("tools.json"), "[]").unwrap();
    let out = tempfile::tempdir().unwrap();
    let error = format_run(run.path(), out.path(), &FormatConfig::default(), "t")
        .unwrap_err()
        .to_string();
    assert!(error.contains("dataset.jsonl:1"), "{error}");
}

#[test]
fn records_that_cannot_become_samples_are_left_out_by_name() {
    let run = tempfile::tempdir().unwrap();
    let record = |id: &str, tool: &str, args: Value| {
        json!({
            "id": id, "query": "Look it up.", "response": "Done.",
            "api_use_chains": {"api_use_chain_1": {"chain_id": "api_use_chain_1",
                "intermediate_steps": [[{"tool": tool, "tool_input": args, "source": "builtin", "log": ""}, "{}"]]}},
        })
        .to_string()
    };
    let lines = [
        record("00001", "lookup", json!({"q": "x"})),
        record("00002", "lookup", json!(["not", "an", "object"])),
        record("00003", "vanished", json!({"q": "x"})),
        record("00004", "lookup", json!({"q": u64::MAX})),
    ];
    std::fs::write(run.path().join("dataset.jsonl"), lines.join("\n")).unwrap();
    let tool = json!([{"name": "lookup", "description": "Looks up.", "source": "builtin", "family": "builtin:x",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]);
    std::fs::write(run.path().join("tools.json"), tool.to_string()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let config = FormatConfig {
        test_ratio: 0.0,
        negative_ratio: 0.0,
        ..FormatConfig::default()
    };
    let summary = format_run(run.path(), out.path(), &config, "test").unwrap();
    assert_eq!(lines_in(&out.path().join("bfcl-python/train.jsonl")), 1);
    let left: Vec<String> = summary
        .left_out
        .iter()
        .flat_map(|(_, ids)| ids.clone())
        .collect();
    for (id, why) in [
        ("00002", "not a JSON object"),
        ("00003", "not in tools.json"),
        ("00004", "instead of"),
    ] {
        assert!(
            left.iter().any(|l| l.starts_with(id) && l.contains(why)),
            "{id}: {left:?}"
        );
    }
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

#[test]
fn the_shipped_format_configs_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("format-") && name.ends_with(".toml") {
            FormatConfig::load(&entry.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            loaded += 1;
        }
    }
    assert!(loaded >= 1);
}

/// Issue 12's goal: the offline default, formatted for SmolLM2, covers BFCL's
/// four non-live AST shapes, each in at least 10 % of the positives.
#[tokio::test]
async fn offline_samples_cover_bfcl_call_shapes() {
    let run = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    offline_run(500, run.path()).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let config = FormatConfig::load(&dir.join("format-smollm2.toml")).unwrap();
    let summary = format_run(run.path(), out.path(), &config, "test").unwrap();
    let shapes = summary.stats.shapes;
    for (name, share) in [
        ("simple", shapes.simple),
        ("multiple", shapes.multiple),
        ("parallel", shapes.parallel),
        ("parallel multiple", shapes.parallel_multiple),
    ] {
        assert!(
            share >= 0.10,
            "{name}: {:.1} % of positives ({shapes:?})",
            100.0 * share
        );
    }
    let total = shapes.simple
        + shapes.multiple
        + shapes.parallel
        + shapes.parallel_multiple
        + shapes.distinct;
    assert!((total - 1.0).abs() < 1e-9, "{shapes:?}");

    // The config draws most distractors from the called tools' families;
    // random ones give the same candidate counts (so the same shapes) and far
    // fewer prompts with a related uncalled function.
    assert!(config.near_distractors > 0.0);
    let random = FormatConfig {
        near_distractors: 0.0,
        ..config
    };
    let random_out = tempfile::tempdir().unwrap();
    let random_summary = format_run(run.path(), random_out.path(), &random, "test").unwrap();
    assert_eq!(random_summary.stats.shapes, shapes);
    let (before, after) = (
        random_summary.stats.related_distractor_share,
        summary.stats.related_distractor_share,
    );
    assert!(after >= 0.3 && after >= 2.0 * before, "{before} -> {after}");
}
