//! PNG charts of a report: p99 latency against publication rate (from the
//! fan-out ramps) and server memory against open connections.
//!
//! Text needs a TrueType font; none is bundled, one is loaded from the system
//! at run time (DejaVu or Liberation, as Debian installs them, or the file in
//! `SOLO_BENCH_FONT`). Without one, the charts are skipped with a message and
//! the report is written anyway.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use plotters::prelude::*;

const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// One line of a chart: a server and its points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Registers a system font once; the reason when there is none.
fn font() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let chosen: Option<PathBuf> = std::env::var_os("SOLO_BENCH_FONT")
                .map(PathBuf::from)
                .or_else(|| FONT_CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()));
            let path = chosen.ok_or_else(|| {
                format!("no TrueType font found (looked for {}; set SOLO_BENCH_FONT)", FONT_CANDIDATES.join(", "))
            })?;
            let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable font", path.display()))
        })
        .clone()
}

const COLORS: [RGBColor; 5] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
];

/// A log axis from the power of ten below `min` to the one above `max`, so it
/// always has labelled ticks.
fn decades(min: f64, max: f64) -> std::ops::Range<f64> {
    let low = 10f64.powf(min.max(1e-3).log10().floor());
    let high = 10f64.powf(max.max(1e-3).log10().ceil());
    low..if high > low { high } else { low * 10.0 }
}

/// A line chart with log-scaled axes when asked; returns whether it was drawn.
pub fn line_chart(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    (log_x, log_y): (bool, bool),
    series: &[Series],
) -> anyhow::Result<bool> {
    if let Err(reason) = font() {
        eprintln!("chart {} skipped: {reason}", path.display());
        return Ok(false);
    }
    let points = || series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    if points().next().is_none() {
        eprintln!("chart {} skipped: no data", path.display());
        return Ok(false);
    }
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points() {
        (x_min, x_max, y_min, y_max) = (x_min.min(*x), x_max.max(*x), y_min.min(*y), y_max.max(*y));
    }
    let x_range = if log_x { decades(x_min, x_max) } else { 0.0..x_max * 1.05 };
    let y_range = if log_y { decades(y_min, y_max) } else { 0.0..y_max * 1.1 };

    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder.caption(title, ("sans-serif", 22)).margin(16).x_label_area_size(48).y_label_area_size(72);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart.configure_mesh().x_desc(x_label).y_desc(y_label).label_style(("sans-serif", 14)).draw()?;
            for (i, s) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let pts: Vec<(f64, f64)> =
                    s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                    .label(s.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
                chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }};
    }
    match (log_x, log_y) {
        (true, true) => draw!(builder.build_cartesian_2d(x_range.log_scale(), y_range.log_scale())?),
        (true, false) => draw!(builder.build_cartesian_2d(x_range.log_scale(), y_range)?),
        (false, true) => draw!(builder.build_cartesian_2d(x_range, y_range.log_scale())?),
        (false, false) => draw!(builder.build_cartesian_2d(x_range, y_range)?),
    }
    root.present().with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// A vertical line across a timeline, labelled (a fault, say).
pub struct Marker {
    pub x: f64,
    pub label: String,
}

/// A chart over time: linear axes from zero, lines only (many points), and a
/// dashed vertical line for each marker; returns whether it was drawn.
pub fn timeline_chart(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
    markers: &[Marker],
) -> anyhow::Result<bool> {
    if let Err(reason) = font() {
        eprintln!("chart {} skipped: {reason}", path.display());
        return Ok(false);
    }
    let finite = |(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
    let points = || series.iter().flat_map(|s| s.points.iter()).filter(finite);
    if points().next().is_none() {
        eprintln!("chart {} skipped: no data", path.display());
        return Ok(false);
    }
    let x_max = points().map(|p| p.0).chain(markers.iter().map(|m| m.x)).fold(0.0, f64::max).max(1e-3);
    // Headroom above the data for the legend and the markers' labels.
    let y_max = points().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.35;
    let root = BitMapBackend::new(path, (1100, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max * 1.02, 0.0..y_max)?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).label_style(("sans-serif", 14)).draw()?;
    let grey = RGBColor(0x88, 0x88, 0x88);
    for (i, marker) in markers.iter().enumerate() {
        // Dashes: short segments down the height of the chart.
        let steps = 40;
        let dashes = (0..steps).step_by(2).map(|i| {
            let (a, b) = (y_max * i as f64 / steps as f64, y_max * (i + 1) as f64 / steps as f64);
            PathElement::new(vec![(marker.x, a), (marker.x, b)], grey.stroke_width(1))
        });
        chart.draw_series(dashes)?;
        chart.draw_series(std::iter::once(Text::new(
            marker.label.clone(),
            // Alternate heights, so labels of close faults do not overlap.
            (marker.x, y_max * if i % 2 == 0 { 0.98 } else { 0.93 }),
            ("sans-serif", 12).into_font().color(&grey),
        )))?;
    }
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s.points.iter().filter(finite).copied().collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present().with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_when_a_font_is_installed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("chart.png");
        let series = vec![
            Series { name: "Solo".into(), points: vec![(10.0, 2.0), (20.0, 3.0), (40.0, 9.0)] },
            Series { name: "Bun".into(), points: vec![(10.0, 1.0), (20.0, 1.5), (40.0, 2.0), (80.0, 120.0)] },
        ];
        let drawn = line_chart(&path, "p99 against rate", ("rate", "p99 ms"), (true, true), &series).expect("chart");
        if drawn {
            let bytes = std::fs::read(&path).expect("png");
            assert_eq!(&bytes[1..4], b"PNG");
        } else {
            eprintln!("no font on this machine: chart not drawn");
        }
    }

    #[test]
    fn draws_a_timeline_with_markers() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("timeline.png");
        let series = vec![Series { name: "node 0".into(), points: vec![(0.0, 40.0), (1.0, 42.0), (2.0, 41.0)] }];
        let markers = vec![Marker { x: 1.5, label: "kill -9".into() }];
        let drawn = timeline_chart(&path, "RSS", ("minutes", "MiB"), &series, &markers).expect("chart");
        if drawn {
            assert_eq!(&std::fs::read(&path).expect("png")[1..4], b"PNG");
        }
    }
}
