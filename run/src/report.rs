//! The run's report (`<run>/report/report.md` and `bfcl.csv`): BFCL accuracy
//! per model, decoding mode and category, each row citing the verdict file it
//! was counted from, and the training losses.

use std::path::{Path, PathBuf};

use serde_json::Value;
use toolgrad_core::fsutil::write_atomic;

use crate::error::{Result, RunError};
use crate::plan::{Kind, Plan};

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

fn csv(rows: &[Row]) -> String {
    let mut out = String::from("model,mode,category,accuracy_pct,correct,scored,total,verdicts\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{:.2},{},{},{},{}\n",
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
        "| model | mode | category | accuracy | correct / scored | entries in category |\n|---|---|---|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} % | {} / {} | {} |\n",
            r.model, r.mode, r.category, r.accuracy_pct, r.correct, r.scored, r.total
        ));
    }
    out
}

/// Train stages' final losses from their `train.json`.
fn training(plan: &Plan) -> Result<String> {
    let mut out = String::new();
    for stage in plan.stages.iter().filter(|s| s.kind == Kind::Train) {
        let path = stage.dir.join("train.json");
        let text = std::fs::read_to_string(&path).map_err(|e| RunError::io(&path, e))?;
        let report: Value =
            serde_json::from_str(&text).map_err(|e| RunError::config(&path, e.to_string()))?;
        let loss = |field: &str| {
            report[field]
                .as_f64()
                .map_or("-".to_owned(), |x| format!("{x:.4}"))
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} |\n",
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
        "## Training\n\n| stage | steps | train loss | eval loss | tokens/s |\n|---|---:|---:|---:|---:|\n{out}\n"
    ))
}

/// Writes `report/report.md` and `report/bfcl.csv`; returns the markdown.
pub fn write(plan: &Plan, command: &str) -> Result<String> {
    let rows = bfcl_rows(plan)?;
    let dir = plan.root.join("report");
    let mut md = format!(
        "# Run report\n\nMade by `{command}`. Every number comes from the stage folders under `{}`; \
         `bfcl.csv` names the verdict file of each row.\n\n",
        plan.root.display()
    );
    md.push_str(&training(plan)?);
    if !rows.is_empty() {
        md.push_str("## BFCL\n\n");
        md.push_str(&markdown(&rows));
    }
    let csv_path = dir.join("bfcl.csv");
    write_atomic(&csv_path, csv(&rows).as_bytes()).map_err(|e| RunError::io(&csv_path, e))?;
    let md_path = dir.join("report.md");
    write_atomic(&md_path, md.as_bytes()).map_err(|e| RunError::io(&md_path, e))?;
    Ok(md)
}
