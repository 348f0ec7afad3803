//! `toolgrad run` end to end with real stages (generate, verify, format as
//! subprocesses): a second run is all cached, `--from` re-runs from a stage,
//! provenance is written, and a bad config is named.

use std::path::Path;
use std::process::{Command, Output};

const TOOLGRAD: &str = env!("CARGO_BIN_EXE_toolgrad");

fn run(config: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(TOOLGRAD)
        .arg("run")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_run_caches_its_stages_and_reruns_from_a_stage() {
    let dir = tempfile::tempdir().unwrap();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let config = dir.path().join("data-only.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"data\"\n[generate]\nconfig = \"{}\"\nnum_seeds = 6\n[format]\nconfig = \"{}\"\n",
            configs.join("generate-offline.toml").display(),
            configs.join("format-smollm2.toml").display()
        ),
    )
    .unwrap();
    let out = dir.path().join("runs/data");
    let first = run(&config, &out, &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(
        text(&first).matches(": running").count(),
        3,
        "{}",
        text(&first)
    );
    let lines = std::fs::read_to_string(out.join("main/generate/dataset.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 6);
    assert!(out.join("main/format/bfcl-python/train.jsonl").exists());
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("main/format/stage.json")).unwrap())
            .unwrap();
    assert_eq!(marker["done"], true);
    assert_eq!(
        marker["provenance"]["run_config_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert!(out.join("report/report.md").exists());

    let second = run(&config, &out, &[]);
    assert!(second.status.success(), "{}", text(&second));
    assert_eq!(
        text(&second).matches("(cached)").count(),
        3,
        "{}",
        text(&second)
    );

    let forced = run(&config, &out, &["--from", "format"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(
        text(&forced).matches("(cached)").count(),
        2,
        "{}",
        text(&forced)
    );
    assert!(
        text(&forced).contains("main/format: running"),
        "{}",
        text(&forced)
    );
}

#[test]
fn a_bad_run_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "name = \"x\"\n[generate]\nconfig = \"missing.toml\"\n[format]\nconfig = \"f.toml\"\n",
    )
    .unwrap();
    let output = run(&config, &dir.path().join("out"), &[]);
    assert!(!output.status.success());
    let message = text(&output);
    assert!(
        message.contains("bad.toml") && message.contains("generate.config"),
        "{message}"
    );
    let output = run(&config, &dir.path().join("out"), &["--from", "nowhere"]);
    assert!(
        text(&output).contains("expected one of generate"),
        "{}",
        text(&output)
    );
}
