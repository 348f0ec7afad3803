//! `toolgrad eval score` and `toolgrad eval bfcl`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use toolgrad_eval::checker::CheckOptions;
use toolgrad_eval::score::score_directory;
use toolgrad_eval::summary::{summarize, to_markdown, write_report, MissingPolicy};

use crate::paths::bfcl_data_dir;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Score BFCL result files (`BFCL_v4_<category>_result.json`) against the ground truth.
    Score(ScoreArgs),
}

#[derive(Args)]
pub struct ScoreArgs {
    /// BFCL data directory (holds BFCL_v4_*.json and possible_answer/).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
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
    /// Expect function names with `.` replaced by `_`, as for API FC models.
    #[arg(long)]
    underscore_to_dot: bool,
}

pub fn run(command: EvalCommand) -> Result<ExitCode> {
    match command {
        EvalCommand::Score(args) => score(args),
    }
}

fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    let dir = arg.unwrap_or_else(bfcl_data_dir);
    if !dir.join("possible_answer").is_dir() {
        bail!(
            "BFCL data not found at {} (expected BFCL_v4_*.json and possible_answer/); run scripts/setup.sh or pass --data",
            dir.display()
        );
    }
    Ok(dir)
}

fn score(args: ScoreArgs) -> Result<ExitCode> {
    let data = data_dir(args.data)?;
    let options = CheckOptions {
        underscore_to_dot: args.underscore_to_dot,
    };
    let policy = if args.partial {
        MissingPolicy::Partial
    } else {
        MissingPolicy::CountAsWrong
    };
    score_and_report(&data, &args.results, &args.out, options, policy)?;
    Ok(ExitCode::SUCCESS)
}

pub fn score_and_report(
    data: &Path,
    results: &Path,
    out: &Path,
    options: CheckOptions,
    policy: MissingPolicy,
) -> Result<()> {
    let scores = score_directory(data, results, options)
        .with_context(|| format!("scoring results under {}", results.display()))?;
    let rows = summarize(&scores, policy);
    write_report(out, &scores, &rows)?;
    for score in &scores {
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
    print!("{}", to_markdown(&rows));
    eprintln!("wrote {}", out.display());
    Ok(())
}
