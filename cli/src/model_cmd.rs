//! `toolgrad model`: inspect, run, compare and export the local burn model.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use toolgrad_core::llm::ChatMessage;
use toolgrad_model::batch::{Batcher, Job};
use toolgrad_model::chat_engine::ChatOptions;
use toolgrad_model::engine::{Engine, GenerateParams};
use toolgrad_model::weights::ExportDtype;

#[derive(Args)]
pub struct ModelArg {
    /// A `.gguf` file or an HF model directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Print the model's configuration as JSON.
    Info(ModelArg),
    /// Answer one user message (greedy unless --temperature), streaming the reply.
    Chat(ChatArgs),
    /// Next-token logits after each raw prompt (special tokens parsed), as JSON lines.
    Logits(LogitsArgs),
    /// Prefill and decode speed on this machine, as JSON.
    Bench(BenchArgs),
    /// Write the model as HF safetensors + config.json + tokenizer.json.
    Export(ExportArgs),
    /// Render SFT JSONL conversations with the model's chat template, as training
    /// sees them: one JSON line per sample with `messages`, `tools` and `text`.
    Render(RenderArgs),
}

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    model: ModelArg,
    /// The user message.
    message: String,
    /// System prompt (default: the chat template's own).
    #[arg(long)]
    system: Option<String>,
    #[arg(long)]
    temperature: Option<f32>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Constrain the reply to JSON of this schema (a JSON string).
    #[arg(long, value_name = "SCHEMA")]
    json_schema: Option<String>,
}

#[derive(Args)]
pub struct LogitsArgs {
    #[command(flatten)]
    model: ModelArg,
    /// A JSON file holding a list of raw prompts.
    #[arg(long, value_name = "FILE")]
    prompts: PathBuf,
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Prompt lengths (tokens) whose prefill speed is measured.
    #[arg(long, value_delimiter = ',', default_value = "512,2000")]
    prompt_tokens: Vec<usize>,
    /// Tokens generated for the decode measurement.
    #[arg(long, default_value_t = 64)]
    decode_tokens: usize,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Decode with the f32 weights instead of the Q8 copies.
    #[arg(long)]
    f32: bool,
    /// Also measure decoding N sequences together (continuous batching): the
    /// tokens per second of all of them, prompts included.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    batch: Option<u32>,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    model: ModelArg,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Store weights as bf16 instead of f32.
    #[arg(long)]
    bf16: bool,
}

#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    model: ModelArg,
    /// SFT JSONL (`{"messages": [...], "tools": [...]?}` per line).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
}

fn render(args: RenderArgs) -> Result<()> {
    let engine = load(&args.model)?;
    let mut out = std::io::stdout().lock();
    for sample in toolgrad_train::data::read_jsonl(&args.data)? {
        let rendered = engine
            .template
            .render_conversation(&sample.messages, &sample.tools);
        let line = serde_json::json!({
            "messages": sample.messages,
            "tools": sample.tools,
            "text": rendered.text,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn load(arg: &ModelArg) -> Result<Engine> {
    Engine::load(&arg.model).with_context(|| format!("loading {}", arg.model.display()))
}

/// Loads keeping the f32 weights (for f32 logits and export).
fn load_dense(arg: &ModelArg) -> Result<Engine> {
    Engine::load_dense(&arg.model).with_context(|| format!("loading {}", arg.model.display()))
}

pub fn run(command: ModelCommand) -> Result<ExitCode> {
    match command {
        ModelCommand::Info(arg) => {
            let engine = load(&arg)?;
            println!("{}", serde_json::to_string_pretty(&engine.config)?);
        }
        ModelCommand::Chat(args) => chat(args)?,
        ModelCommand::Logits(args) => {
            // Logits of the f32 weights: the comparison with references is exact.
            let text = std::fs::read_to_string(&args.prompts)
                .with_context(|| format!("reading {}", args.prompts.display()))?;
            let prompts: Vec<String> = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: expected a JSON list of strings",
                    args.prompts.display()
                )
            })?;
            let mut engine = load_dense(&args.model)?;
            engine.use_f32_decoding()?;
            let mut out = std::io::stdout().lock();
            for prompt in &prompts {
                let tokens = engine.tokenizer.encode(prompt)?;
                let logits = engine.next_logits(&tokens)?;
                let line =
                    serde_json::json!({"prompt": prompt, "tokens": tokens, "logits": logits});
                writeln!(out, "{line}")?;
            }
        }
        ModelCommand::Bench(args) => bench(args)?,
        ModelCommand::Render(args) => render(args)?,
        ModelCommand::Export(args) => {
            let engine = load_dense(&args.model)?;
            let dtype = if args.bf16 {
                ExportDtype::Bf16
            } else {
                ExportDtype::F32
            };
            engine.export(&args.out, dtype)?;
            eprintln!("wrote {}", args.out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn chat(args: ChatArgs) -> Result<()> {
    let engine = load(&args.model)?;
    let mut messages = Vec::new();
    if let Some(system) = args.system {
        messages.push(ChatMessage::new("system", system));
    }
    messages.push(ChatMessage::new("user", args.message));
    let format = match &args.json_schema {
        Some(schema) => {
            let schema: serde_json::Value =
                serde_json::from_str(schema).context("--json-schema is not JSON")?;
            Some(
                serde_json::json!({"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}),
            )
        }
        None => None,
    };
    let options = ChatOptions {
        temperature: args.temperature,
        seed: args.seed,
        max_tokens: Some(args.max_tokens),
        ..ChatOptions::default()
    };
    let mut out = std::io::stdout();
    let reply = engine.chat(&messages, &[], format.as_ref(), &options, &mut |text| {
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    })?;
    println!();
    eprintln!(
        "{} prompt + {} completion tokens, finish: {:?}",
        reply.prompt_tokens, reply.completion_tokens, reply.finish
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(args: BenchArgs) -> Result<()> {
    let mut engine = match args.f32 {
        true => load_dense(&args.model)?,
        false => load(&args.model)?,
    };
    if args.f32 {
        engine.use_f32_decoding()?;
    }
    // Every run prefills the same prompt: reuse would time a cache lookup.
    engine.set_prefix_entries(0);
    let runs = args.runs.max(1);
    let engine_q4_1 = engine.packed_q4_1_count();
    let mut result = serde_json::json!({
        "engine": if args.f32 { "toolgrad (burn flex, f32 decode)" } else { "toolgrad (burn flex, quantised decode)" },
        "threads": rayon::current_num_threads(),
        "weights": if engine.is_lean() { "packed only (exact)" } else { "f32 and packed" },
    });
    for &n in &args.prompt_tokens {
        // A fixed pseudo-random token sequence, as in the llama.cpp reference script.
        let tokens: Vec<u32> = (0..n).map(|i| ((i * 7919) % 40000 + 200) as u32).collect();
        let times = (0..runs)
            .map(|_| {
                let start = Instant::now();
                engine
                    .next_logits(&tokens)
                    .map(|_| start.elapsed().as_secs_f64())
            })
            .collect::<Result<Vec<_>, _>>()?;
        result[format!("prefill_{n}_tok_s")] = (n as f64 / median(times)).into();
    }
    let prompt = engine.tokenizer.encode("Once upon a time")?;
    let params = GenerateParams {
        max_tokens: args.decode_tokens.max(2),
        ignore_eos: true,
        ..GenerateParams::default()
    };
    let mut times = Vec::new();
    for _ in 0..runs {
        // Timed from the first emitted text on, so the prompt's prefill is excluded.
        let mut first = None;
        let generation = engine.generate(&prompt, &params, None, &mut |_| {
            first.get_or_insert_with(Instant::now);
        })?;
        let first = first.context("the model produced no text")?;
        let after_first = generation.completion_tokens.saturating_sub(1).max(1);
        times.push(first.elapsed().as_secs_f64() / after_first as f64);
    }
    result["decode_tok_s"] = (1.0 / median(times)).into();
    if let Some(n) = args.batch {
        let batcher = Batcher::start(engine, n as usize)?;
        let start = Instant::now();
        let pending: Vec<_> = (0..n)
            .map(|i| {
                let prompt = batcher
                    .engine()
                    .tokenizer
                    .encode(&format!("Once upon a time, story {i}"))?;
                Ok(batcher.submit(Job {
                    prompt,
                    params: params.clone(),
                    constraint: None,
                    on_text: Box::new(|_| {}),
                }))
            })
            .collect::<Result<_>>()?;
        let mut tokens = 0;
        for receiver in pending {
            let finished = receiver
                .blocking_recv()
                .context("the batching thread stopped")??;
            tokens += finished.generation.completion_tokens;
        }
        result[format!("decode_batch_{n}_tok_s")] =
            (tokens as f64 / start.elapsed().as_secs_f64()).into();
    }
    if let Some((q4_1, all)) = engine_q4_1 {
        result["decode_q4_1_matrices"] = format!("{q4_1} of {all}").into();
    }
    if let Some(peak) = peak_rss_mib() {
        result["peak_rss_mib"] = peak.into();
    }
    println!("{result}");
    Ok(())
}

/// The process's peak resident memory (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
