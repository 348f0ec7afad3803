//! Writes a formatted dataset:
//! - `<format>/train.jsonl` and `<format>/test.jsonl` for each format;
//! - `samples.jsonl`: the neutral samples with their split, which
//!   `toolgrad report dataset` reads;
//! - `format.json`: counts, statistics, the answer-position test, what was left
//!   out and why;
//! - `README.md`: a dataset card in the Hugging Face layout, whose `configs`
//!   let `datasets.load_dataset("<dir>", "<format>")` load each format.
//!
//! Every file is written to a temporary name and renamed. Every bfcl-python
//! target is decoded back with BFCL's decoder before anything is written.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use toolgrad_core::fsutil::write_atomic;

use crate::config::{FormatConfig, OutputFormat};
use crate::error::{FormatError, Result};
use crate::positions::{histogram, PositionTest};
use crate::render::{check_python_target, python_target, render};
use crate::sample::Sample;
use crate::stats::{describe, markdown, shapes_markdown, DatasetStats};
use crate::workflows::Split;

/// The neutral samples file inside a formatted dataset.
pub const SAMPLES_FILE: &str = "samples.jsonl";

/// One line of `samples.jsonl`.
#[derive(Serialize, serde::Deserialize)]
pub struct SplitSample {
    pub split: String,
    #[serde(flatten)]
    pub sample: Sample,
}

/// What was written, saved as `format.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FormatSummary {
    pub name: String,
    pub command: String,
    pub config_hash: String,
    pub config: FormatConfig,
    /// `format → split → lines`.
    pub counts: Vec<(String, String, usize)>,
    pub stats: DatasetStats,
    pub answer_positions: PositionTest,
    /// Samples each format left out, and why (`id: reason`).
    pub left_out: Vec<(String, Vec<String>)>,
}

fn write(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, text.as_bytes()).map_err(|e| FormatError::io(path, e))
}

fn jsonl<'a>(lines: impl Iterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Renders and writes every format, the samples, the summary and the card.
pub fn write_dataset(
    samples: &[(Split, Sample)],
    out: &Path,
    config: &FormatConfig,
    name: &str,
    command: &str,
    mut left_out: Vec<(String, Vec<String>)>,
) -> Result<FormatSummary> {
    // A target that BFCL's decoder would not read back as the same calls (say,
    // arguments nested past its bracket limit) is never written.
    let mut undecodable = Vec::new();
    let samples: Vec<(Split, Sample)> = samples
        .iter()
        .filter(|(_, sample)| {
            match check_python_target(&python_target(&sample.calls), &sample.calls) {
                Ok(()) => true,
                Err(e) => {
                    undecodable.push(format!("{}: {e}", sample.id));
                    false
                }
            }
        })
        .cloned()
        .collect();
    if !undecodable.is_empty() {
        left_out.push(("undecodable targets".to_owned(), undecodable));
    }
    let samples = &samples[..];
    let mut counts = Vec::new();
    for &format in &config.formats {
        let mut missing = Vec::new();
        for split in [Split::Train, Split::Test] {
            let lines: Vec<Value> = samples
                .iter()
                .filter(|(s, _)| *s == split)
                .filter_map(|(_, sample)| {
                    let line = render(sample, format, &config.refusal);
                    if line.is_none() {
                        missing.push(sample.id.clone());
                    }
                    line
                })
                .collect();
            let path = out
                .join(format.name())
                .join(format!("{}.jsonl", split.name()));
            if lines.is_empty() {
                // An empty split file is not a split: remove one left by an earlier run.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            write(&path, &jsonl(lines.iter()))?;
            counts.push((
                format.name().to_owned(),
                split.name().to_owned(),
                lines.len(),
            ));
        }
        if !missing.is_empty() {
            left_out.push((
                format.name().to_owned(),
                missing
                    .into_iter()
                    .map(|id| format!("{id}: no multi-turn trace"))
                    .collect(),
            ));
        }
    }
    let neutral: Vec<Value> = samples
        .iter()
        .map(|(split, sample)| {
            serde_json::to_value(SplitSample {
                split: split.name().to_owned(),
                sample: sample.clone(),
            })
            .unwrap_or(Value::Null)
        })
        .collect();
    write(&out.join(SAMPLES_FILE), &jsonl(neutral.iter()))?;
    let all: Vec<Sample> = samples.iter().map(|(_, s)| s.clone()).collect();
    let summary = FormatSummary {
        name: name.to_owned(),
        command: command.to_owned(),
        config_hash: config.hash(),
        config: config.clone(),
        counts,
        stats: describe(name, &all),
        answer_positions: histogram(&all, config.num_tools),
        left_out,
    };
    let mut text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    text.push('\n');
    write(&out.join("format.json"), &text)?;
    write(&out.join("README.md"), &card(&summary))?;
    Ok(summary)
}

/// Reads `samples.jsonl` back; errors name the file and line.
pub fn read_samples(dir: &Path) -> Result<Vec<Sample>> {
    let path = dir.join(SAMPLES_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| FormatError::io(&path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str::<SplitSample>(line)
                .map(|s| s.sample)
                .map_err(|e| FormatError::data(&path, i + 1, e.to_string()))
        })
        .collect()
}

const FORMAT_NOTES: &str = "\
- `bfcl-python`: `messages` = BFCL's prompt-mode system prompt listing the candidates (built by the same function as `toolgrad eval bfcl`), the query, and the flat Python call list (`[]` for an irrelevance sample).
- `openai-tools`: `messages` (user, then an assistant turn with `tool_calls`) and `tools`. `tools` and each call's `function.arguments` are JSON strings, as in OpenAI's API; TRL's SFTTrainer reads `tools` in that form.
- `sharegpt`: `conversations` of `from`/`value` turns (`system`, `human`, `gpt`) holding the bfcl-python texts, and `tools` as a JSON string.
- `agentic`: a multi-turn trace in OpenAI messages: the user request, which states no value that a tool result supplies; one assistant turn of `tool_calls` per round; one `tool` message per call with the recorded observation; the final answer.
";

/// The dataset card: YAML front matter (`configs`, splits), then the numbers.
pub fn card(summary: &FormatSummary) -> String {
    // A JSON string is a valid YAML scalar, whatever the name holds.
    let mut yaml = String::from("---\npretty_name: ");
    yaml.push_str(&Value::String(summary.name.clone()).to_string());
    yaml.push_str("\ntags:\n- function-calling\n- tool-use\n- synthetic\ntask_categories:\n- text-generation\nconfigs:\n");
    let mut first = true;
    for format in OutputFormat::ALL {
        let splits: Vec<&(String, String, usize)> = summary
            .counts
            .iter()
            .filter(|(f, _, _)| f == format.name())
            .collect();
        if splits.is_empty() {
            continue;
        }
        yaml.push_str(&format!("- config_name: {}\n", format.name()));
        if first {
            yaml.push_str("  default: true\n");
            first = false;
        }
        yaml.push_str("  data_files:\n");
        for (f, split, _) in splits {
            yaml.push_str(&format!(
                "  - split: {split}\n    path: {f}/{split}.jsonl\n"
            ));
        }
    }
    yaml.push_str("---\n\n");
    let mut text = yaml;
    text.push_str(&format!(
        "# {}\n\nTool-use training data written by toolgrad.\n\n",
        summary.name
    ));
    text.push_str(&format!(
        "- Command: `{}`\n- Format config hash: `{}` (settings in `format.json`)\n\n",
        summary.command, summary.config_hash
    ));
    text.push_str("## Files\n\n| format | split | samples |\n|---|---|---:|\n");
    for (format, split, n) in &summary.counts {
        text.push_str(&format!("| {format} | {split} | {n} |\n"));
    }
    text.push('\n');
    text.push_str(FORMAT_NOTES);
    text.push_str("\n## Statistics\n\n");
    text.push_str(&markdown(std::slice::from_ref(&summary.stats)));
    text.push_str("\nBFCL call shapes of the positives:\n\n");
    text.push_str(&shapes_markdown(std::slice::from_ref(&summary.stats)));
    let test = &summary.answer_positions;
    text.push_str(&format!(
        "\n## Answer positions\n\nWhere the called tools sit among the {} shuffled candidates (positives with exactly {} candidates):\n\n| position | {} |\n|---|{}\n| answers | {} |\n\n",
        test.slots,
        test.slots,
        (1..=test.slots).map(|i| i.to_string()).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(test.slots),
        test.counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" | "),
    ));
    text.push_str(&match test.p_value {
        Some(p) => format!(
            "Pearson's chi-square test of uniformity: χ² = {:.2}, {} degrees of freedom, p = {:.3}.\n",
            test.chi_square, test.degrees_of_freedom, p
        ),
        None => "Too few samples for a chi-square test (fewer than 5 expected per position).\n".into(),
    });
    if !summary.left_out.is_empty() {
        text.push_str("\n## Left out\n\n");
        for (what, ids) in &summary.left_out {
            text.push_str(&format!("- {what}: {} sample(s)", ids.len()));
            if let Some(first) = ids.first() {
                text.push_str(&format!(", e.g. {first}"));
            }
            text.push('\n');
        }
    }
    text
}
