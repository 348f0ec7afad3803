//! The DFS baseline and `toolgrad report generation` end to end, against the
//! mock endpoint: `generate --method dfs`, then `verify` and `format` on its
//! output, a replay of it, a resume refused under the other method, and the
//! report of a ToolGrad and a DFS run on the same seeds and tools.

use std::path::Path;
use std::process::{Command, Output};

use toolgrad_testkit::{serve, MockOptions};

mod common;

use common::{generate_command, run_blocking, TOOLGRAD};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn toolgrad(args: &[&str]) -> Output {
    let mut command = Command::new(TOOLGRAD);
    command.args(args);
    run_blocking(command).await
}

fn metadata_sum(run: &Path, field: &str) -> (f64, usize) {
    let mut total = 0.0;
    let mut accepted = 0;
    for entry in std::fs::read_dir(run.join("metadata")).unwrap().flatten() {
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        total += value[field].as_f64().unwrap();
        accepted += usize::from(value["accepted"] == true);
    }
    (total, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dfs_run_verifies_formats_replays_and_is_reported_beside_toolgrad() {
    let server = serve(MockOptions::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            "num_seeds = 6\nnum_apis = 10\nnum_proposals = 2\nmax_iter = 3\nconcurrency = 2\n\
             [policy]\nproposer = \"llm\"\nexecutor = \"llm\"\nselector = \"llm\"\ninverse = \"llm\"\n\
             [llm]\nbase_url = \"{}\"\nmodel = \"mock\"\ninput_usd_per_million = 0.1\noutput_usd_per_million = 0.4\n\
             [[tools]]\nkind = \"builtin\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let (dfs, tg) = (dir.path().join("dfs"), dir.path().join("tg"));
    let run = run_blocking(generate_command(&config, &dfs, &["--method", "dfs"])).await;
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("dfs: 6 seeds"), "{}", text(&run));
    let run = run_blocking(generate_command(&config, &tg, &[])).await;
    assert!(run.status.success(), "{}", text(&run));

    let dfs_s = dfs.display().to_string();
    let check = toolgrad(&["verify", &dfs_s]).await;
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("samples passed (100.0 %)"),
        "{}",
        text(&check)
    );
    let sft = dir.path().join("sft").display().to_string();
    let format = toolgrad(&["format", &dfs_s, "--out", &sft]).await;
    assert!(format.status.success(), "{}", text(&format));
    assert!(
        text(&format).contains("bfcl-python/train.jsonl"),
        "{}",
        text(&format)
    );

    // The recorded replies replay the run exactly.
    let replayed = dir.path().join("replayed");
    let replay = run_blocking(generate_command(
        &config,
        &replayed,
        &["--method", "dfs", "--replay", &dfs_s],
    ))
    .await;
    assert!(replay.status.success(), "{}", text(&replay));
    let read = |d: &Path| std::fs::read(d.join("dataset.jsonl")).unwrap();
    assert_eq!(read(&replayed), read(&dfs));

    // The method shapes the data: resuming a DFS folder as ToolGrad is refused.
    let mixed = run_blocking(generate_command(&config, &dfs, &[])).await;
    assert!(!mixed.status.success());
    assert!(text(&mixed).contains("--force-config"), "{}", text(&mixed));
    let bad = run_blocking(generate_command(&config, &tg, &["--method", "bfs"])).await;
    assert!(text(&bad).contains("`toolgrad` or `dfs`"), "{}", text(&bad));

    let out = dir.path().join("report");
    let (tg_s, out_s) = (tg.display().to_string(), out.display().to_string());
    let report = toolgrad(&["report", "generation", &tg_s, &dfs_s, "--out", &out_s]).await;
    assert!(report.status.success(), "{}", text(&report));
    let table = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(table.contains("| tg | toolgrad | 6 |"), "{table}");
    assert!(table.contains("| dfs | dfs | 6 |"), "{table}");
    assert_eq!(
        std::fs::read_to_string(out.join("generation.md")).unwrap(),
        table
    );
    let csv = std::fs::read_to_string(out.join("generation.csv")).unwrap();
    for (line, run) in csv.lines().skip(1).zip([&tg, &dfs]) {
        let fields: Vec<&str> = line.split(',').collect();
        let (calls, accepted) = metadata_sum(run, "llm_calls");
        assert_eq!(fields[3], accepted.to_string(), "{line}");
        let reported: f64 = fields[5].parse().unwrap();
        assert!((reported - calls / accepted as f64).abs() < 1e-9, "{line}");
    }
    assert!(std::fs::read(out.join("generation.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));

    let missing = toolgrad(&[
        "report",
        "generation",
        &dir.path().join("nope").display().to_string(),
    ])
    .await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("nope/metadata"),
        "{}",
        text(&missing)
    );
}
