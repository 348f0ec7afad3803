//! Model runners: query a model on BFCL entries and write result files.
//!
//! Two modes, as in BFCL:
//! - **prompt**: the v4 system prompt lists the functions and the reply is text
//!   (`[f(a=1)]`), decoded later by the prompt decoders;
//! - **fc**: the functions go as native tools and the reply's tool calls are stored
//!   as `[{name: arguments}]`, decoded later by the FC decoder.
//!
//! Runs are resumable: entries already answered in a result file are skipped.
//! Tokens and latency are recorded per entry. A run can be one of N shards
//! ([`shard`]), joined afterwards by [`shard::merge`].

pub mod config;
pub mod prompt;
pub mod results;
pub mod shard;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use toolgrad_core::llm::{ChatModel, ChatRequest, ChatResponse, LlmError};
use toolgrad_core::shard::Shard;

use crate::category::Category;
use crate::checker::CheckOptions;
use crate::dataset::{load_category, Entry};
use crate::decode::ResultFormat;
use crate::error::Result;
use crate::score::ScoreOptions;
use crate::summary::MissingPolicy;
use results::{ResultFile, ResultRecord};

/// How a model is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Prompt,
    Fc,
}

/// Settings of one run, independent of the backend.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub mode: Mode,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// Whether the FC tool names had `.` replaced by `_` (always so in FC mode).
    pub underscore_to_dot: bool,
    /// Only the first N entries of each category (a smoke run).
    pub limit: Option<usize>,
    /// Prompt mode: ask for constrained decoding of BFCL's call-list syntax over
    /// the entry's functions (`response_format` `python_calls`, which toolgrad's
    /// local engine and `toolgrad serve` honour).
    pub constrain_calls: bool,
    /// Only this shard's entries (after `limit`), for one of N machines.
    pub shard: Option<Shard>,
}

impl RunSettings {
    /// How the written result files must be scored.
    pub fn score_options(&self) -> ScoreOptions {
        ScoreOptions {
            format: match self.mode {
                Mode::Prompt => ResultFormat::Prompt,
                Mode::Fc => ResultFormat::ToolCalls,
            },
            check: CheckOptions {
                underscore_to_dot: self.underscore_to_dot,
            },
        }
    }

    /// How the whole run's missing entries count: a `--limit` smoke run is
    /// scored over the entries answered, a full run counts them as wrong.
    pub fn missing_policy(&self) -> MissingPolicy {
        if self.limit.is_some() {
            MissingPolicy::Partial
        } else {
            MissingPolicy::CountAsWrong
        }
    }
}

/// What a run did, per category.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub queried: usize,
    pub skipped: usize,
    pub failed: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Builds the request BFCL would send for an entry.
pub fn build_request(entry: &Entry, category: Category, settings: &RunSettings) -> ChatRequest {
    let (messages, tools) = match settings.mode {
        Mode::Prompt => (prompt::prompt_messages(entry, category), Vec::new()),
        Mode::Fc => (prompt::first_turn(entry), prompt::fc_tools(entry, category)),
    };
    let response_format = (settings.constrain_calls && settings.mode == Mode::Prompt)
        .then(|| serde_json::json!({"type": "python_calls", "functions": entry.functions_json}));
    ChatRequest {
        messages,
        tools,
        response_format,
        tool_choice: None,
        temperature: settings.temperature,
        max_tokens: settings.max_tokens,
    }
}

fn to_record(
    id: &str,
    mode: Mode,
    outcome: std::result::Result<ChatResponse, LlmError>,
) -> ResultRecord {
    match outcome {
        Ok(response) => {
            let result = match mode {
                Mode::Fc if !response.tool_calls.is_empty() => serde_json::Value::Array(
                    response
                        .tool_calls
                        .iter()
                        .map(|call| serde_json::json!({ call.function.name.clone(): call.function.arguments }))
                        .collect(),
                ),
                _ => response.content.map(serde_json::Value::String).unwrap_or(serde_json::Value::Null),
            };
            ResultRecord {
                id: id.to_owned(),
                result,
                input_token_count: response.usage.prompt_tokens,
                output_token_count: response.usage.completion_tokens,
                latency: response.latency.as_secs_f64(),
                error: None,
            }
        }
        Err(error) => ResultRecord {
            id: id.to_owned(),
            result: serde_json::Value::String(format!("Error during inference: {error}")),
            input_token_count: 0,
            output_token_count: 0,
            latency: 0.0,
            error: Some(error.to_string()),
        },
    }
}

/// The result file of a category under a results directory.
pub fn result_path(results_dir: &Path, category: Category) -> PathBuf {
    results_dir.join(category.result_file_name())
}

/// Queries `model` on every unanswered entry of `category` (the first
/// `settings.limit` ones, if set; of those, `settings.shard`'s) and appends
/// the answers.
pub async fn run_category<M: ChatModel + 'static>(
    model: Arc<M>,
    data_dir: &Path,
    results_dir: &Path,
    category: Category,
    settings: &RunSettings,
    progress: &ProgressBar,
) -> Result<RunReport> {
    let mut entries = load_category(data_dir, category)?;
    // The whole dataset's order: a limited run keeps earlier answers in place.
    let order: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    if let Some(limit) = settings.limit {
        entries.truncate(limit);
    }
    if let Some(shard) = settings.shard {
        entries = shard.select(entries);
    }
    let path = result_path(results_dir, category);
    let mut file = ResultFile::open(&path)?;
    let todo: Vec<Entry> = entries
        .iter()
        .filter(|e| !file.is_done(&e.id))
        .cloned()
        .collect();
    let mut report = RunReport {
        skipped: entries.len() - todo.len(),
        ..RunReport::default()
    };
    progress.inc_length(todo.len() as u64);

    let (sender, mut receiver) = mpsc::unbounded_channel();
    for entry in todo {
        let request = build_request(&entry, category, settings);
        let model = Arc::clone(&model);
        let sender = sender.clone();
        let mode = settings.mode;
        tokio::spawn(async move {
            let outcome = model.chat(&request).await;
            let _ = sender.send(to_record(&entry.id, mode, outcome));
        });
    }
    drop(sender);
    while let Some(record) = receiver.recv().await {
        report.queried += 1;
        report.input_tokens += record.input_token_count;
        report.output_tokens += record.output_token_count;
        if let Some(error) = &record.error {
            report.failed += 1;
            progress.println(format!("{category} {}: {error}", record.id));
        }
        file.append(&record)?;
        progress.inc(1);
    }
    file.finish(&order)?;
    Ok(report)
}

/// A progress bar for a run (hidden when stderr is not a terminal).
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} entries ({per_sec}, eta {eta}) {msg}")
            .expect("valid template"),
    );
    bar
}
