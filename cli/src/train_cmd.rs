//! `toolgrad train`: fine-tune the local model on SFT JSONL (full or LoRA),
//! resuming a run folder that already holds checkpoints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use toolgrad_core::paths::default_model_path;
use toolgrad_model::device::DeviceChoice;
use toolgrad_train::config::TrainConfig;
use toolgrad_train::trainer::{train as run_training, TrainRequest};

#[derive(Args)]
pub struct TrainArgs {
    /// Training config (`configs/train-*.toml`); defaults are the paper's LoRA recipe.
    #[arg(long)]
    config: Option<PathBuf>,
    /// SFT JSONL: `{"messages": [...], "tools": [...]?}` per line.
    #[arg(long)]
    data: PathBuf,
    /// Held-out SFT JSONL for the eval loss (default: `eval_fraction` of --data).
    #[arg(long)]
    eval_data: Option<PathBuf>,
    /// Run folder: checkpoints, metrics.jsonl, loss.png, model/ and adapter/.
    #[arg(long)]
    out: PathBuf,
    /// Base model (.gguf or HF dir); overrides the config's `model`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Stop after this many steps (checkpointed); rerun the same command to continue.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Overrides the config's `max_steps`.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Where the steps run: `cpu`, or `wgpu` / `wgpu:N` in a build with the
    /// `gpu` feature; overrides the config's `device`.
    #[arg(long)]
    device: Option<DeviceChoice>,
}

pub fn train(args: TrainArgs) -> Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => TrainConfig::load(path)?,
        None => TrainConfig::default(),
    };
    if args.max_steps.is_some() {
        config.max_steps = args.max_steps;
    }
    if let Some(device) = args.device {
        config.device = device;
    }
    let model = args
        .model
        .clone()
        .or_else(|| config.model.clone())
        .unwrap_or_else(default_model_path);
    let request = TrainRequest {
        config,
        model,
        data: args.data,
        eval_data: args.eval_data,
        out: args.out.clone(),
        progress: true,
        export: true,
        stop_after: args.stop_after,
    };
    let report =
        run_training(&request).with_context(|| format!("training into {}", args.out.display()))?;
    let eval = report
        .eval_loss
        .map_or("-".to_owned(), |l| format!("{l:.4}"));
    let train = report
        .final_loss
        .map_or("-".to_owned(), |l| format!("{l:.4}"));
    eprintln!(
        "{} steps · train loss {train} · eval loss {eval} · {:.0} tok/s · {} of {} samples cut to max_len ({} tokens)",
        report.steps,
        report.tokens_per_s,
        report.train.truncated,
        report.train.samples + report.train.dropped_lines.len(),
        report.train.cut_tokens,
    );
    let out = &args.out;
    match out.join("model").exists() {
        true => eprintln!(
            "model: {} (toolgrad eval bfcl --model local:{})",
            out.join("model").display(),
            out.join("model").display()
        ),
        false => eprintln!("stopped; run the same command again to continue"),
    }
    Ok(ExitCode::SUCCESS)
}
