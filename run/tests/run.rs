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
                let verdicts: String = (0..5)
                    .map(|i| {
                        format!(
                            "{{\"id\":\"simple_python_{i}\",\"valid\":{}}}\n",
                            i < correct
                        )
                    })
                    .collect();
                std::fs::write(score.join("simple_python.verdicts.jsonl"), verdicts).unwrap();
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

/// The demo config's stages in the order a fresh run runs them; arm b differs
/// from arm a only in training, so its data stages are a's.
const EVERY_STAGE: [&str; 11] = [
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
    "b/eval-constrained",
];

#[test]
fn stages_run_once_share_equal_inputs_and_rerun_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (run, model) = setup(dir.path());
    let root = dir.path().join("runs/demo");
    let mut fake = Fake::default();
    go(&run, &model, &root, &Options::default(), &mut fake).unwrap();
    // Arm b differs only in training: generate, verify and format run once.
    assert_eq!(fake.ran, EVERY_STAGE);
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
            ..Options::default()
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
    let md = toolgrad_run::report::write(&plan, "toolgrad run run.toml", &run).unwrap();
    assert!(
        md.contains("| a | free | simple_python | 80.0 % | 37.55–96.38 % | 4 / 5 | 400 |"),
        "{md}"
    );
    assert!(
        md.contains("| a/train | 2 | 0.5000 | 0.7500 | 40 | - |"),
        "{md}"
    );
    let csv = std::fs::read_to_string(root.join("report/bfcl.csv")).unwrap();
    assert!(
        csv.contains("base,constrained,simple_python,20.00,3.62,62.45,1,5,400,"),
        "{csv}"
    );
    // Base got entry 0 right, the arms entries 0-3: three discordant pairs,
    // all one way, p = 2 · (1/2)^3.
    let pairs = std::fs::read_to_string(root.join("report/comparisons.csv")).unwrap();
    assert!(
        pairs.contains("free,base,a,5,1,4,0,3,0.250000\n"),
        "{pairs}"
    );
    assert!(
        pairs.contains("constrained,a,b,5,4,4,0,0,1.000000\n"),
        "{pairs}"
    );
    assert!(root.join("report/bfcl.png").is_file());
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

#[test]
fn set_runs_a_stage_on_a_derived_config_and_keys_it_by_the_merged_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("g.toml"),
        "num_seeds = 4\n[policy]\nproposer = \"rule\"\nselector = \"rule\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("f.toml"), "seed = 1\n").unwrap();
    let run = dir.path().join("run.toml");
    let arm = |name: &str, set: &str| {
        format!("[[arm]]\nname = \"{name}\"\n[arm.generate]\nconfig = \"g.toml\"\n{set}\n")
    };
    let text = format!(
        "name = \"sweep\"\n[generate]\nconfig = \"g.toml\"\n[format]\nconfig = \"f.toml\"\n{}{}{}",
        arm("rule", ""),
        arm("random", "set = { policy = { selector = \"random\" } }"),
        arm("same", "set = { policy = { selector = \"random\" } }"),
    );
    std::fs::write(&run, text).unwrap();
    let config = RunConfig::load(&run).unwrap();
    let root = dir.path().join("runs/sweep");
    let plan = Plan::new(&config, &root, Path::new("unused.gguf")).unwrap();
    let generate: Vec<&Stage> = plan
        .stages
        .iter()
        .filter(|s| s.kind == Kind::Generate)
        .collect();
    // Equal overrides share one stage; the plain arm reads the file itself.
    assert_eq!(generate.len(), 2, "{generate:?}");
    assert!(generate[0].derived.is_none());
    assert!(generate[0]
        .argv
        .contains(&dir.path().join("g.toml").display().to_string()));
    let derived = generate[1].derived.as_ref().unwrap();
    assert_eq!(derived.path, root.join("configs/random-generate.toml"));
    assert!(generate[1]
        .argv
        .contains(&derived.path.display().to_string()));
    let merged: toml::Table = toml::from_str(&derived.text).unwrap();
    assert_eq!(merged["policy"]["selector"].as_str(), Some("random"));
    assert_eq!(merged["policy"]["proposer"].as_str(), Some("rule"));
    assert_eq!(merged["num_seeds"].as_integer(), Some(4));
    assert_ne!(generate[0].key, generate[1].key);

    let mut fake = Fake::default();
    execute(&plan, &run, &Options::default(), &mut fake, &mut |_| {}).unwrap();
    assert_eq!(
        std::fs::read_to_string(&derived.path).unwrap(),
        derived.text
    );

    // A stage config that is not TOML is named with the field it came from.
    std::fs::write(dir.path().join("g.toml"), "num_seeds = [").unwrap();
    let error = Plan::new(&config, &root, Path::new("unused.gguf")).unwrap_err();
    assert!(
        error.to_string().contains("generate.config") && error.to_string().contains("g.toml"),
        "{error}"
    );
}

#[test]
fn until_stops_after_a_stage_kind_and_the_report_counts_only_finished_stages() {
    let dir = tempfile::tempdir().unwrap();
    let (run, model) = setup(dir.path());
    let root = dir.path().join("runs/demo");
    let mut fake = Fake::default();
    let until = Options {
        until: Some(Kind::Format),
        ..Options::default()
    };
    let outcomes = go(&run, &model, &root, &until, &mut fake).unwrap();
    assert_eq!(fake.ran, ["a/generate", "a/verify", "a/format"]);
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Skipped).count(),
        outcomes.len() - 3
    );
    let config = RunConfig::load(&run).unwrap();
    let plan = Plan::new(&config, &root, &model).unwrap();
    let md = toolgrad_run::report::write(&plan, "toolgrad run run.toml", &run).unwrap();
    assert!(
        !md.contains("## BFCL") && !md.contains("## Training"),
        "{md}"
    );
    // The rest runs later without redoing what is done.
    let mut rest = Fake::default();
    go(&run, &model, &root, &Options::default(), &mut rest).unwrap();
    assert!(rest
        .ran
        .iter()
        .all(|s| s.contains("train") || s.contains("eval")));
}

/// Runs a second `execute` on the same folder while it runs one stage.
struct Concurrent<'a> {
    fake: Fake,
    during: &'a str,
    run: &'a Path,
    model: &'a Path,
    root: &'a Path,
    second: Option<(Vec<String>, Vec<Outcome>)>,
}

impl Exec for Concurrent<'_> {
    fn run(&mut self, stage: &Stage) -> Result<(), String> {
        if stage.id == self.during {
            let mut other = Fake::default();
            let outcomes = go(
                self.run,
                self.model,
                self.root,
                &Options::default(),
                &mut other,
            )
            .unwrap();
            self.second = Some((other.ran, outcomes));
        }
        self.fake.run(stage)
    }
}

#[test]
fn two_runs_of_one_config_share_the_stages_and_never_run_one_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (run, model) = setup(dir.path());
    let root = dir.path().join("runs/demo");
    let mut first = Concurrent {
        fake: Fake::default(),
        during: "a/train",
        run: &run,
        model: &model,
        root: &root,
        second: None,
    };
    let config = RunConfig::load(&run).unwrap();
    let plan = Plan::new(&config, &root, &model).unwrap();
    let outcomes = execute(&plan, &run, &Options::default(), &mut first, &mut |_| {}).unwrap();
    let (second_ran, second_outcomes) = first.second.take().unwrap();
    // The second run skips a/train, which the first holds, and a's evals, which
    // need it, and trains arm b meanwhile.
    assert_eq!(second_ran, ["b/train", "b/eval-free", "b/eval-constrained"]);
    let of = |outcomes: &[Outcome], id: &str| {
        outcomes[plan.stages.iter().position(|s| s.id == id).unwrap()]
    };
    assert_eq!(of(&second_outcomes, "a/train"), Outcome::Busy);
    assert_eq!(of(&second_outcomes, "a/eval-free"), Outcome::Waiting);
    assert_eq!(of(&second_outcomes, "a/eval-constrained"), Outcome::Waiting);
    assert_eq!(of(&second_outcomes, "a/format"), Outcome::Cached);
    // The first finishes a and finds b done.
    assert_eq!(first.fake.ran, EVERY_STAGE[..8]);
    assert_eq!(of(&outcomes, "b/train"), Outcome::Cached);
    assert!(outcomes
        .iter()
        .all(|o| o != &Outcome::Busy && o != &Outcome::Waiting));
}
