//! Training data from generated workflows and from baseline datasets.
//!
//! Data flows [`workflows`] (a `toolgrad generate` run and its `tools.json`) or
//! [`import`] (xLAM, ToolACE, Glaive, Hermes, ToolBench) → [`sample::Sample`],
//! the neutral schema → [`render`] (BFCL-style Python calls, OpenAI tools,
//! ShareGPT, agentic traces) → [`output`] (files and a dataset card);
//! [`stats`] and [`positions`] describe any set of samples.

pub mod config;
pub mod error;
pub mod import;
pub mod names;
pub mod output;
pub mod positions;
pub mod render;
pub mod sample;
pub mod stats;
pub mod workflows;

use std::path::Path;

use rand::seq::SliceRandom;
use toolgrad_generate::policy::rule::seeded;

pub use config::{FormatConfig, OutputFormat};
pub use error::{FormatError, Result};
use output::FormatSummary;
use workflows::Split;

/// Formats a `toolgrad generate` run directory into `out`.
pub fn format_run(
    run_dir: &Path,
    out: &Path,
    config: &FormatConfig,
    command: &str,
) -> Result<FormatSummary> {
    let run = workflows::load(run_dir)?;
    let built = workflows::build(&run, config)?;
    let mut left_out = Vec::new();
    if !built.malformed.is_empty() {
        left_out.push(("malformed records".to_owned(), built.malformed));
    }
    if !built.agentic_skipped.is_empty() {
        left_out.push(("agentic query".to_owned(), built.agentic_skipped));
    }
    if !built.negatives_skipped.is_empty() {
        left_out.push(("negatives".to_owned(), built.negatives_skipped));
    }
    output::write_dataset(
        &built.samples,
        out,
        config,
        &dataset_name(run_dir),
        command,
        left_out,
    )
}

/// Imports a baseline dataset and writes it in the same formats into `out`:
/// candidates shuffled with the seed, a test split by sample.
pub fn format_import(
    format: import::Format,
    path: &Path,
    out: &Path,
    config: &FormatConfig,
    command: &str,
) -> Result<(FormatSummary, import::Imported)> {
    let mut imported = import::import(format, path)?;
    let test = workflows::test_members(imported.samples.len(), config);
    let samples: Vec<(Split, sample::Sample)> = std::mem::take(&mut imported.samples)
        .into_iter()
        .enumerate()
        .map(|(i, sample)| {
            let mut sample = callable_names(sample);
            sample
                .tools
                .shuffle(&mut seeded(&[config.seed, 3, i as u64]));
            let split = if test.contains(&i) {
                Split::Test
            } else {
                Split::Train
            };
            (split, sample)
        })
        .collect();
    let mut left_out = Vec::new();
    for (what, problems) in [
        ("malformed rows", &imported.malformed),
        ("skipped rows", &imported.skipped),
    ] {
        if !problems.is_empty() {
            left_out.push((
                what.to_owned(),
                problems
                    .iter()
                    .map(|p| format!("line {}: {}", p.line, p.message))
                    .collect(),
            ));
        }
    }
    let name = format!("{} ({})", dataset_name(path), format.name());
    let summary = output::write_dataset(&samples, out, config, &name, command, left_out)?;
    Ok((summary, imported))
}

/// The sample with every function name made callable ([`names::callable`]):
/// sources such as ToolACE name functions `Get Weather Forecast`.
fn callable_names(mut sample: sample::Sample) -> sample::Sample {
    for tool in &mut sample.tools {
        tool.name = names::callable(&tool.name);
    }
    for call in &mut sample.calls {
        call.name = names::callable(&call.name);
    }
    for round in sample.trace.iter_mut().flat_map(|t| t.rounds.iter_mut()) {
        for call in &mut round.calls {
            call.name = names::callable(&call.name);
        }
    }
    sample
}

fn dataset_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
