//! `toolgrad eval score` and `toolgrad eval bfcl`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::sync::Arc;

use toolgrad_core::fsutil::write_atomic;
use toolgrad_core::llm::openai::OpenAiClient;
use toolgrad_core::shard::Shard;
use toolgrad_eval::category::parse_category_list;
use toolgrad_eval::checker::CheckOptions;
use toolgrad_eval::dataset::{load_category, require_data_dir};
use toolgrad_eval::decode::ResultFormat;
use toolgrad_eval::reference::{reference_reply, ReferenceAnswers};
use toolgrad_eval::runner::config::load_endpoint;
use toolgrad_eval::runner::shard::ShardManifest;
use toolgrad_eval::runner::{build_request, progress_bar, run_category, Mode, RunSettings};
use toolgrad_eval::score::{score_directory, DirectoryScore, ScoreOptions};
use toolgrad_eval::summary::{summarize, to_markdown, write_report, MissingPolicy, SummaryRow};

use toolgrad_core::llm::ChatModel;
use toolgrad_core::paths::{bfcl_data_dir, default_model_path};
use toolgrad_eval::Category;
use toolgrad_model::batch::DEFAULT_MAX_BATCH;
use toolgrad_model::chat_engine::LocalModel;
use toolgrad_model::engine::{Engine, PREFIX_ENTRIES_VAR};

/// `--data`: where the BFCL data is.
#[derive(Args)]
pub struct DataArg {
    /// BFCL data directory (holds BFCL_v4_*.json and possible_answer/).
    #[arg(long = "data", value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// `--categories`: which categories to work on.
#[derive(Args)]
pub struct Selection {
    /// Categories or groups (all, non_live, live, ast), comma-separated or repeated.
    #[arg(long, num_args = 1.., default_value = "all")]
    categories: Vec<String>,
}

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Score BFCL result files (`BFCL_v4_<category>_result.json`) against the ground truth.
    Score(ScoreArgs),
    /// Run a model on BFCL categories, write result files, then score them.
    Bfcl(BfclArgs),
    /// Write reference result files (ground truth rendered as calls, or `[]`) to
    /// sanity-check the scorer: the ceiling and the floor, not a model's score.
    Reference(ReferenceArgs),
    /// Print, as JSON lines, exactly what `eval bfcl` would send for each entry.
    Prompt(PromptArgs),
}

#[derive(Args)]
pub struct PromptArgs {
    #[command(flatten)]
    selection: Selection,
    /// prompt: BFCL's system prompt with the function list; fc: native tools.
    #[arg(long, value_enum, default_value = "prompt")]
    mode: ModeArg,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Prompt,
    Fc,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AnswerKind {
    GroundTruth,
    Empty,
}

#[derive(Args)]
pub struct ReferenceArgs {
    /// Which answers to write.
    #[arg(long, value_enum, default_value = "ground-truth")]
    answers: AnswerKind,
    #[command(flatten)]
    selection: Selection,
    /// Directory for the BFCL_v4_<category>_result.json files.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Args)]
pub struct BfclArgs {
    /// Model name: a `[models.<name>]` table of the config file, or `local` /
    /// `local:<gguf file or HF dir>` for the built-in burn engine (default model:
    /// SmolLM2-135M-Instruct from the cache).
    #[arg(long)]
    model: String,
    /// With a local model: constrain replies to BFCL's call-list syntax over the
    /// entry's functions, so every reply decodes.
    #[arg(long)]
    constrain: bool,
    /// With a local model: requests decoded together in one step (continuous
    /// batching; 1 runs them one at a time). Answers do not depend on it.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BATCH,
          value_parser = parse_batch)]
    batch: usize,
    /// TOML file with the model endpoints.
    #[arg(long, value_name = "FILE", default_value = "configs/bfcl-models.toml")]
    config: PathBuf,
    #[command(flatten)]
    selection: Selection,
    /// Results go to <out>/result/, verdicts and summaries to <out>/score/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Query only the first N entries of each category (a smoke run); accuracy is
    /// then over the entries answered, not the whole category.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Run only shard K of N: the entries at positions K-1, K-1+N, ... of each
    /// category (after --limit), scored over those. `toolgrad merge` joins the
    /// N folders into the unsharded result.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    data: DataArg,
    /// Directory searched (recursively) for BFCL_v4_<category>_result.json files.
    #[arg(long, value_name = "DIR")]
    results: PathBuf,
    /// Where verdicts and summary.csv / summary.md are written.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Accuracy over the entries present, as the official `--partial-eval`
    /// (by default a missing entry counts as wrong).
    #[arg(long)]
    partial: bool,
    /// Results come from a prompt-mode handler: every result is reply text (a list
    /// fails to decode). By default text is decoded as a reply and a list as tool calls.
    #[arg(long, conflicts_with = "fc")]
    prompt: bool,
    /// Results come from an FC handler (`[{name: "json args"}]`): a text reply is no call.
    #[arg(long)]
    fc: bool,
    /// Expect function names with `.` replaced by `_`, as for API FC models.
    #[arg(long)]
    underscore_to_dot: bool,
}

pub fn run(command: EvalCommand) -> Result<ExitCode> {
    match command {
        EvalCommand::Score(args) => score(args),
        EvalCommand::Bfcl(args) => bfcl(args),
        EvalCommand::Reference(args) => reference(args),
        EvalCommand::Prompt(args) => prompt(args),
    }
}

pub fn data_dir(arg: DataArg) -> Result<PathBuf> {
    let dir = arg.dir.unwrap_or_else(bfcl_data_dir);
    require_data_dir(&dir)?;
    Ok(dir)
}

fn score(args: ScoreArgs) -> Result<ExitCode> {
    let data = data_dir(args.data)?;
    let options = ScoreOptions {
        format: match (args.prompt, args.fc) {
            (true, _) => ResultFormat::Prompt,
            (_, true) => ResultFormat::ToolCalls,
            _ => ResultFormat::Auto,
        },
        check: CheckOptions {
            underscore_to_dot: args.underscore_to_dot,
        },
    };
    let policy = if args.partial {
        MissingPolicy::Partial
    } else {
        MissingPolicy::CountAsWrong
    };
    score_and_report(&data, &args.results, &args.out, options, policy)?;
    Ok(ExitCode::SUCCESS)
}

fn score_and_report(
    data: &Path,
    results: &Path,
    out: &Path,
    options: ScoreOptions,
    policy: MissingPolicy,
) -> Result<()> {
    let score = score_directory(data, results, options)
        .with_context(|| format!("scoring results under {}", results.display()))?;
    let rows = summarize(&score.scores, policy);
    write_report(out, &score.scores, &rows)?;
    print_report(&score, &rows, out);
    Ok(())
}

/// Prints a scored directory as `eval score` does: notes, warnings, the table.
pub fn print_report(score: &DirectoryScore, rows: &[SummaryRow], out: &Path) {
    for path in &score.skipped {
        eprintln!(
            "note: {} is not a single-turn category; skipped",
            path.display()
        );
    }
    for score in &score.scores {
        if !score.missing.is_empty() {
            eprintln!(
                "warning: {}: {} of {} entries have no result (e.g. {})",
                score.category,
                score.missing.len(),
                score.total,
                score.missing[0]
            );
        }
    }
    print!("{}", to_markdown(rows));
    eprintln!("wrote {}", out.display());
}

fn parse_batch(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a number of requests, at least 1 (got `{text}`)"
        )),
    }
}

/// `local` and `local:<path>` name the burn engine; every other name (such as
/// `local-llama-cpp`) is an endpoint of the models file.
fn local_model(name: &str) -> Result<Option<PathBuf>> {
    if name == "local" {
        return Ok(Some(default_model_path()));
    }
    match name.strip_prefix("local:") {
        Some("") => anyhow::bail!("--model: expected `local` or `local:<gguf file or model dir>`"),
        Some(path) => Ok(Some(PathBuf::from(path))),
        None => Ok(None),
    }
}

fn bfcl(args: BfclArgs) -> Result<ExitCode> {
    let data = data_dir(args.data)?;
    let categories = parse_category_list(&args.selection.categories)?;
    if let Some(path) = local_model(&args.model)? {
        let engine = Engine::load(&path).with_context(|| format!("loading {}", path.display()))?;
        // Greedy, prompt mode, as BFCL runs open models.
        let settings = RunSettings {
            mode: Mode::Prompt,
            temperature: Some(0.0),
            max_tokens: Some(LOCAL_MAX_TOKENS),
            underscore_to_dot: false,
            limit: args.limit,
            constrain_calls: args.constrain,
            shard: args.shard,
        };
        let local = Arc::new(LocalModel::with_batch(engine, args.batch)?);
        let code = run_bfcl(
            Arc::clone(&local),
            &args.model,
            &data,
            &categories,
            &settings,
            &args.out,
        )?;
        let engine = local.engine();
        eprintln!(
            "prefix reuse: {} prompt tokens were not prefilled again ({}={} prompts kept)",
            engine.reused_prompt_tokens(),
            PREFIX_ENTRIES_VAR,
            engine.prefix_entries()
        );
        return Ok(code);
    }
    if args.constrain {
        anyhow::bail!("--constrain needs the local engine (`--model local[:PATH]`)");
    }
    let endpoint = load_endpoint(&args.config, &args.model)?;
    let client_config = endpoint.client_config().map_err(|message| {
        anyhow::anyhow!(
            "{}: models.{}: {message}",
            args.config.display(),
            args.model
        )
    })?;
    let client = Arc::new(OpenAiClient::new(client_config)?);
    let settings = RunSettings {
        limit: args.limit,
        shard: args.shard,
        ..endpoint.run_settings()
    };
    run_bfcl(
        client,
        &args.model,
        &data,
        &categories,
        &settings,
        &args.out,
    )
}

/// Completion budget of the local model per BFCL entry.
const LOCAL_MAX_TOKENS: u32 = 256;

fn run_bfcl<M: ChatModel + 'static>(
    model: Arc<M>,
    model_name: &str,
    data: &Path,
    categories: &[Category],
    settings: &RunSettings,
    out: &Path,
) -> Result<ExitCode> {
    let manifest = ShardManifest::new(model_name, categories, settings);
    toolgrad_eval::runner::shard::record(out, manifest.as_ref())?;
    let results_dir = out.join("result");
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let progress = progress_bar();
    let mut failed = 0;
    for category in categories {
        progress.set_message(category.name());
        let report = runtime.block_on(run_category(
            Arc::clone(&model),
            data,
            &results_dir,
            *category,
            settings,
            &progress,
        ))?;
        failed += report.failed;
        progress.println(format!(
            "{category}: {} queried, {} already answered, {} failed, {} prompt + {} completion tokens",
            report.queried, report.skipped, report.failed, report.input_tokens, report.output_tokens
        ));
    }
    progress.finish_and_clear();
    score_and_report(
        data,
        &results_dir,
        &out.join("score"),
        settings.score_options(),
        // A shard is scored over its own entries; the merge scores the run.
        if settings.shard.is_some() {
            MissingPolicy::Partial
        } else {
            settings.missing_policy()
        },
    )?;
    if failed > 0 {
        eprintln!("{failed} request(s) failed for good; re-run the same command to retry them");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn reference(args: ReferenceArgs) -> Result<ExitCode> {
    let data = data_dir(args.data)?;
    let answers = match args.answers {
        AnswerKind::GroundTruth => ReferenceAnswers::GroundTruth,
        AnswerKind::Empty => ReferenceAnswers::Empty,
    };
    for category in parse_category_list(&args.selection.categories)? {
        let entries = load_category(&data, category)?;
        let mut text = String::new();
        for entry in &entries {
            let line = serde_json::json!({"id": entry.id, "result": reference_reply(entry, category, answers)});
            text.push_str(&line.to_string());
            text.push('\n');
        }
        let path = args.out.join(category.result_file_name());
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("wrote reference results to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn prompt(args: PromptArgs) -> Result<ExitCode> {
    let data = data_dir(args.data)?;
    let settings = RunSettings {
        mode: match args.mode {
            ModeArg::Prompt => Mode::Prompt,
            ModeArg::Fc => Mode::Fc,
        },
        temperature: None,
        max_tokens: None,
        underscore_to_dot: matches!(args.mode, ModeArg::Fc),
        limit: None,
        constrain_calls: false,
        shard: None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for category in parse_category_list(&args.selection.categories)? {
        for entry in load_category(&data, category)? {
            let request = build_request(&entry, category, &settings);
            let line = serde_json::json!({"id": entry.id, "messages": request.messages, "tools": request.tools});
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_and_local_colon_name_the_burn_engine() {
        assert_eq!(local_model("local").unwrap(), Some(default_model_path()));
        assert_eq!(
            local_model("local:/m/x.gguf").unwrap(),
            Some(PathBuf::from("/m/x.gguf"))
        );
        assert_eq!(local_model("local-llama-cpp").unwrap(), None);
        assert_eq!(local_model("gpt-4o-mini-prompt").unwrap(), None);
        assert!(local_model("local:").is_err());
    }
}
