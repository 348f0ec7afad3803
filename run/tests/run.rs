//! A run's caching, resume and `--from` against a fake executor that writes
//! what each stage's command would, and the report built from those files.

use std::path::{Path, PathBuf};

use toolgrad_run::{execute, Exec, Kind, Options, Outcome, Plan, RunConfig, Stage};

/// Records the stages it runs and writes the files downstream stages read.
#[derive(Default)]
struct Fake {
    ran: Vec<String>,
    fail: Option<String>,
}

impl Exec for Fake {
    fn run(&mut self, stage: &Stage) -> Result<(), String> {
        if self.fail.as_deref() == Some(stage.id.as_str()) {
            std::fs::write(stage.dir.join("partial"), "half").unwrap();
            return Err("killed".into());
        }
        self.ran.push(stage.id.clone());
        match stage.kind {
            Kind::Format => {
                let split = stage.dir.join("bfcl-python");
                std::fs::create_dir_all(&split).unwrap();
                std::fs::write(split.join("train.jsonl"), "{}\n").unwrap();
                std::fs::write(
                    split.join("test.jsonl"),
                    "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
                )
                .unwrap();
            }
            Kind::Train => {
                assert_eq!(
                    std::fs::read_to_string(stage.dir.join("eval.jsonl")).unwrap(),
                    "{\"a\":1}\n{\"a\":2}\n"
                );
                std::fs::write(
                    stage.dir.join("train.json"),
                    r#"{"steps": 2, "final_loss": 0.5, "eval_loss": 0.75, "tokens_per_s": 40.0}"#,
                )
                .unwrap();
            }
            Kind::Eval => {
                let score = stage.dir.join("score");
                std::fs::create_dir_all(&score).unwrap();
                let correct = if stage.id.starts_with("base") { 1 } else { 4 };
                std::fs::write(
                    score.join("summary.csv"),
                    format!("name,accuracy_pct,correct,scored,missing,total\nsimple_python,{:.2},{correct},5,395,400\n", correct as f64 * 20.0),
                )
                .unwrap();
            }
            _ => {}
        }
        Ok(())
    }
}

fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    for name in ["g.toml", "f.toml", "t.toml", "model.gguf"] {
        std::fs::write(dir.join(name), name).unwrap();
    }
    let run = dir.join("run.toml");
    std::fs::write(
        &run,
        r#"
name = "demo"
[generate]
config = "g.toml"
num_seeds = 4
[format]
config = "f.toml"
[train]
config = "t.toml"
eval_samples = 2
[eval]
categories = ["simple_python"]
limit = 5
constrained = true
[[arm]]
name = "a"
[[arm]]
name = "b"
[arm.train]
config = "t.toml"
max_steps = 1
eval_samples = 2
"#,
    )
    .unwrap();
    (run, dir.join("model.gguf"))
}

fn go(
    run: &Path,
    model: &Path,
    root: &Path,
    options: &Options,
    fake: &mut Fake,
) -> toolgrad_run::Result<Vec<Outcome>> {
    let config = RunConfig::load(run).unwrap();
    let plan = Plan::new(&config, root, model).unwrap();
    execute(&plan, run, options, fake, &mut |_| {})
}

#[test]
fn stages_run_once_share_equal_inputs_and_rerun_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (run, model) = setup(dir.path());
    let root = dir.path().join("runs/demo");
    let mut fake = Fake::default();
    go(&run, &model, &root, &Options::default(), &mut fake).unwrap();
    // Arm b differs only in training: generate, verify and format run once.
    assert_eq!(
        fake.ran,
        [
            "base/eval-free",
            "base/eval-constrained",
            "a/generate",
            "a/verify",
            "a/format",
            "a/train",
            "a/eval-free",
            "a/eval-constrained",
            "b/train",
            "b/eval-free",
            "b/eval-constrained"
        ]
    );
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("a/train/stage.json")).unwrap())
            .unwrap();
    assert_eq!(marker["done"], true);
    assert!(marker["provenance"]["model_sha256"].as_str().unwrap().len() == 64);
    assert_eq!(marker["command"][0], "train");

    // Nothing changed: everything is cached.
    let mut again = Fake::default();
    let outcomes = go(&run, &model, &root, &Options::default(), &mut again).unwrap();
    assert!(again.ran.is_empty() && outcomes.iter().all(|o| *o == Outcome::Cached));

    // A changed train config re-runs training and the trained models' evals only.
    std::fs::write(dir.path().join("t.toml"), "learning_rate = 1e-4").unwrap();
    let mut changed = Fake::default();
    go(&run, &model, &root, &Options::default(), &mut changed).unwrap();
    assert_eq!(
        changed.ran,
        [
            "a/train",
            "a/eval-free",
            "a/eval-constrained",
            "b/train",
            "b/eval-free",
            "b/eval-constrained"
        ]
    );

    // --from format re-runs format and everything after it, not generation.
    let mut forced = Fake::default();
    go(
        &run,
        &model,
        &root,
        &Options {
            from: Some(Kind::Format),
        },
        &mut forced,
    )
    .unwrap();
    assert_eq!(forced.ran[0], "a/format");
    assert!(!forced
        .ran
        .iter()
        .any(|s| s.ends_with("generate") || s.starts_with("base")));

    // The report cites the verdict file behind each number.
    let config = RunConfig::load(&run).unwrap();
    let plan = Plan::new(&config, &root, &model).unwrap();
    let md = toolgrad_run::report::write(&plan, "toolgrad run run.toml").unwrap();
    assert!(
        md.contains("| a | free | simple_python | 80.0 % | 4 / 5 | 400 |"),
        "{md}"
    );
    assert!(
        md.contains("| a/train | 2 | 0.5000 | 0.7500 | 40 |"),
        "{md}"
    );
    let csv = std::fs::read_to_string(root.join("report/bfcl.csv")).unwrap();
    assert!(
        csv.contains("base,constrained,simple_python,20.00,1,5,400,"),
        "{csv}"
    );
    assert!(
        csv.contains("base/eval-constrained/score/simple_python.verdicts.jsonl"),
        "{csv}"
    );
}

#[test]
fn an_interrupted_stage_resumes_and_a_foreign_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (run, model) = setup(dir.path());
    let root = dir.path().join("runs/demo");
    let mut killed = Fake {
        fail: Some("a/train".into()),
        ..Fake::default()
    };
    let error = go(&run, &model, &root, &Options::default(), &mut killed).unwrap_err();
    assert!(
        error.to_string().contains("a/train") && error.to_string().contains("resume"),
        "{error}"
    );
    // The same config resumes the stage in place: its partial output survives.
    let mut resumed = Fake::default();
    let outcomes = go(&run, &model, &root, &Options::default(), &mut resumed).unwrap();
    assert_eq!(resumed.ran[0], "a/train");
    assert!(root.join("a/train/partial").exists());
    assert!(outcomes.contains(&Outcome::Resumed));

    // A stage folder the run did not write is left alone.
    let other = dir.path().join("runs/other");
    std::fs::create_dir_all(other.join("base/eval-free")).unwrap();
    std::fs::write(other.join("base/eval-free/mine.txt"), "keep").unwrap();
    let error = go(
        &run,
        &model,
        &other,
        &Options::default(),
        &mut Fake::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("did not write"), "{error}");
    assert!(other.join("base/eval-free/mine.txt").exists());
}
