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

/// The `--config` argument of a stage's command.
fn config_arg(stage: &toolgrad_run::Stage) -> Option<std::path::PathBuf> {
    let at = stage.argv.iter().position(|a| a == "--config")?;
    stage.argv.get(at + 1).map(std::path::PathBuf::from)
}

#[test]
fn the_paper_and_ablation_configs_plan_and_every_stage_config_loads() {
    use toolgrad_run::{Kind, Plan, RunConfig};
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.gguf");
    std::fs::write(&model, "weights").unwrap();
    let mut runs = vec![
        configs.join("paper-toolgrad500.toml"),
        configs.join("quickstart.toml"),
        configs.join("proof-smollm2.toml"),
        configs.join("proof-smollm2-subset.toml"),
    ];
    let mut ablations: Vec<_> = std::fs::read_dir(configs.join("ablations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ablations.sort();
    assert!(ablations.len() >= 8, "{ablations:?}");
    runs.extend(ablations);
    for path in &runs {
        let config = RunConfig::load(path).unwrap();
        let root = dir.path().join(&config.name);
        let plan = Plan::new(&config, &root, &model).unwrap();
        assert!(plan.stages.iter().any(|s| s.kind == Kind::Eval), "{path:?}");
        for stage in &plan.stages {
            let Some(file) = config_arg(stage) else {
                continue;
            };
            if let Some(derived) = &stage.derived {
                std::fs::create_dir_all(derived.path.parent().unwrap()).unwrap();
                std::fs::write(&derived.path, &derived.text).unwrap();
            }
            let loaded = match stage.kind {
                Kind::Generate => toolgrad_generate::config::GenerateConfig::load(&file)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Kind::Format => toolgrad_format::config::FormatConfig::load(&file)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Kind::Train => toolgrad_train::config::TrainConfig::load(&file)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                _ => Ok(()),
            };
            assert!(loaded.is_ok(), "{path:?} {}: {loaded:?}", stage.id);
        }
    }
    // The offline ablation differs from its control only in the selector.
    let gradient = RunConfig::load(&configs.join("ablations/gradient.toml")).unwrap();
    let plan = Plan::new(&gradient, &dir.path().join("g"), &model).unwrap();
    let derived: Vec<_> = plan
        .stages
        .iter()
        .filter_map(|s| s.derived.as_ref())
        .collect();
    assert_eq!(derived.len(), 1);
    assert!(derived[0].text.contains("selector = \"random\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paper_generate_configs_run_against_the_scripted_endpoint_at_tiny_sizes() {
    use toolgrad_testkit::{serve, MockOptions};
    let server = serve(MockOptions::default(), 0).await.unwrap();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paper-tiny.toml");
    let arm = |name: &str, file: &str| {
        format!(
            "[[arm]]\nname = \"{name}\"\n[arm.generate]\nconfig = \"{}\"\nnum_seeds = 2\nset = {{ num_apis = 6, max_iter = 2, concurrency = 2, llm = {{ base_url = \"{}\", model = \"mock\" }} }}\n",
            configs.join(file).display(),
            server.base_url()
        )
    };
    std::fs::write(
        &config,
        format!(
            "name = \"paper-tiny\"\n[format]\nconfig = \"{}\"\n{}{}",
            configs.join("format-paper.toml").display(),
            arm("toolgrad", "generate-paper-toolgrad.toml"),
            arm("dfs", "generate-paper-dfs.toml"),
        ),
    )
    .unwrap();
    let out = dir.path().join("runs/paper-tiny");
    let mut command = Command::new(TOOLGRAD);
    command
        .arg("run")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .args(["--until", "format"])
        .env("GEMINI_API_KEY", "test-key-not-a-secret");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    for arm in ["toolgrad", "dfs"] {
        let generate = out.join(arm).join("generate");
        let config = std::fs::read_to_string(generate.join("config.toml")).unwrap();
        assert!(config.contains("num_apis = 6"), "{config}");
        assert!(out.join(arm).join("verify/stage.json").is_file());
        let marker: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(arm).join("format/stage.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(marker["done"], true, "{arm}");
    }
    // The key never reaches the run's files.
    for entry in walk(&out) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("test-key-not-a-secret"),
            "{entry:?}"
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
