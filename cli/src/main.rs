//! The `toolgrad` command line: a thin layer over the library crates.

mod eval_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Evaluate models on BFCL single-turn categories.
    #[command(subcommand)]
    Eval(eval_cmd::EvalCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(command) => eval_cmd::run(command),
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
