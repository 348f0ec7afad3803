//! Resume equivalence, alone in its test binary: dropout draws from the
//! backend's process-wide generator, which trainings running in parallel
//! threads of one process would share.

use std::path::{Path, PathBuf};

use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};
use toolgrad_train::config::{Method, TrainConfig};
use toolgrad_train::metrics::{read, Kind};
use toolgrad_train::trainer::{train, TrainRequest};

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    write_synthetic_gguf(&path, &SyntheticSpec::default()).unwrap();
    path
}

fn sample(question: &str, answer: &str) -> String {
    serde_json::json!({"messages": [
        {"role": "system", "content": "Answer with a call."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]})
    .to_string()
}

fn dataset(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("sft.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn handful() -> Vec<String> {
    vec![
        sample("the sum of 2 and 3", "[add(a=2, b=3)]"),
        sample("the weather in Paris", "[weather(city='Paris')]"),
        sample("the sum of 7 and 1", "[add(a=7, b=1)]"),
        sample("the weather in Rome", "[weather(city='Rome')]"),
        sample("the time in Oslo", "[time(city='Oslo')]"),
        sample("the sum of 4 and 4", "[add(a=4, b=4)]"),
    ]
}

fn request(model: &Path, data: &Path, out: &Path, config: TrainConfig) -> TrainRequest {
    TrainRequest {
        config,
        model: model.to_path_buf(),
        data: data.to_path_buf(),
        eval_data: None,
        out: out.to_path_buf(),
        progress: false,
        export: true,
        stop_after: None,
    }
}

fn quick(method: Method) -> TrainConfig {
    TrainConfig {
        method,
        learning_rate: 1e-2,
        warmup_ratio: 0.0,
        epochs: 25,
        batch_size: 2,
        max_len: 128,
        eval_fraction: 0.0,
        save_every: 1000,
        lora: toolgrad_model::lora::LoraSpec {
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn train_losses(out: &Path) -> Vec<f64> {
    read(&out.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == Kind::Train)
        .map(|r| r.loss)
        .collect()
}

fn resumable() -> TrainConfig {
    TrainConfig {
        epochs: 4,
        save_every: 2,
        eval_fraction: 0.34,
        eval_every: 3,
        lora: toolgrad_model::lora::LoraSpec {
            rank: 4,
            alpha: 8.0,
            dropout: 0.1,
            ..Default::default()
        },
        ..quick(Method::Lora)
    }
}

#[test]
fn a_stopped_run_resumes_to_the_same_loss() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = dataset(dir.path(), &handful());
    let straight = dir.path().join("straight");
    let whole = train(&request(&model, &data, &straight, resumable())).unwrap();

    let split = dir.path().join("split");
    let mut first = request(&model, &data, &split, resumable());
    first.stop_after = Some(3);
    let part = train(&first).unwrap();
    assert_eq!(part.steps, 3);
    assert!(
        !split.join("model").exists(),
        "a stopped run does not export"
    );
    let rest = train(&request(&model, &data, &split, resumable())).unwrap();
    assert_eq!(rest.resumed_from, Some(3));
    assert_eq!(
        format!("{:.6}", rest.final_loss.unwrap()),
        format!("{:.6}", whole.final_loss.unwrap())
    );
    assert_eq!(rest.eval_loss, whole.eval_loss);
    assert_eq!(train_losses(&split), train_losses(&straight));

    // Another config does not resume into the same folder.
    let other = TrainConfig {
        learning_rate: 5e-3,
        ..resumable()
    };
    let error = train(&request(&model, &data, &split, other)).unwrap_err();
    assert!(error.to_string().contains("another config"), "{error}");
}
