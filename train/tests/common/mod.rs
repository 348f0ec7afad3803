//! Helpers shared by the trainer's test binaries: a tiny random model, small
//! SFT datasets, and a quick training request.

use std::path::{Path, PathBuf};

use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};
use toolgrad_train::config::{Method, TrainConfig};
use toolgrad_train::metrics::{read, Kind};
use toolgrad_train::trainer::TrainRequest;

pub fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    write_synthetic_gguf(&path, &SyntheticSpec::default()).unwrap();
    path
}

pub fn sample(question: &str, answer: &str) -> String {
    serde_json::json!({"messages": [
        {"role": "system", "content": "Answer with a call."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]})
    .to_string()
}

pub fn dataset(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("sft.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

pub fn handful() -> Vec<String> {
    vec![
        sample("the sum of 2 and 3", "[add(a=2, b=3)]"),
        sample("the weather in Paris", "[weather(city='Paris')]"),
        sample("the sum of 7 and 1", "[add(a=7, b=1)]"),
        sample("the weather in Rome", "[weather(city='Rome')]"),
        sample("the time in Oslo", "[time(city='Oslo')]"),
        sample("the sum of 4 and 4", "[add(a=4, b=4)]"),
    ]
}

pub fn request(model: &Path, data: &Path, out: &Path, config: TrainConfig) -> TrainRequest {
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

pub fn quick(method: Method) -> TrainConfig {
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

pub fn train_losses(out: &Path) -> Vec<f64> {
    read(&out.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == Kind::Train)
        .map(|r| r.loss)
        .collect()
}
