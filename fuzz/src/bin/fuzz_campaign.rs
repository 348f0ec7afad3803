//! The million-input fuzz campaign, or the replay of saved crashes.
//!
//! Usage:
//!   fuzz_campaign [--inputs N] [--seed S] [--target NAME]...
//!   fuzz_campaign --replay FILE --target NAME
//!
//! Prints one markdown row per target: inputs tried, panics, inputs per second.
//! Panicking inputs are saved under `target/fuzz-crashes/`.

use std::path::PathBuf;
use std::process::ExitCode;

use toolgrad_fuzz::seeds::Scratch;
use toolgrad_fuzz::targets::{target, TARGETS};

struct Args {
    inputs: u64,
    seed: u64,
    targets: Vec<String>,
    replay: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        inputs: 1_000_000,
        seed: 1,
        targets: Vec::new(),
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--inputs" => args.inputs = value()?.parse().map_err(|e| format!("--inputs: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--target" => args.targets.push(value()?),
            "--replay" => args.replay = Some(value()?.into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(unknown) = args.targets.iter().find(|t| target(t).is_none()) {
        let names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        return Err(format!(
            "unknown target {unknown} (targets: {})",
            names.join(", ")
        ));
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fuzz_campaign: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(file) = &args.replay {
        let (Some(name), Ok(data)) = (args.targets.first(), std::fs::read(file)) else {
            eprintln!("fuzz_campaign: --replay needs a readable FILE and one --target");
            return ExitCode::from(2);
        };
        let Ok(scratch) = Scratch::new() else {
            eprintln!("fuzz_campaign: no scratch folder");
            return ExitCode::FAILURE;
        };
        // The default hook prints the panic and its backtrace.
        if let Some(t) = target(name) {
            (t.run)(&data, &scratch);
        }
        println!("no panic");
        return ExitCode::SUCCESS;
    }
    toolgrad_fuzz::quiet_panics();
    let crashes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-crashes");
    println!("| target | what | seeds | inputs | panics | inputs/s | time |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut panics = 0;
    for t in TARGETS {
        if !args.targets.is_empty() && !args.targets.iter().any(|n| n == t.name) {
            continue;
        }
        let report = match toolgrad_fuzz::run(t, args.inputs, args.seed, &crashes) {
            Ok(report) => report,
            Err(e) => {
                eprintln!("fuzz_campaign: {}: {e}", t.name);
                return ExitCode::FAILURE;
            }
        };
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} s |",
            report.target,
            t.what,
            report.seeds,
            report.inputs,
            report.panics,
            report.inputs as f64 / report.elapsed.as_secs_f64(),
            report.elapsed.as_secs_f64()
        );
        for (path, message) in &report.crashes {
            eprintln!("  crash {}: {message}", path.display());
        }
        panics += report.panics;
    }
    if panics > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
