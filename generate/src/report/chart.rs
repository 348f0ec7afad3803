//! `generation.png`: per run, LLM and tool calls per accepted sample as
//! grouped bars, beside the pass rate. Text needs a TrueType font
//! ([`toolgrad_core::fonts`]); without one the bars are drawn unlabelled.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::RunRow;
use crate::error::{GenerateError, Result};

/// Registers a system font as `sans-serif` once; whether one was found.
fn font() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        toolgrad_core::fonts::sans_serif().is_some_and(|bytes| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// One bar per run.
struct Series<'a> {
    label: &'a str,
    color: RGBColor,
    values: Vec<f64>,
}

/// Draws the chart of `rows` into `path` (PNG, 1100 × 500).
pub fn bar_chart(rows: &[RunRow], path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("chart.png");
    // Drawn under a temporary name (the encoder goes by the extension), then renamed.
    let partial = path.with_file_name(format!(".partial-{name}"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
    }
    draw(rows, &partial, font())
        .map_err(|e| GenerateError::io(path, format!("drawing the chart: {e}")))?;
    std::fs::rename(&partial, path).map_err(|e| GenerateError::io(path, e))
}

fn draw(rows: &[RunRow], path: &Path, labelled: bool) -> std::result::Result<(), String> {
    let root = BitMapBackend::new(path, (1100, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(720);
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let per = |f: fn(&super::PerAccepted) -> f64| -> Vec<f64> {
        rows.iter()
            .map(|r| r.per_accepted.as_ref().map_or(0.0, f))
            .collect()
    };
    let calls = [
        Series {
            label: "LLM calls",
            color: BLUE,
            values: per(|p| p.llm_calls),
        },
        Series {
            label: "tool calls",
            color: RED,
            values: per(|p| p.tool_calls),
        },
    ];
    let top = calls
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(1.0, f64::max);
    bars(
        &left,
        "calls per accepted sample",
        &names,
        &calls,
        top * 1.15,
        labelled,
    )?;
    let pass = [Series {
        label: "pass rate",
        color: GREEN,
        values: rows.iter().map(|r| 100.0 * r.pass_rate()).collect(),
    }];
    bars(&right, "pass rate (%)", &names, &pass, 115.0, labelled)?;
    root.present().map_err(|e| e.to_string())
}

fn bars(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    names: &[String],
    series: &[Series<'_>],
    max: f64,
    labelled: bool,
) -> std::result::Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let n = names.len().max(1);
    let mut builder = ChartBuilder::on(area);
    builder.margin(20);
    if labelled {
        builder
            .caption(title, ("sans-serif", 20))
            .x_label_area_size(40)
            .y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..max)
        .map_err(|e| fail(&e))?;
    if labelled {
        // Runs sit at 0, 1, …; other tick positions get no label.
        let run_name = |x: &f64| {
            let i = x.round();
            let at_run = (x - i).abs() < 1e-6 && i >= 0.0;
            at_run
                .then(|| names.get(i as usize).cloned())
                .flatten()
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&run_name)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    let width = 0.8 / series.len().max(1) as f64;
    for (j, s) in series.iter().enumerate() {
        let left = |i: usize| i as f64 - 0.4 + j as f64 * width;
        let color = s.color;
        let drawn = chart
            .draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                Rectangle::new([(left(i), 0.0), (left(i) + width * 0.9, v)], color.filled())
            }))
            .map_err(|e| fail(&e))?;
        if labelled {
            drawn.label(s.label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
            });
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                    Text::new(
                        format!("{v:.1}"),
                        (left(i), v + max * 0.02),
                        ("sans-serif", 13),
                    )
                }))
                .map_err(|e| fail(&e))?;
        }
    }
    if labelled && series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    Ok(())
}
