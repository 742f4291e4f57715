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
}
