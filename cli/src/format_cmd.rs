//! `toolgrad format`, `toolgrad report dataset` (over `toolgrad-format`) and
//! `toolgrad report generation` (over `toolgrad_generate::report`): thin wrappers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use toolgrad_format::config::FormatConfig;
use toolgrad_format::import::Format as ImportFormat;
use toolgrad_format::output::{read_samples, FormatSummary};
use toolgrad_format::stats::{csv, describe, markdown, shapes_markdown};

#[derive(Args)]
pub struct FormatArgs {
    /// A `toolgrad generate` output directory (or, with --import, the dataset file or folder).
    input: PathBuf,
    /// Output directory: one folder per format, samples.jsonl, format.json, README.md.
    #[arg(long)]
    out: PathBuf,
    /// Format settings (TOML), e.g. configs/format-paper.toml; defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Read a baseline dataset instead: xlam, toolace, glaive, hermes or toolbench.
    #[arg(long)]
    import: Option<ImportFormat>,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// One statistics row per formatted dataset, as markdown and CSV.
    Dataset {
        /// `toolgrad format` output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Also write `datasets.md` and `datasets.csv` here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// One cost and pass-rate row per generate run (ToolGrad or DFS), as markdown and CSV.
    Generation {
        /// `toolgrad generate` output directories.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Also write `generation.md`, `generation.csv` and the bar chart `generation.png` here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("toolgrad {}", args.join(" "))
}

fn print_summary(summary: &FormatSummary) {
    for (format, split, n) in &summary.counts {
        eprintln!("{format}/{split}.jsonl: {n} samples");
    }
    for (what, ids) in &summary.left_out {
        eprintln!("left out ({what}): {}", ids.len());
        for id in ids.iter().take(5) {
            eprintln!("  {id}");
        }
    }
    let test = &summary.answer_positions;
    match test.p_value {
        Some(p) => eprintln!(
            "answer positions {:?}: chi-square {:.2} (df {}), p = {p:.3}",
            test.counts, test.chi_square, test.degrees_of_freedom
        ),
        None => eprintln!("answer positions {:?}: too few for a test", test.counts),
    }
}

pub fn format(args: FormatArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(path) => FormatConfig::load(path)?,
        None => FormatConfig::default(),
    };
    let command = command_line();
    let summary = match args.import {
        Some(format) => {
            let (summary, imported) =
                toolgrad_format::format_import(format, &args.input, &args.out, &config, &command)?;
            eprintln!(
                "{}: {} rows, {} malformed, {} skipped",
                args.input.display(),
                imported.rows,
                imported.malformed.len(),
                imported.skipped.len()
            );
            summary
        }
        None => toolgrad_format::format_run(&args.input, &args.out, &config, &command)?,
    };
    print_summary(&summary);
    eprintln!("dataset card: {}", args.out.join("README.md").display());
    Ok(ExitCode::SUCCESS)
}

pub fn report(command: ReportCommand) -> Result<ExitCode> {
    match command {
        ReportCommand::Dataset { dirs, out } => report_datasets(&dirs, out.as_deref()),
        ReportCommand::Generation { runs, out } => report_generation(&runs, out.as_deref()),
    }
}

fn write(out: &Path, file: &str, text: &str) -> Result<()> {
    let path = out.join(file);
    toolgrad_core::fsutil::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn report_generation(runs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    use toolgrad_generate::report;
    let rows = runs
        .iter()
        .map(|dir| report::describe(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let table = report::markdown(&rows);
    print!("{table}");
    if let Some(out) = out {
        write(out, "generation.md", &table)?;
        write(out, "generation.csv", &report::csv(&rows))?;
        report::chart::bar_chart(&rows, &out.join("generation.png"))?;
        eprintln!("written: {}/generation.{{md,csv,png}}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn report_datasets(dirs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for dir in dirs {
        let samples = read_samples(dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        rows.push(describe(&name, &samples));
    }
    let table = format!(
        "{}\nBFCL call shapes of the positives:\n\n{}",
        markdown(&rows),
        shapes_markdown(&rows)
    );
    print!("{table}");
    if let Some(out) = out {
        write(out, "datasets.md", &table)?;
        write(out, "datasets.csv", &csv(&rows))?;
    }
    Ok(ExitCode::SUCCESS)
}
