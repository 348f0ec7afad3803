//! Helpers the CLI test binaries share: the `toolgrad generate` command line,
//! and running a command off the async runtime so an in-process mock keeps serving.

use std::path::Path;
use std::process::{Command, Output};

pub const TOOLGRAD: &str = env!("CARGO_BIN_EXE_toolgrad");

/// `toolgrad generate --quiet --config <config> --out <out> <extra>`.
pub fn generate_command(config: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(TOOLGRAD);
    command
        .args(["generate", "--quiet", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra);
    command
}

/// Runs `command` on a blocking thread and waits for its output.
pub async fn run_blocking(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}
