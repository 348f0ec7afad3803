//! The `toolgrad` command line: a thin layer over the library crates.

mod eval_cmd;
mod format_cmd;
mod generate_cmd;
mod merge_cmd;
mod model_cmd;
mod run_cmd;
mod serve_cmd;
mod train_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Tensor-sized buffers are allocated and freed on every op; mimalloc reuses
// them where glibc hands them back to the kernel (page faults and zeroing):
// training runs 1.14× faster with it (benchmarks/train/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "toolgrad",
    version,
    about = "Tool-use data generation, fine-tuning and BFCL evaluation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate tool-use workflows with the ToolGrad loop.
    Generate(generate_cmd::GenerateArgs),
    /// Turn a generated run (or, with --import, a baseline dataset) into SFT samples.
    Format(format_cmd::FormatArgs),
    /// Fine-tune the local model on SFT JSONL (full or LoRA), resumable.
    Train(train_cmd::TrainArgs),
    /// Tables about datasets and generation runs.
    #[command(subcommand)]
    Report(format_cmd::ReportCommand),
    /// Join the folders of `generate --shard K/N` or `eval bfcl --shard K/N` into one run's.
    Merge(merge_cmd::MergeArgs),
    /// Re-execute every step of a generated dataset and report the pass rate.
    Verify(generate_cmd::VerifyArgs),
    /// List, call or serve (over MCP) the built-in tool library.
    #[command(subcommand)]
    Tools(generate_cmd::ToolsCommand),
    /// Evaluate models on BFCL single-turn categories.
    #[command(subcommand)]
    Eval(eval_cmd::EvalCommand),
    /// Inspect, run, benchmark and export the local burn model.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    /// Serve the local model over an OpenAI-compatible HTTP API on 127.0.0.1.
    Serve(serve_cmd::ServeArgs),
    /// Run a whole experiment from one config: generate → verify → format → train → eval → report, cached and resumable.
    Run(run_cmd::RunArgs),
}

fn main() -> ExitCode {
    toolgrad_train::alloc::keep_freed_pages();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => generate_cmd::generate(args),
        Command::Merge(args) => merge_cmd::merge(args),
        Command::Verify(args) => generate_cmd::verify(args),
        Command::Format(args) => format_cmd::format(args),
        Command::Report(command) => format_cmd::report(command),
        Command::Train(args) => train_cmd::train(args),
        Command::Tools(command) => generate_cmd::tools(command),
        Command::Eval(command) => eval_cmd::run(command),
        Command::Model(command) => model_cmd::run(command),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Run(args) => run_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`toolgrad eval prompt | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
