//! `generation.png`: per run, LLM and tool calls per accepted sample as
//! grouped bars, beside the pass rate ([`toolgrad_core::chart`]).

use std::path::Path;

use toolgrad_core::chart::{bars, write_png, BarSeries, Bars, PALETTE};

use super::RunRow;
use crate::error::{GenerateError, Result};

/// Draws the chart of `rows` into `path` (PNG, 1100 × 500).
pub fn bar_chart(rows: &[RunRow], path: &Path) -> Result<()> {
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let per = |f: fn(&super::PerAccepted) -> f64| -> Vec<f64> {
        rows.iter()
            .map(|r| r.per_accepted.as_ref().map_or(0.0, f))
            .collect()
    };
    let calls = [
        BarSeries {
            label: "LLM calls".into(),
            color: PALETTE[0],
            values: per(|p| p.llm_calls),
        },
        BarSeries {
            label: "tool calls".into(),
            color: PALETTE[1],
            values: per(|p| p.tool_calls),
        },
    ];
    let top = calls
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(1.0, f64::max);
    let pass = [BarSeries {
        label: "pass rate".into(),
        color: PALETTE[2],
        values: rows.iter().map(|r| 100.0 * r.pass_rate()).collect(),
    }];
    write_png(path, (1100, 500), |root, labelled| {
        let (left, right) = root.split_horizontally(720);
        let calls = Bars {
            title: "calls per accepted sample",
            groups: &names,
            series: &calls,
            max: top * 1.15,
        };
        bars(&left, &calls, labelled)?;
        let pass = Bars {
            title: "pass rate (%)",
            groups: &names,
            series: &pass,
            max: 115.0,
        };
        bars(&right, &pass, labelled)
    })
    .map_err(|e| GenerateError::io(path, e))
}
