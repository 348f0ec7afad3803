//! toolgrad's fuzz campaign: every parser that reads untrusted input (model
//! replies, GGUF files, schemas, configs, JSONL stores) as a [`targets`] entry,
//! run on inputs the [`mutate`] module derives from real [`seeds`]. A target
//! passes when no input makes it panic. `cargo test -p toolgrad-fuzz` runs a
//! bounded campaign; `fuzz_campaign` runs the million-input one.

pub mod mutate;
pub mod seeds;
pub mod targets;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mutate::Mutator;
use seeds::Scratch;
use targets::{crash_path, Target};

/// Inputs longer than this are cut (SmolLM2's header seed is the largest).
const MAX_INPUT: usize = 4 << 20;

/// What one target's run found.
#[derive(Debug)]
pub struct Report {
    pub target: &'static str,
    pub seeds: usize,
    pub inputs: u64,
    pub panics: u64,
    /// The first panics: the saved input and the panic message.
    pub crashes: Vec<(PathBuf, String)>,
    pub elapsed: Duration,
}

/// The message of the latest panic, recorded by the quiet hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Replaces the panic hook with one that records the message quietly, so a
/// million inputs do not print a million backtraces.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let mut last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        *last = info.to_string();
    }));
}

/// Runs `target` on its seeds, then on `inputs / target.divisor` mutated
/// inputs; panicking inputs are written under `crash_dir` (the first 10).
pub fn run(
    target: &'static Target,
    inputs: u64,
    seed: u64,
    crash_dir: &Path,
) -> std::io::Result<Report> {
    let seeds = seeds::seeds(target.name);
    let scratch = Scratch::new()?;
    let mut mutator = Mutator::new(seed, MAX_INPUT);
    let mut report = Report {
        target: target.name,
        seeds: seeds.len(),
        inputs: 0,
        panics: 0,
        crashes: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let started = Instant::now();
    let inputs = inputs / target.divisor.max(1);
    for n in 0..seeds.len() as u64 + inputs {
        let input = match seeds.get(n as usize) {
            Some(seed) => seed.clone(),
            None => mutator.next(&seeds),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (target.run)(&input, &scratch)
        }));
        report.inputs += 1;
        if outcome.is_err() {
            report.panics += 1;
            if report.crashes.len() < 10 {
                std::fs::create_dir_all(crash_dir)?;
                let path = crash_path(crash_dir, target.name, n);
                std::fs::write(&path, &input)?;
                let message = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone();
                report.crashes.push((path, message));
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
