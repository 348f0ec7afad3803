//! Many seeds at once, with output that survives `kill -9`, for either
//! method behind [`Generator`].
//!
//! Layout of an output directory:
//! - `data/<seed>.json`: the accepted workflow (reference layout);
//! - `trace/<seed>.json`: every iteration's proposals, executions, gradient, update;
//! - `metadata/<seed>.json`: accounting; written last, it marks the seed done;
//! - `dataset.jsonl`: every accepted workflow in seed order, rebuilt at the end;
//! - `summary.json`: totals of the run;
//! - `tools.json`: the spec of every tool the run could sample ([`crate::catalog`]);
//! - `shard.json`: with `--shard K/N`, which slice of the seeds ([`crate::shard`]).
//!
//! Each file is written to a temporary name and renamed, so a kill loses at
//! most the seeds in flight; a re-run skips seeds whose metadata exists. A lock
//! (`.lock`) keeps a second run out of the folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::{try_lock, write_atomic};

use crate::config::Method;
use crate::dfs::DfsTrace;
use crate::engine::{Engine, IterationTrace, SeedMetadata, SeedOutcome};
use crate::error::{GenerateError, Result};
use crate::workflow::Workflow;
use toolgrad_tools::ToolBox;

/// A seed's trace as `trace/<seed>.json` holds it: ToolGrad's iterations (an
/// array, the layout of older runs) or the DFS search (an object).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SeedTrace {
    Toolgrad(Vec<IterationTrace>),
    Dfs(Box<DfsTrace>),
}

impl SeedTrace {
    /// The reasons in this trace that a replay had no recorded reply.
    pub fn replay_misses(&self) -> Vec<String> {
        let reasons: Vec<&String> = match self {
            SeedTrace::Toolgrad(trace) => {
                trace.iter().filter_map(|t| t.early_next.as_ref()).collect()
            }
            SeedTrace::Dfs(trace) => trace.failure.iter().collect(),
        };
        reasons
            .into_iter()
            .filter(|reason| reason.contains(crate::llm::REPLAY_MISS))
            .cloned()
            .collect()
    }
}

/// One method's generator: what [`run`] drives, one seed at a time.
pub trait Generator: Send + Sync {
    fn method(&self) -> Method;
    /// The tools the method samples from (written to `tools.json`).
    fn toolbox(&self) -> &ToolBox;
    fn generate(&self, seed: u64) -> BoxFuture<'_, SeedOutcome<SeedTrace>>;
}

impl Generator for Engine {
    fn method(&self) -> Method {
        Method::Toolgrad
    }

    fn toolbox(&self) -> &ToolBox {
        &self.toolbox
    }

    fn generate(&self, seed: u64) -> BoxFuture<'_, SeedOutcome<SeedTrace>> {
        Box::pin(async move {
            let outcome = self.run_seed(seed).await;
            SeedOutcome {
                workflow: outcome.workflow,
                trace: SeedTrace::Toolgrad(outcome.trace),
                metadata: outcome.metadata,
            }
        })
    }
}

/// Totals of a run, saved as `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Absent in older files: ToolGrad.
    #[serde(default)]
    pub method: Method,
    pub seeds: usize,
    pub accepted: usize,
    pub failed: usize,
    /// Seeds found done on disk and skipped.
    pub resumed: usize,
    pub acceptance_rate: f64,
    pub llm_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub tool_calls: u64,
    pub mean_steps_per_sample: f64,
    pub mean_chains_per_sample: f64,
    pub llm_calls_per_sample: f64,
    /// Wall time of this invocation only.
    pub wall_time_s: f64,
}

/// One line of `dataset.jsonl`: the seed id, then the workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub id: String,
    #[serde(flatten)]
    pub workflow: Workflow,
}

pub fn seed_name(seed: u64) -> String {
    format!("{seed:05}")
}

pub(crate) fn file(out: &Path, folder: &str, seed: u64) -> PathBuf {
    out.join(folder).join(format!("{}.json", seed_name(seed)))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| GenerateError::io(path, e))?;
    text.push('\n');
    write_atomic(path, text.as_bytes()).map_err(|e| GenerateError::io(path, e))
}

fn read_metadata(out: &Path, seed: u64) -> Option<SeedMetadata> {
    let text = std::fs::read_to_string(file(out, "metadata", seed)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs every seed not already done, `concurrency` at a time, then rebuilds
/// `dataset.jsonl` and `summary.json`.
pub async fn run(
    generator: Arc<dyn Generator>,
    seeds: &[u64],
    concurrency: usize,
    out: &Path,
    show_progress: bool,
) -> Result<RunSummary> {
    let started = Instant::now();
    // Held until the run ends; the OS releases it if the process is killed.
    let _lock = lock(out)?;
    for folder in ["data", "trace", "metadata"] {
        let dir = out.join(folder);
        std::fs::create_dir_all(&dir).map_err(|e| GenerateError::io(&dir, e))?;
        remove_stale_temp_files(&dir);
    }
    crate::catalog::write(out, generator.toolbox())?;
    let pending: Vec<u64> = seeds
        .iter()
        .copied()
        .filter(|&seed| read_metadata(out, seed).is_none())
        .collect();
    let resumed = seeds.len() - pending.len();
    let bar = progress_bar(show_progress, seeds.len() as u64, resumed as u64);
    let mut totals = (0usize, 0usize, 0u64, 0f64);
    let mut results = stream::iter(pending.iter().copied())
        .map(|seed| {
            let generator = generator.clone();
            async move {
                let outcome = generator.generate(seed).await;
                save(out, seed, &outcome).map(|_| outcome.metadata)
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        let metadata = result?;
        if metadata.accepted {
            totals.0 += 1;
        } else {
            totals.1 += 1;
        }
        totals.2 += metadata.llm_calls;
        totals.3 += metadata.cost_usd;
        bar.inc(1);
        bar.set_message(format!(
            "accepted {} · failed {} · LLM calls {} · ${:.4}",
            totals.0, totals.1, totals.2, totals.3
        ));
    }
    bar.finish();
    let wall_time_s = started.elapsed().as_secs_f64();
    let summary = finish(out, generator.method(), seeds, resumed, wall_time_s)?;
    Ok(summary)
}

/// The steps of `seeds` that failed because a replay had no recorded reply:
/// `(seed, reason)` from their traces.
pub fn replay_misses(out: &Path, seeds: &[u64]) -> Vec<(u64, String)> {
    let mut misses = Vec::new();
    for &seed in seeds {
        let Ok(text) = std::fs::read_to_string(file(out, "trace", seed)) else {
            continue;
        };
        let Ok(trace) = serde_json::from_str::<SeedTrace>(&text) else {
            continue;
        };
        misses.extend(
            trace
                .replay_misses()
                .into_iter()
                .map(|reason| (seed, reason)),
        );
    }
    misses
}

/// Takes `<out>/.lock`, so that a second `generate` on the same folder refuses
/// to start instead of mixing its files (and its temporary-file clean-up)
/// with this one's.
fn lock(out: &Path) -> Result<std::fs::File> {
    let path = out.join(".lock");
    try_lock(&path)
        .map_err(|e| GenerateError::io(&path, e))?
        .ok_or_else(|| {
            GenerateError::io(
                &path,
                "another `toolgrad generate` is writing to this folder; wait for it or use another --out",
            )
        })
}

/// Removes the hidden `.<name>.tmp<pid>` files a killed run left behind (the
/// lock guarantees that no live run owns them).
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn progress_bar(show: bool, total: u64, done: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} seeds · {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(done);
    bar
}

fn save(out: &Path, seed: u64, outcome: &SeedOutcome<SeedTrace>) -> Result<()> {
    if let Some(workflow) = &outcome.workflow {
        write_json(&file(out, "data", seed), workflow)?;
    }
    write_json(&file(out, "trace", seed), &outcome.trace)?;
    // Last: its presence marks the seed as done.
    write_json(&file(out, "metadata", seed), &outcome.metadata)
}

/// Rebuilds `dataset.jsonl` (seed order) and `summary.json` from the files on
/// disk; [`crate::merge`] calls it on the joined shards.
pub(crate) fn finish(
    out: &Path,
    method: Method,
    seeds: &[u64],
    resumed: usize,
    wall_time_s: f64,
) -> Result<RunSummary> {
    let mut lines = String::new();
    let mut summary = RunSummary {
        method,
        seeds: seeds.len(),
        resumed,
        ..RunSummary::default()
    };
    let (mut steps, mut chains) = (0usize, 0usize);
    for &seed in seeds {
        let Some(metadata) = read_metadata(out, seed) else {
            continue;
        };
        summary.llm_calls += metadata.llm_calls;
        summary.prompt_tokens += metadata.prompt_tokens;
        summary.completion_tokens += metadata.completion_tokens;
        summary.cost_usd += metadata.cost_usd;
        summary.tool_calls += metadata.tool_calls;
        if !metadata.accepted {
            summary.failed += 1;
            continue;
        }
        let path = file(out, "data", seed);
        let text = std::fs::read_to_string(&path).map_err(|e| GenerateError::io(&path, e))?;
        let workflow: Workflow = serde_json::from_str(&text)
            .map_err(|e| GenerateError::data(&path, 0, e.to_string()))?;
        summary.accepted += 1;
        steps += workflow.num_steps();
        chains += workflow.api_use_chains.len();
        let record = DatasetRecord {
            id: seed_name(seed),
            workflow,
        };
        lines.push_str(&serde_json::to_string(&record).expect("records serialise"));
        lines.push('\n');
    }
    let dataset = out.join("dataset.jsonl");
    write_atomic(&dataset, lines.as_bytes()).map_err(|e| GenerateError::io(&dataset, e))?;
    let done = summary.accepted + summary.failed;
    let per = |x: f64, n: usize| if n == 0 { 0.0 } else { x / n as f64 };
    summary.acceptance_rate = per(summary.accepted as f64, done);
    summary.mean_steps_per_sample = per(steps as f64, summary.accepted);
    summary.mean_chains_per_sample = per(chains as f64, summary.accepted);
    summary.llm_calls_per_sample = per(summary.llm_calls as f64, done);
    summary.wall_time_s = wall_time_s;
    write_json(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_on_the_same_folder_is_refused_while_the_first_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let error = lock(dir.path()).unwrap_err().to_string();
        assert!(error.contains("another `toolgrad generate`"), "{error}");
        drop(first);
        assert!(lock(dir.path()).is_ok(), "released when the first run ends");
    }
}
