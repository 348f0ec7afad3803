//! `loss.png` beside `metrics.jsonl`: train loss per step and eval loss
//! points ([`toolgrad_core::chart`] draws text only where a font is found).

use std::path::Path;

use plotters::prelude::*;
use toolgrad_core::chart::{write_png, Area};

use crate::error::{Result, TrainError};
use crate::metrics::{Kind, Record};

/// Draws the loss curves of `records` into `path` (PNG, 900 × 500).
pub fn loss_curve(records: &[Record], path: &Path, title: &str) -> Result<()> {
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
    write_png(path, (900, 500), |root, labelled| {
        draw(root, &train, &eval, (max_step, max_loss), labelled, title)
    })
    .map_err(|e| TrainError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn draw(
    root: &Area<'_>,
    train: &[(f64, f64)],
    eval: &[(f64, f64)],
    (max_step, max_loss): (f64, f64),
    labelled: bool,
    title: &str,
) -> std::result::Result<(), String> {
    let fail = |e: String| e;
    let mut builder = ChartBuilder::on(root);
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
    Ok(())
}
