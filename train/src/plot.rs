//! `loss.png` beside `metrics.jsonl`: train loss per step and eval loss
//! points. Text needs a TrueType font ([`toolgrad_core::fonts`]); without one
//! the curves are drawn unlabelled.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Result, TrainError};
use crate::metrics::{Kind, Record};

/// Registers a system font as `sans-serif` once; whether one was found.
fn font() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        toolgrad_core::fonts::sans_serif().is_some_and(|bytes| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// Draws the loss curves of `records` into `path` (PNG, 900 × 500).
pub fn loss_curve(records: &[Record], path: &Path, title: &str) -> Result<()> {
    let fail = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    let series = |kind: Kind| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| (r.step as f64, r.loss))
            .collect()
    };
    let (train, eval) = (series(Kind::Train), series(Kind::Eval));
    let points = || train.iter().chain(&eval);
    let max_step = points().map(|p| p.0).fold(1.0, f64::max);
    let max_loss = points()
        .map(|p| p.1)
        .filter(|l| l.is_finite())
        .fold(0.1, f64::max);
    let labelled = font();
    // Drawn under a temporary name (the encoder goes by the extension), then renamed.
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("plot.png");
    let partial = path.with_file_name(format!(".partial-{name}"));
    draw(
        &train,
        &eval,
        (max_step, max_loss),
        labelled,
        title,
        &partial,
    )
    .map_err(fail)?;
    std::fs::rename(&partial, path).map_err(|e| TrainError::io(path, e))
}

fn draw(
    train: &[(f64, f64)],
    eval: &[(f64, f64)],
    (max_step, max_loss): (f64, f64),
    labelled: bool,
    title: &str,
    path: &Path,
) -> std::result::Result<(), String> {
    let fail = |e: String| e;
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20);
    if labelled {
        builder
            .caption(title, ("sans-serif", 22))
            .x_label_area_size(40)
            .y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d(0f64..max_step, 0f64..max_loss * 1.05)
        .map_err(|e| fail(e.to_string()))?;
    if labelled {
        chart
            .configure_mesh()
            .x_desc("optimiser step")
            .y_desc("loss (nats / token)")
            .draw()
            .map_err(|e| fail(e.to_string()))?;
    }
    let train_series = chart
        .draw_series(LineSeries::new(train.iter().copied(), BLUE.stroke_width(2)))
        .map_err(|e| fail(e.to_string()))?;
    if labelled {
        train_series
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    }
    chart
        .draw_series(eval.iter().map(|&p| Circle::new(p, 4, RED.filled())))
        .map_err(|e| fail(e.to_string()))?;
    let eval_series = chart
        .draw_series(LineSeries::new(eval.iter().copied(), RED.stroke_width(2)))
        .map_err(|e| fail(e.to_string()))?;
    if labelled {
        eval_series
            .label("eval")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
    }
    root.present().map_err(|e| fail(e.to_string()))
}
