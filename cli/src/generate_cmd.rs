//! `toolgrad generate`, `toolgrad verify` and `toolgrad tools`: thin wrappers
//! over `toolgrad-generate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use toolgrad_core::shard::Shard;
use toolgrad_generate::config::{GenerateConfig, Method};
use toolgrad_generate::validate::Validator;
use toolgrad_tools::builtin::BuiltinSource;
use toolgrad_tools::{CallLimits, ToolBox, ToolSource};

#[derive(Args)]
pub struct GenerateArgs {
    /// Run config (TOML), e.g. configs/generate-offline.toml.
    #[arg(long)]
    config: PathBuf,
    /// Output directory; a re-run with the same directory resumes.
    #[arg(long)]
    out: PathBuf,
    /// Override the config's number of seeds.
    #[arg(long)]
    num_seeds: Option<u64>,
    /// Override the config's method: `toolgrad` (answer-first) or `dfs` (the
    /// query-first baseline, ToolBench's DFSDT, settings in `[dfs]`).
    #[arg(long)]
    method: Option<Method>,
    /// Replay recorded LLM replies only; no LLM is contacted. With a recorded
    /// run directory, its cache is replayed; a reply it lacks fails the command.
    #[arg(long, value_name = "RECORDED_RUN")]
    replay: Option<Option<PathBuf>>,
    /// Resume even though the settings that shape the data differ from the
    /// ones the output directory was generated with.
    #[arg(long)]
    force_config: bool,
    /// Run only shard K of N: the seeds at positions K-1, K-1+N, ... of the
    /// config's seeds. `toolgrad merge` joins the N folders.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// A `generate` output directory, or a dataset JSONL file.
    dataset: PathBuf,
    /// The run config whose tool sources re-execute the steps (default: the
    /// `config.toml` copy in the output directory, else the built-in library).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also fail samples whose query or response states a value no call or
    /// observation holds (without it these are reported, not failed).
    #[arg(long)]
    strict: bool,
}

#[derive(Subcommand)]
pub enum ToolsCommand {
    /// List the built-in tools (name, domain, description).
    List,
    /// Call one built-in tool with JSON arguments and print the observation.
    Call {
        name: String,
        /// Arguments as a JSON object.
        #[arg(default_value = "{}")]
        args: String,
    },
    /// Serve the built-in library as an MCP server over stdin/stdout.
    Mcp,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

pub fn generate(args: GenerateArgs) -> Result<ExitCode> {
    let mut config = GenerateConfig::load(&args.config)?;
    if let Some(n) = args.num_seeds {
        if n == 0 {
            bail!("--num-seeds must be at least 1");
        }
        config.num_seeds = n;
    }
    if let Some(method) = args.method {
        config.method = method;
        config.check(&args.config)?;
    }
    if let Some(recorded) = &args.replay {
        config.cache.mode = toolgrad_generate::config::CacheMode::Replay;
        if let Some(recorded) = recorded {
            let cache = recorded.join("cache");
            if !cache.join("llm.jsonl").is_file() {
                bail!(
                    "--replay {}: no recorded LLM cache at {}",
                    recorded.display(),
                    cache.join("llm.jsonl").display()
                );
            }
            config.cache.dir = Some(cache);
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    toolgrad_generate::shard::record(&args.out, args.shard)?;
    toolgrad_generate::provenance::record(&config, &args.out, args.force_config)?;
    let seeds = match args.shard {
        Some(shard) => shard.select(config.seeds()),
        None => config.seeds(),
    };
    let summary = runtime()?.block_on(async {
        let generator = toolgrad_generate::setup::generator(&config, &args.out).await?;
        toolgrad_generate::run::run(
            generator,
            &seeds,
            config.concurrency,
            &args.out,
            !args.quiet,
        )
        .await
    })?;
    eprintln!(
        "{}: {} seeds: {} accepted, {} failed ({} resumed) · {:.1} steps and {:.1} chains per sample · {} LLM calls · ${:.4} · {:.1} s",
        summary.method,
        summary.seeds,
        summary.accepted,
        summary.failed,
        summary.resumed,
        summary.mean_steps_per_sample,
        summary.mean_chains_per_sample,
        summary.llm_calls,
        summary.cost_usd,
        summary.wall_time_s
    );
    eprintln!("dataset: {}", args.out.join("dataset.jsonl").display());
    if args.replay.is_some() {
        let misses = toolgrad_generate::run::replay_misses(&args.out, &seeds);
        if let Some((seed, reason)) = misses.first() {
            bail!(
                "{} step(s) had no recorded reply (the config or the code changed since the recording); first, seed {seed}: {reason}",
                misses.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let config_path = args
        .config
        .clone()
        .or_else(|| Some(args.dataset.join("config.toml")).filter(|p| p.is_file()));
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let (toolbox, validator) = match &config_path {
            Some(path) => {
                let config = GenerateConfig::load(path)?;
                if toolgrad_generate::provenance::is_redacted(&config) {
                    bail!(
                        "{} has redacted env values (they may hold tokens); pass the original with --config",
                        path.display()
                    );
                }
                let cache = config
                    .cache
                    .dir
                    .clone()
                    .unwrap_or_else(|| args.dataset.join("cache"));
                let (toolbox, _) = toolgrad_generate::setup::toolbox(&config, &cache).await?;
                (toolbox, Validator::new(config.validator.clone()))
            }
            None => {
                let builtin: Arc<dyn ToolSource> =
                    Arc::new(BuiltinSource::new(None)?);
                let toolbox = ToolBox::new(vec![builtin], CallLimits::default())?;
                (toolbox, Validator::new(Default::default()))
            }
        };
        let report = toolgrad_generate::verify::verify(&args.dataset, &toolbox, &validator, args.strict)
                .await?;
        anyhow::Ok(report)
    })?;
    for failure in &report.failures {
        eprintln!(
            "line {} ({}){}: {}",
            failure.line,
            failure.id,
            if failure.passed { ", passed" } else { "" },
            failure.problems.join("; ")
        );
    }
    let out = if args.dataset.is_dir() {
        args.dataset.join("verify.json")
    } else {
        args.dataset.with_extension("verify.json")
    };
    let text = serde_json::to_string_pretty(&report)? + "\n";
    toolgrad_core::fsutil::write_atomic(&out, text.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}/{} samples passed ({:.1} %), {} steps re-executed · report: {}",
        report.passed,
        report.samples,
        report.pass_rate * 100.0,
        report.steps_reexecuted,
        out.display()
    );
    for tally in &report.checks {
        println!(
            "  {:<18} {}/{} samples passed",
            tally.check.name(),
            tally.checked - tally.failed,
            tally.checked
        );
    }
    if report.samples == 0 {
        bail!("{}: the dataset has no samples", report.dataset);
    }
    Ok(if report.passed == report.samples {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn tools(command: ToolsCommand) -> Result<ExitCode> {
    let source = Arc::new(BuiltinSource::new(None)?);
    match command {
        ToolsCommand::List => {
            for tool in toolgrad_tools::builtin::catalogue() {
                println!("{:<30} {:<11} {}", tool.name, tool.domain, tool.description);
            }
        }
        ToolsCommand::Call { name, args } => {
            let args: serde_json::Value =
                serde_json::from_str(&args).context("the arguments are not JSON")?;
            let builtin: Arc<dyn ToolSource> = source;
            let toolbox = ToolBox::new(vec![builtin], CallLimits::default())?;
            let observation = runtime()?.block_on(toolbox.call(&name, &args))?;
            println!("{observation}");
        }
        ToolsCommand::Mcp => {
            runtime()?.block_on(toolgrad_tools::mcp::serve_builtin(source))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
