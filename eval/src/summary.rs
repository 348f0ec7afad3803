//! Per-category accuracy and the BFCL v4 / ToolGrad aggregates, written as
//! `summary.csv`, `summary.md` and one `<category>.verdicts.jsonl` per category.
//!
//! Aggregates (computed only when every part was scored):
//! - Non-Live: unweighted mean of simple, multiple, parallel and parallel_multiple,
//!   where simple is the unweighted mean of python, java and javascript;
//! - Live: correct / total over the four live AST categories (sample-weighted);
//! - Overall (ToolGrad paper): the mean of Non-Live and Live.
//!
//! Irrelevance, live irrelevance and live relevance are reported on their own.

use std::fmt::Write as _;
use std::path::Path;

use toolgrad_core::fsutil::write_atomic;

use crate::category::Category;
use crate::error::{EvalError, Result};
use crate::score::CategoryScore;

/// One line of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub name: String,
    /// Accuracy in [0, 1].
    pub accuracy: f64,
    /// For a category: correct, scored (result lines), missing, dataset size.
    pub counts: Option<Counts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub correct: usize,
    pub scored: usize,
    pub missing: usize,
    pub total: usize,
}

/// How missing entries count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingPolicy {
    /// A missing entry is a wrong answer (the official full evaluation).
    #[default]
    CountAsWrong,
    /// Accuracy over the entries present (the official `--partial-eval`).
    Partial,
}

pub fn summarize(scores: &[CategoryScore], policy: MissingPolicy) -> Vec<SummaryRow> {
    let mut rows: Vec<SummaryRow> = Category::ALL
        .iter()
        .filter_map(|c| scores.iter().find(|s| s.category == *c))
        .map(|s| {
            let counts = Counts {
                correct: s.correct(),
                scored: s.verdicts.len(),
                missing: s.missing.len(),
                total: s.total,
            };
            let denominator = match policy {
                MissingPolicy::CountAsWrong => counts.total,
                MissingPolicy::Partial => counts.scored,
            };
            SummaryRow {
                name: s.category.name().into(),
                accuracy: ratio(counts.correct, denominator),
                counts: Some(counts),
            }
        })
        .collect();

    let acc = |c: Category| rows.iter().find(|r| r.name == c.name()).map(|r| r.accuracy);
    let counts = |c: Category| {
        rows.iter()
            .find(|r| r.name == c.name())
            .and_then(|r| r.counts)
    };

    let simple = mean_of(&[
        acc(Category::SimplePython),
        acc(Category::SimpleJava),
        acc(Category::SimpleJavascript),
    ]);
    let non_live = simple.and_then(|simple| {
        mean_of(&[
            Some(simple),
            acc(Category::Multiple),
            acc(Category::Parallel),
            acc(Category::ParallelMultiple),
        ])
    });
    let live_parts = [
        Category::LiveSimple,
        Category::LiveMultiple,
        Category::LiveParallel,
        Category::LiveParallelMultiple,
    ];
    let live = live_parts
        .iter()
        .map(|c| counts(*c))
        .collect::<Option<Vec<_>>>()
        .map(|parts| {
            let correct: usize = parts.iter().map(|p| p.correct).sum();
            let denominator: usize = parts
                .iter()
                .map(|p| {
                    if policy == MissingPolicy::Partial {
                        p.scored
                    } else {
                        p.total
                    }
                })
                .sum();
            ratio(correct, denominator)
        });
    let overall = non_live.zip(live).map(|(n, l)| (n + l) / 2.0);

    for (name, value) in [
        ("non_live_simple (mean of 3)", simple),
        ("NON-LIVE (BFCL v4 AST summary)", non_live),
        ("LIVE (weighted AST)", live),
        ("OVERALL (ToolGrad: mean of non-live and live)", overall),
    ] {
        if let Some(accuracy) = value {
            rows.push(SummaryRow {
                name: name.into(),
                accuracy,
                counts: None,
            });
        }
    }
    rows
}

fn ratio(correct: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        correct as f64 / total as f64
    }
}

fn mean_of(values: &[Option<f64>]) -> Option<f64> {
    let values: Option<Vec<f64>> = values.iter().copied().collect();
    values.map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

pub fn to_csv(rows: &[SummaryRow]) -> String {
    let mut out = String::from("name,accuracy_pct,correct,scored,missing,total\n");
    for row in rows {
        let counts = row
            .counts
            .map(|c| format!("{},{},{},{}", c.correct, c.scored, c.missing, c.total))
            .unwrap_or_else(|| ",,,".into());
        let name = if row.name.contains(',') {
            format!("\"{}\"", row.name)
        } else {
            row.name.clone()
        };
        let _ = writeln!(out, "{name},{:.2},{counts}", row.accuracy * 100.0);
    }
    out
}

pub fn to_markdown(rows: &[SummaryRow]) -> String {
    let mut out = String::from("| category | accuracy (%) | correct | scored | missing | total |\n|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let (name, counts) = match row.counts {
            Some(c) => (
                row.name.clone(),
                format!("{} | {} | {} | {}", c.correct, c.scored, c.missing, c.total),
            ),
            None => (format!("**{}**", row.name), " |  |  | ".into()),
        };
        let _ = writeln!(out, "| {name} | {:.2} | {counts} |", row.accuracy * 100.0);
    }
    out
}

/// Writes verdict files and the summary into `out_dir`, each file atomically.
pub fn write_report(out_dir: &Path, scores: &[CategoryScore], rows: &[SummaryRow]) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| EvalError::io(out_dir, e))?;
    for score in scores {
        let mut text = String::with_capacity(score.verdicts.len() * 64);
        for verdict in &score.verdicts {
            text.push_str(&serde_json::to_string(verdict).expect("verdicts serialize"));
            text.push('\n');
        }
        let path = out_dir.join(format!("{}.verdicts.jsonl", score.category.name()));
        write_atomic(&path, text.as_bytes()).map_err(|e| EvalError::io(&path, e))?;
    }
    for (name, text) in [
        ("summary.csv", to_csv(rows)),
        ("summary.md", to_markdown(rows)),
    ] {
        let path = out_dir.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| EvalError::io(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Verdict;

    fn score(category: Category, correct: usize, total: usize) -> CategoryScore {
        let verdicts = (0..total)
            .map(|i| Verdict {
                id: format!("{i}"),
                valid: i < correct,
                error_type: None,
                error: None,
            })
            .collect();
        CategoryScore {
            category,
            verdicts,
            missing: Vec::new(),
            total,
        }
    }

    fn row<'a>(rows: &'a [SummaryRow], prefix: &str) -> &'a SummaryRow {
        rows.iter().find(|r| r.name.starts_with(prefix)).unwrap()
    }

    #[test]
    fn aggregates_follow_bfcl_v4() {
        // Gemma-3-4B-it's official V4 rows: non-live 61.12, live 60.84.
        let scores = vec![
            score(Category::SimplePython, 362, 400),
            score(Category::SimpleJava, 53, 100),
            score(Category::SimpleJavascript, 25, 50),
            score(Category::Multiple, 176, 200),
            score(Category::Parallel, 112, 200),
            score(Category::ParallelMultiple, 72, 200),
            score(Category::LiveSimple, 183, 258),
            score(Category::LiveMultiple, 625, 1053),
            score(Category::LiveParallel, 4, 16),
            score(Category::LiveParallelMultiple, 10, 24),
        ];
        let rows = summarize(&scores, MissingPolicy::CountAsWrong);
        assert_eq!(
            format!("{:.2}", row(&rows, "NON-LIVE").accuracy * 100.0),
            "61.12"
        );
        assert_eq!(
            format!("{:.2}", row(&rows, "LIVE").accuracy * 100.0),
            "60.84"
        );
        assert_eq!(
            format!("{:.2}", row(&rows, "OVERALL").accuracy * 100.0),
            "60.98"
        );
    }

    #[test]
    fn aggregates_are_omitted_when_a_part_is_missing() {
        let rows = summarize(
            &[score(Category::Multiple, 1, 2)],
            MissingPolicy::CountAsWrong,
        );
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn missing_entries_count_unless_partial() {
        let mut s = score(Category::Irrelevance, 2, 2);
        s.missing = vec!["irrelevance_9".into(), "irrelevance_8".into()];
        s.total = 4;
        assert_eq!(
            summarize(&[s.clone()], MissingPolicy::CountAsWrong)[0].accuracy,
            0.5
        );
        assert_eq!(summarize(&[s], MissingPolicy::Partial)[0].accuracy, 1.0);
    }
}
