//! The run's report in `<run>/report/`: BFCL accuracy per model, decoding
//! mode and category with Wilson 95 % intervals (`bfcl.csv`, each row citing
//! the verdict file it was counted from), McNemar's exact test between every
//! two models on the entries both were scored on (`comparisons.csv`), bars per
//! category (`bfcl.png`), and the training losses with their curves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use toolgrad_core::chart::{bars, write_png, BarSeries, Bars, PALETTE};
use toolgrad_core::fsutil::write_atomic;

use crate::error::{Result, RunError};
use crate::execute::is_done;
use crate::plan::{file_hash, Kind, Plan};
use crate::stats::{mcnemar_exact, wilson};

/// One BFCL row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub model: String,
    pub mode: &'static str,
    pub category: String,
    pub accuracy_pct: f64,
    pub correct: usize,
    pub scored: usize,
    pub total: usize,
    pub verdicts: PathBuf,
}

/// Reads an eval stage's `score/summary.csv`.
fn rows_of(dir: &Path, model: &str, mode: &'static str) -> Result<Vec<Row>> {
    let path = dir.join("score/summary.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| RunError::io(&path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = |what: &str| RunError::config(&path, format!("line {}: {what}", i + 1));
        let fields: Vec<&str> = line.split(',').collect();
        let [category, accuracy, correct, scored, _missing, total] = fields[..] else {
            return Err(bad("expected 6 fields"));
        };
        rows.push(Row {
            model: model.to_owned(),
            mode,
            category: category.to_owned(),
            accuracy_pct: accuracy.parse().map_err(|_| bad("bad accuracy"))?,
            correct: correct.parse().map_err(|_| bad("bad correct count"))?,
            scored: scored.parse().map_err(|_| bad("bad scored count"))?,
            total: total.parse().map_err(|_| bad("bad total"))?,
            verdicts: dir.join(format!("score/{category}.verdicts.jsonl")),
        });
    }
    Ok(rows)
}

/// Every finished eval stage's rows, in plan order.
pub fn bfcl_rows(plan: &Plan) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for stage in &plan.stages {
        if !is_done(&stage.dir)? {
            continue;
        }
        if let Some(scored) = &stage.scored {
            let mode = if scored.constrained {
                "constrained"
            } else {
                "free"
            };
            rows.extend(rows_of(&stage.dir, &scored.model, mode)?);
        }
    }
    Ok(rows)
}

/// The Wilson interval of a row in percent, or blanks.
fn interval(r: &Row) -> (String, String) {
    wilson(r.correct, r.scored).map_or((String::new(), String::new()), |(low, high)| {
        (
            format!("{:.2}", 100.0 * low),
            format!("{:.2}", 100.0 * high),
        )
    })
}

fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "model,mode,category,accuracy_pct,ci95_low_pct,ci95_high_pct,correct,scored,total,verdicts\n",
    );
    for r in rows {
        let (low, high) = interval(r);
        out.push_str(&format!(
            "{},{},{},{:.2},{low},{high},{},{},{},{}\n",
            r.model,
            r.mode,
            r.category,
            r.accuracy_pct,
            r.correct,
            r.scored,
            r.total,
            r.verdicts.display()
        ));
    }
    out
}

fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| model | mode | category | accuracy | 95 % interval | correct / scored | entries in category |\n|---|---|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (low, high) = interval(r);
        let range = if low.is_empty() {
            "-".to_owned()
        } else {
            format!("{low}–{high} %")
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} % | {range} | {} / {} | {} |\n",
            r.model, r.mode, r.category, r.accuracy_pct, r.correct, r.scored, r.total
        ));
    }
    out
}

/// Whether each entry of a verdict file passed, by id.
fn verdicts(path: &Path) -> Result<HashMap<String, bool>> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
    let mut out = HashMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |what: &str| RunError::config(path, format!("line {}: {what}", i + 1));
        let verdict: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let id = verdict["id"]
            .as_str()
            .ok_or_else(|| bad("no string `id`"))?;
        let valid = verdict["valid"]
            .as_bool()
            .ok_or_else(|| bad("no boolean `valid`"))?;
        out.insert(id.to_owned(), valid);
    }
    Ok(out)
}

/// Two models in one decoding mode, on the entries both were scored on.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub mode: &'static str,
    pub first: String,
    pub second: String,
    pub entries: usize,
    pub first_correct: usize,
    pub second_correct: usize,
    /// Entries only the first model got right.
    pub only_first: usize,
    pub only_second: usize,
    pub p_value: f64,
}

/// Whether each `(category, id)` entry passed, for one model and mode.
type Outcomes = HashMap<(String, String), bool>;

/// Every pair of models per mode, pooled over the categories both have.
pub fn comparisons(rows: &[Row]) -> Result<Vec<Comparison>> {
    let mut by_model: Vec<(&str, &'static str, Outcomes)> = Vec::new();
    for row in rows {
        let found = by_model
            .iter()
            .position(|(m, mode, _)| *m == row.model && *mode == row.mode);
        let index = found.unwrap_or_else(|| {
            by_model.push((&row.model, row.mode, HashMap::new()));
            by_model.len() - 1
        });
        for (id, valid) in verdicts(&row.verdicts)? {
            by_model[index].2.insert((row.category.clone(), id), valid);
        }
    }
    let mut out = Vec::new();
    for (i, (first, mode, a)) in by_model.iter().enumerate() {
        for (second, _, b) in by_model[i + 1..].iter().filter(|(_, m, _)| m == mode) {
            let both: Vec<(bool, bool)> = a
                .iter()
                .filter_map(|(entry, &x)| b.get(entry).map(|&y| (x, y)))
                .collect();
            let count = |f: fn(&(bool, bool)) -> bool| both.iter().filter(|p| f(p)).count();
            let only_first = count(|&(x, y)| x && !y);
            let only_second = count(|&(x, y)| !x && y);
            out.push(Comparison {
                mode,
                first: (*first).to_owned(),
                second: (*second).to_owned(),
                entries: both.len(),
                first_correct: count(|p| p.0),
                second_correct: count(|p| p.1),
                only_first,
                only_second,
                p_value: mcnemar_exact(only_first, only_second),
            });
        }
    }
    Ok(out)
}

fn comparisons_csv(comparisons: &[Comparison]) -> String {
    let mut out = String::from(
        "mode,first,second,entries,first_correct,second_correct,only_first,only_second,mcnemar_exact_p\n",
    );
    for c in comparisons {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.6}\n",
            c.mode,
            c.first,
            c.second,
            c.entries,
            c.first_correct,
            c.second_correct,
            c.only_first,
            c.only_second,
            c.p_value
        ));
    }
    out
}

fn comparisons_markdown(comparisons: &[Comparison]) -> String {
    let mut out = String::from(
        "## Paired comparisons\n\nMcNemar's exact test on the entries both models were scored on, \
         pooled over categories: only the entries one model got right and the other did not count. \
         A small p says the two models differ beyond chance on these entries; with a few entries \
         per category, most differences are within chance.\n\n\
         | mode | model A | model B | entries | A correct | B correct | only A | only B | p |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in comparisons {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} |\n",
            c.mode,
            c.first,
            c.second,
            c.entries,
            c.first_correct,
            c.second_correct,
            c.only_first,
            c.only_second,
            c.p_value
        ));
    }
    out.push('\n');
    out
}

/// `bfcl.png`: one panel per decoding mode, a group of bars per category and
/// a bar per model.
fn chart(rows: &[Row], path: &Path) -> Result<()> {
    let modes: Vec<&'static str> = ["free", "constrained"]
        .into_iter()
        .filter(|m| rows.iter().any(|r| r.mode == *m))
        .collect();
    let mut categories: Vec<String> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    for r in rows {
        if !categories.contains(&r.category) {
            categories.push(r.category.clone());
        }
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    let panels: Vec<(String, Vec<BarSeries>)> = modes
        .iter()
        .map(|mode| {
            let series = models
                .iter()
                .enumerate()
                .map(|(i, model)| BarSeries {
                    label: model.clone(),
                    color: PALETTE[i % PALETTE.len()],
                    values: categories
                        .iter()
                        .map(|c| {
                            rows.iter()
                                .find(|r| r.mode == *mode && &r.model == model && &r.category == c)
                                .map_or(0.0, |r| r.accuracy_pct)
                        })
                        .collect(),
                })
                .collect();
            (format!("BFCL accuracy (%), {mode} decoding"), series)
        })
        .collect();
    let width = 160 * (categories.len() * models.len()).max(4) as u32;
    let height = 420 * panels.len().max(1) as u32;
    write_png(path, (width.min(3000), height), |root, labelled| {
        for (area, (title, series)) in root
            .split_evenly((panels.len().max(1), 1))
            .iter()
            .zip(&panels)
        {
            let panel = Bars {
                title,
                groups: &categories,
                series,
                max: 115.0,
            };
            bars(area, &panel, labelled)?;
        }
        Ok(())
    })
    .map_err(|e| RunError::io(path, e))
}

/// Train stages' final losses from their `train.json`.
fn training(plan: &Plan) -> Result<String> {
    let mut out = String::new();
    for stage in plan.stages.iter().filter(|s| s.kind == Kind::Train) {
        if !is_done(&stage.dir)? {
            continue;
        }
        let path = stage.dir.join("train.json");
        let text = std::fs::read_to_string(&path).map_err(|e| RunError::io(&path, e))?;
        let report: Value =
            serde_json::from_str(&text).map_err(|e| RunError::config(&path, e.to_string()))?;
        let loss = |field: &str| {
            report[field]
                .as_f64()
                .map_or("-".to_owned(), |x| format!("{x:.4}"))
        };
        let curve = stage.dir.join("loss.png");
        let curve = if curve.is_file() {
            format!("[loss.png](../{}/loss.png)", stage.id)
        } else {
            "-".to_owned()
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {curve} |\n",
            stage.id,
            report["steps"],
            loss("final_loss"),
            loss("eval_loss"),
            report["tokens_per_s"].as_f64().unwrap_or(0.0)
        ));
    }
    if out.is_empty() {
        return Ok(out);
    }
    Ok(format!(
        "## Training\n\n| stage | steps | train loss | eval loss | tokens/s | curve |\n|---|---:|---:|---:|---:|---|\n{out}\n"
    ))
}

/// Writes `report.md`, `bfcl.csv`, `comparisons.csv` and `bfcl.png` into
/// `<run>/report/`; returns the markdown. `command` and the hash of
/// `run_config` head every file that has room for them.
pub fn write(plan: &Plan, command: &str, run_config: &Path) -> Result<String> {
    let rows = bfcl_rows(plan)?;
    let pairs = comparisons(&rows)?;
    let dir = plan.root.join("report");
    let config_hash = file_hash(run_config)?;
    let mut md = format!(
        "# Run report\n\nMade by `{command}` (config sha256 `{config_hash}`). Every number comes \
         from the stage folders under `{}`; `bfcl.csv` names the verdict file of each row.\n\n",
        plan.root.display()
    );
    md.push_str(&training(plan)?);
    if !rows.is_empty() {
        md.push_str(
            "## BFCL\n\nThe interval is Wilson's 95 % score interval of the accuracy.\n\n![BFCL accuracy](bfcl.png)\n\n",
        );
        md.push_str(&markdown(&rows));
        md.push('\n');
        chart(&rows, &dir.join("bfcl.png"))?;
    }
    if !pairs.is_empty() {
        md.push_str(&comparisons_markdown(&pairs));
        let path = dir.join("comparisons.csv");
        write_atomic(&path, comparisons_csv(&pairs).as_bytes())
            .map_err(|e| RunError::io(&path, e))?;
    }
    let csv_path = dir.join("bfcl.csv");
    write_atomic(&csv_path, csv(&rows).as_bytes()).map_err(|e| RunError::io(&csv_path, e))?;
    let md_path = dir.join("report.md");
    write_atomic(&md_path, md.as_bytes()).map_err(|e| RunError::io(&md_path, e))?;
    Ok(md)
}
