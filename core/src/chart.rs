//! PNG charts shared by the reports (feature `chart`): a system TrueType
//! font, registered once (charts go unlabelled without one), crash-safe PNG
//! writing, and a grouped bar panel.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The drawing area charts draw on.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Registers the first system font found as `sans-serif`, once per
/// process; whether one was found (text is drawn only then).
pub fn font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        FONT_PATHS.iter().any(|path| {
            let Ok(bytes) = std::fs::read(path) else {
                return false;
            };
            let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, leaked).is_ok()
        })
    })
}

/// Draws a `width × height` PNG into `path` under a temporary name (the
/// encoder goes by the extension), then renames it, so a chart is never
/// half-written. `draw` gets the white canvas and whether text can be drawn.
pub fn write_png(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area<'_>, bool) -> Result<(), String>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("chart.png");
    let partial = path.with_file_name(format!(".partial-{name}"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let labelled = font();
    let drawn = {
        let root = BitMapBackend::new(&partial, (width, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root, labelled))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    drawn.map_err(|e| std::io::Error::other(format!("drawing the chart: {e}")))?;
    std::fs::rename(&partial, path)
}

/// One colour of bars: a value per group.
pub struct BarSeries {
    pub label: String,
    pub color: RGBColor,
    pub values: Vec<f64>,
}

/// A panel of grouped bars: one group per name, one bar per series in each.
pub struct Bars<'a> {
    pub title: &'a str,
    pub groups: &'a [String],
    pub series: &'a [BarSeries],
    /// The top of the value axis.
    pub max: f64,
}

/// Colours for series, in order (repeats after the last).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws `bars` on `area`, with a caption, group names, value labels and a
/// legend when `labelled`.
pub fn bars(area: &Area<'_>, bars: &Bars<'_>, labelled: bool) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let n = bars.groups.len().max(1);
    let mut builder = ChartBuilder::on(area);
    builder.margin(20);
    if labelled {
        builder
            .caption(bars.title, ("sans-serif", 20))
            .x_label_area_size(40)
            .y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..bars.max)
        .map_err(|e| fail(&e))?;
    if labelled {
        // Groups sit at 0, 1, …; other tick positions get no label.
        let group_name = |x: &f64| {
            let i = x.round();
            let at_group = (x - i).abs() < 1e-6 && i >= 0.0;
            at_group
                .then(|| bars.groups.get(i as usize).cloned())
                .flatten()
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&group_name)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    let width = 0.8 / bars.series.len().max(1) as f64;
    for (j, s) in bars.series.iter().enumerate() {
        let left = |i: usize| i as f64 - 0.4 + j as f64 * width;
        let color = s.color;
        let drawn = chart
            .draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                Rectangle::new([(left(i), 0.0), (left(i) + width * 0.9, v)], color.filled())
            }))
            .map_err(|e| fail(&e))?;
        if labelled {
            drawn.label(&s.label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
            });
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                    Text::new(
                        format!("{v:.1}"),
                        (left(i), v + bars.max * 0.02),
                        ("sans-serif", 13),
                    )
                }))
                .map_err(|e| fail(&e))?;
        }
    }
    if labelled && bars.series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    Ok(())
}
