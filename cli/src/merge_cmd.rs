//! `toolgrad merge`: joins the folders of `generate --shard K/N` or
//! `eval bfcl --shard K/N` into what one machine would have written (the
//! logic is in `toolgrad_generate::merge` and `toolgrad_eval::runner::shard`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use crate::eval_cmd::{data_dir, print_report, DataArg};

#[derive(Args)]
pub struct MergeArgs {
    /// The merged folder; it must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The shard folders of one run, every K of the same N once, in any order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// `eval bfcl` shards only: the BFCL data they ran on, to order and score the results.
    #[command(flatten)]
    data: DataArg,
}

pub fn merge(args: MergeArgs) -> Result<ExitCode> {
    let first = &args.shards[0];
    if first.join("config.hash").is_file() {
        let summary = toolgrad_generate::merge::merge(&args.shards, &args.out)?;
        eprintln!(
            "merged {} shards: {} seeds: {} accepted, {} failed",
            args.shards.len(),
            summary.seeds,
            summary.accepted,
            summary.failed
        );
        eprintln!("dataset: {}", args.out.join("dataset.jsonl").display());
    } else if first.join("result").is_dir() {
        let data = data_dir(args.data)?;
        let merged = toolgrad_eval::runner::shard::merge(&args.shards, &data, &args.out)?;
        print_report(&merged.score, &merged.rows, &args.out.join("score"));
    } else {
        bail!(
            "{}: not a shard folder of `toolgrad generate --shard K/N` (no config.hash) or of `toolgrad eval bfcl --shard K/N` (no result/)",
            first.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
