//! `toolgrad run CONFIG`: the whole experiment of a run config, each stage a
//! `toolgrad` subprocess of this same binary, cached by content key and
//! resumable; then the report.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use clap::Args;
use toolgrad_core::paths::default_model_path;
use toolgrad_run::{execute, Exec, Kind, Options, Outcome, Plan, RunConfig, Stage};

#[derive(Args)]
pub struct RunArgs {
    /// Run config (`configs/quickstart.toml`).
    config: PathBuf,
    /// Run folder (default: `runs/<name>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Re-run this stage and every stage after it (generate, verify, format, train, eval).
    #[arg(long, value_parser = parse_kind)]
    from: Option<Kind>,
    /// Stop after this stage kind (for example `format`, to generate on one
    /// machine and train on another).
    #[arg(long, value_parser = parse_kind)]
    until: Option<Kind>,
    /// Base model (.gguf or HF dir; default: the cached SmolLM2-135M-Instruct).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print the stages and their commands without running them.
    #[arg(long)]
    dry_run: bool,
}

fn parse_kind(name: &str) -> Result<Kind, String> {
    Kind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// Runs a stage as `toolgrad <argv>` with this executable.
struct Subprocess {
    exe: PathBuf,
}

impl Exec for Subprocess {
    fn run(&mut self, stage: &Stage) -> Result<(), String> {
        let status = Command::new(&self.exe)
            .args(&stage.argv)
            .status()
            .map_err(|e| format!("starting {}: {e}", self.exe.display()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "`toolgrad {}` exited with {status}",
                stage.argv.join(" ")
            ))
        }
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let config = RunConfig::load(&args.config)?;
    let root = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&config.name));
    let model = args.model.clone().unwrap_or_else(default_model_path);
    let plan = Plan::new(&config, &root, &model)
        .with_context(|| format!("planning {}", args.config.display()))?;
    if args.dry_run {
        for stage in &plan.stages {
            println!(
                "{}\t{}\ttoolgrad {}",
                stage.id,
                &stage.key[..12],
                stage.argv.join(" ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut exec = Subprocess {
        exe: std::env::current_exe().context("locating the toolgrad executable")?,
    };
    let options = Options {
        from: args.from,
        until: args.until,
    };
    let outcomes = execute(&plan, &args.config, &options, &mut exec, &mut |line| {
        eprintln!("run: {line}")
    })?;
    let elsewhere = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Busy | Outcome::Waiting))
        .count();
    if elsewhere > 0 {
        eprintln!(
            "run: {elsewhere} stage(s) are running or wait on another process; the report covers what is done, run again when it ends"
        );
    }
    let command = format!("toolgrad run {}", args.config.display());
    let report = toolgrad_run::report::write(&plan, &command, &args.config)?;
    print!("{report}");
    eprintln!("run: report in {}", root.join("report").display());
    Ok(ExitCode::SUCCESS)
}
