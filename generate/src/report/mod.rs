//! `toolgrad report generation`: one row per `toolgrad generate` run
//! directory, from its `metadata/` and `trace/` files: pass rate, cost per
//! accepted sample, tool uses, and for ToolGrad runs the textual gradient's
//! statistics; as markdown, CSV and a bar chart ([`chart`]).

pub mod chart;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Method;
use crate::engine::{IterationTrace, SeedMetadata};
use crate::error::{GenerateError, Result};
use crate::workflow::UpdateOutcome;

/// How many of the most frequent reasons a markdown cell lists (CSV: all).
const TOP_REASONS: usize = 3;

/// Totals over every seed of a run, rejected ones included, divided by the
/// accepted count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PerAccepted {
    pub llm_calls: f64,
    pub tool_calls: f64,
    pub prompt_tokens: f64,
    pub completion_tokens: f64,
    pub cost_usd: f64,
    /// Per-seed wall times, summed (seeds that ran concurrently overlap).
    pub wall_time_s: f64,
}

/// The textual gradient's statistics over a ToolGrad run's traces.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GradientStats {
    pub iterations: usize,
    /// Iterations with at least one successful execution: the selector ran.
    pub reached_selector: usize,
    /// Iterations whose selector chose a report.
    pub selected: usize,
    pub new_chain: usize,
    pub appended: usize,
    /// Why iterations ended early, most frequent first.
    pub early_next: Vec<(String, usize)>,
}

impl GradientStats {
    /// Chosen / reached the selector.
    pub fn selection_rate(&self) -> Option<f64> {
        ratio(self.selected, self.reached_selector)
    }

    /// New chains / applied updates (new chain or append).
    pub fn new_chain_share(&self) -> Option<f64> {
        ratio(self.new_chain, self.new_chain + self.appended)
    }
}

/// One run's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub name: String,
    pub method: Method,
    pub seeds: usize,
    pub accepted: usize,
    /// `None` when nothing was accepted.
    pub per_accepted: Option<PerAccepted>,
    /// Steps of accepted workflows, per accepted sample.
    pub tool_uses: Option<f64>,
    /// ToolGrad runs only.
    pub gradient: Option<GradientStats>,
    /// Why seeds were rejected, most frequent first.
    pub rejections: Vec<(String, usize)>,
}

impl RunRow {
    pub fn pass_rate(&self) -> f64 {
        ratio(self.accepted, self.seeds).unwrap_or(0.0)
    }
}

fn ratio(n: usize, d: usize) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// The `*.json` files of `dir`, sorted, skipping temporary files.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        GenerateError::io(
            dir,
            format!("{e} (is this a `toolgrad generate` output directory?)"),
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.ends_with(".json") && !name.starts_with('.')
        })
        .collect();
    files.sort();
    Ok(files)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| GenerateError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| GenerateError::data(path, e.line(), e.to_string()))
}

/// A reason with its specifics blanked (quoted names and texts, numbers,
/// hashes, and any JSON a reply quoted), so that reasons of one kind count
/// together.
pub fn reason_kind(reason: &str) -> String {
    // Hashes (replay misses name the request's SHA-256) become one token.
    let words: Vec<&str> = reason
        .split(char::is_whitespace)
        .map(|w| {
            let hash = w.len() >= 16 && w.chars().all(|c| c.is_ascii_hexdigit());
            if hash {
                "…"
            } else {
                w
            }
        })
        .collect();
    let joined = words.join(" ");
    let (text, json) = match joined.split_once('{') {
        Some((head, _)) => (head, true),
        None => (joined.as_str(), false),
    };
    let mut kind = String::new();
    let mut quote: Option<char> = None;
    let mut last_digit = false;
    for c in text.chars() {
        let digit = c.is_ascii_digit() && quote.is_none();
        match c {
            '`' | '"' if quote.is_none() => {
                kind.push(c);
                kind.push('…');
                kind.push(c);
                quote = Some(c);
            }
            c if quote == Some(c) => quote = None,
            _ if quote.is_some() => {}
            _ if digit => {
                if !last_digit {
                    kind.push('#');
                }
            }
            _ => kind.push(c),
        }
        last_digit = digit;
    }
    if json {
        kind.push('…');
    }
    toolgrad_core::text::truncate_chars(&mut kind, 120);
    kind
}

fn tally<'a>(reasons: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for reason in reasons {
        *counts.entry(reason_kind(reason)).or_default() += 1;
    }
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted
}

fn gradient_stats(traces: &[Vec<IterationTrace>]) -> GradientStats {
    let mut stats = GradientStats::default();
    for iteration in traces.iter().flatten() {
        stats.iterations += 1;
        if iteration.executions.iter().any(|r| r.success) {
            stats.reached_selector += 1;
        }
        if iteration
            .gradient
            .as_ref()
            .is_some_and(|g| g.chosen.is_some())
        {
            stats.selected += 1;
        }
        match iteration.update {
            Some(UpdateOutcome::NewChain { .. }) => stats.new_chain += 1,
            Some(UpdateOutcome::Appended { .. }) => stats.appended += 1,
            _ => {}
        }
    }
    stats.early_next = tally(
        traces
            .iter()
            .flatten()
            .filter_map(|t| t.early_next.as_deref()),
    );
    stats
}

/// Reads one run directory; errors name the file at fault.
pub fn describe(dir: &Path) -> Result<RunRow> {
    let metadata_dir = dir.join("metadata");
    let files = json_files(&metadata_dir)?;
    if files.is_empty() {
        return Err(GenerateError::io(
            &metadata_dir,
            "no finished seed (no metadata/*.json)",
        ));
    }
    let mut seeds = Vec::new();
    for path in &files {
        seeds.push((path, read_json::<SeedMetadata>(path)?));
    }
    let method = seeds[0].1.method;
    if let Some((path, other)) = seeds.iter().find(|(_, m)| m.method != method) {
        return Err(GenerateError::data(
            path,
            0,
            format!(
                "made by method `{}`, but {} by `{method}`: one run per method",
                other.method,
                files[0].display()
            ),
        ));
    }
    let all: Vec<&SeedMetadata> = seeds.iter().map(|(_, m)| m).collect();
    let accepted: Vec<&&SeedMetadata> = all.iter().filter(|m| m.accepted).collect();
    let n = accepted.len();
    let per = |total: f64| total / n as f64;
    let sum = |f: fn(&SeedMetadata) -> f64| all.iter().map(|m| f(m)).sum::<f64>();
    let per_accepted = (n > 0).then(|| PerAccepted {
        llm_calls: per(sum(|m| m.llm_calls as f64)),
        tool_calls: per(sum(|m| m.tool_calls as f64)),
        prompt_tokens: per(sum(|m| m.prompt_tokens as f64)),
        completion_tokens: per(sum(|m| m.completion_tokens as f64)),
        cost_usd: per(sum(|m| m.cost_usd)),
        wall_time_s: per(sum(|m| m.wall_time_s)),
    });
    let tool_uses = (n > 0).then(|| per(accepted.iter().map(|m| m.num_steps as f64).sum()));
    let gradient = match method {
        Method::Toolgrad => {
            let mut traces = Vec::new();
            for (_, metadata) in &seeds {
                let name = format!("{}.json", crate::run::seed_name(metadata.seed));
                traces.push(read_json::<Vec<IterationTrace>>(
                    &dir.join("trace").join(name),
                )?);
            }
            Some(gradient_stats(&traces))
        }
        Method::Dfs => None,
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    Ok(RunRow {
        name,
        method,
        seeds: all.len(),
        accepted: n,
        per_accepted,
        tool_uses,
        gradient,
        rejections: tally(all.iter().filter_map(|m| m.failure.as_deref())),
    })
}

fn reasons(list: &[(String, usize)], top: usize) -> String {
    list.iter()
        .take(top)
        .map(|(reason, n)| format!("{reason} ({n})"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn fixed(value: Option<f64>, digits: usize) -> Option<String> {
    value.map(|v| format!("{v:.digits$}"))
}

fn percent(value: Option<f64>) -> Option<String> {
    value.map(|v| format!("{:.1} %", 100.0 * v))
}

/// The cells of one row, shared by both renderings; `None` is not applicable.
fn cells(row: &RunRow, top: usize) -> Vec<Option<String>> {
    let p = row.per_accepted;
    let g = row.gradient.as_ref();
    vec![
        Some(row.name.clone()),
        Some(row.method.to_string()),
        Some(row.seeds.to_string()),
        Some(row.accepted.to_string()),
        percent(Some(row.pass_rate())),
        fixed(p.map(|p| p.llm_calls), 2),
        fixed(p.map(|p| p.tool_calls), 2),
        fixed(p.map(|p| p.prompt_tokens), 0),
        fixed(p.map(|p| p.completion_tokens), 0),
        fixed(p.map(|p| p.cost_usd), 6),
        fixed(p.map(|p| p.wall_time_s), 3),
        fixed(row.tool_uses, 2),
        percent(g.and_then(GradientStats::selection_rate)),
        percent(g.and_then(GradientStats::new_chain_share)),
        g.map(|g| reasons(&g.early_next, top)),
        Some(reasons(&row.rejections, top)),
    ]
    .into_iter()
    .map(|cell| cell.map(|c| if c.is_empty() { "none".to_owned() } else { c }))
    .collect()
}

const HEADERS: [&str; 16] = [
    "run",
    "method",
    "seeds",
    "accepted",
    "pass rate",
    "LLM calls¹",
    "tool calls¹",
    "prompt tokens¹",
    "completion tokens¹",
    "USD¹",
    "wall s¹",
    "tool uses²",
    "selection rate³",
    "new chain⁴",
    "early-next reasons⁵",
    "rejections⁵",
];

const CSV_HEADERS: [&str; 16] = [
    "run",
    "method",
    "seeds",
    "accepted",
    "pass_rate",
    "llm_calls_per_accepted",
    "tool_calls_per_accepted",
    "prompt_tokens_per_accepted",
    "completion_tokens_per_accepted",
    "usd_per_accepted",
    "wall_s_per_accepted",
    "tool_uses_per_sample",
    "selection_rate",
    "new_chain_share",
    "early_next_reasons",
    "rejections",
];

/// The table as markdown, with its footnotes.
pub fn markdown(rows: &[RunRow]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for row in rows {
        let cells: Vec<String> = cells(row, TOP_REASONS)
            .into_iter()
            .map(|c| c.map_or("–".to_owned(), |c| c.replace('|', "\\|")))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(
        "\n¹ Per accepted sample: the run's totals over every seed, rejected seeds included, divided by the accepted count. \
Wall time sums each seed's own wall time (seeds that ran concurrently overlap).\n\
² Tool calls in the accepted workflows (their steps), per accepted sample.\n\
³ ToolGrad: iterations whose selector chose a report / iterations with a successful execution (the ones that reach the selector).\n\
⁴ ToolGrad: chain updates that opened a new chain / updates applied (new chain or append).\n\
⁵ The most frequent, with counts; quoted names and texts, numbers and quoted JSON inside a reason are blanked (…, #).\n",
    );
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The table as CSV: unrounded rates and every reason; empty = not applicable.
pub fn csv(rows: &[RunRow]) -> String {
    let mut out = CSV_HEADERS.join(",") + "\n";
    for row in rows {
        let p = row.per_accepted;
        let g = row.gradient.as_ref();
        let number = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let fields = [
            csv_field(&row.name),
            row.method.to_string(),
            row.seeds.to_string(),
            row.accepted.to_string(),
            number(Some(row.pass_rate())),
            number(p.map(|p| p.llm_calls)),
            number(p.map(|p| p.tool_calls)),
            number(p.map(|p| p.prompt_tokens)),
            number(p.map(|p| p.completion_tokens)),
            number(p.map(|p| p.cost_usd)),
            number(p.map(|p| p.wall_time_s)),
            number(row.tool_uses),
            number(g.and_then(GradientStats::selection_rate)),
            number(g.and_then(GradientStats::new_chain_share)),
            csv_field(
                &g.map(|g| reasons(&g.early_next, usize::MAX))
                    .unwrap_or_default(),
            ),
            csv_field(&reasons(&row.rejections, usize::MAX)),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_of_one_kind_count_together() {
        assert_eq!(
            reason_kind("proposal p2 names `city_info`, which was not sampled"),
            "proposal p# names `…`, which was not sampled"
        );
        let misses = tally(
            [
                "replay cache has no reply for request 3fa9c0d1e2b4a5968778695a4b3c2d1e",
                "replay cache has no reply for request 0123456789abcdef0123456789abcdef",
                "every execution failed",
            ]
            .into_iter(),
        );
        assert_eq!(
            misses[0],
            ("replay cache has no reply for request …".to_owned(), 2)
        );
        assert_eq!(misses[1].1, 1);
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(reason_kind("HTTP 502:\n<html>"), "HTTP #: <html>");
        assert_eq!(
            reason_kind("proposer: not JSON: {\"proposals\": [1, 2"),
            "proposer: not JSON: …"
        );
        assert_eq!(
            reason_kind("relates to 1 APIs: \"Tell me about Lisbon\""),
            "relates to # APIs: \"…\""
        );
    }
}
