//! `solo-bench all`: every scenario against Solo and each peer, several runs
//! each, one server at a time; a Markdown report of medians, their spread, and
//! Solo's ratio to each peer measured in the same run.
//!
//! `plan.rs` holds the sizes and the typed rows; `measure.rs` runs the
//! scenarios into rows; `render.rs` writes each table from them; `all` puts
//! the two together.

mod measure;
mod plan;
mod render;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::charts;
use crate::programs::Programs;

use self::measure::*;
use self::plan::*;
use self::render::*;

/// Heading of the report's hand-written last section.
const ANALYSIS_HEADING: &str = "## Analysis";

/// The hand-written analysis at the end of a report, heading included.
pub(crate) fn analysis_of(report: &str) -> Option<&str> {
    report.find(&format!("\n{ANALYSIS_HEADING}\n")).map(|at| &report[at + 1..])
}

pub async fn all(
    programs: &Programs,
    quick: bool,
    runs: usize,
    out: &Path,
    postgres: Option<&str>,
) -> anyhow::Result<()> {
    let plan = Plan::new(quick);
    let kinds = available(programs);
    let charts = out.parent().unwrap_or(Path::new(".")).join("charts");
    std::fs::create_dir_all(&charts)?;
    let mut databases: Databases = vec![("SQLite", None)];
    if let Some(url) = postgres {
        databases.push(("PostgreSQL", Some(url)));
    }
    let mut md = String::new();
    write_header(&mut md, programs, &kinds, quick, runs)?;
    let mut failures: Vec<String> = Vec::new();

    let (rows, memory_chart) = measure_connections(&plan, programs, &kinds, runs, &mut failures).await;
    connections_table(&mut md, &plan, &rows)?;
    note_failures(&mut md, &mut failures)?;
    let drawn = charts::line_chart(
        &charts.join("memory-vs-connections.png"),
        "Server memory against idle connections (first run)",
        ("open connections", "server RSS (MiB, log scale)"),
        // Log scale: the servers differ by orders of magnitude.
        (false, true),
        &memory_chart,
    )?;
    if drawn {
        writeln!(md, "![Server memory against idle connections](charts/memory-vs-connections.png)\n")?;
    }

    let rows = measure_transports(&plan, programs, runs, &mut failures).await;
    transports_table(&mut md, &plan, &rows)?;
    note_failures(&mut md, &mut failures)?;

    for size in &plan.fanout_sizes {
        let (rows, latency_chart) = measure_fanout(&plan, programs, &kinds, *size, runs, &mut failures).await;
        fanout_table(&mut md, &plan, *size, &rows)?;
        note_failures(&mut md, &mut failures)?;
        let name = format!("fanout-{size}.png");
        let drawn = charts::line_chart(
            &charts.join(&name),
            &format!("p99 latency against publication rate, {size} subscribers (first run)"),
            ("publications/s achieved", "p99 publish-to-receive (ms)"),
            (true, true),
            &latency_chart,
        )?;
        if drawn {
            writeln!(md, "![p99 latency against rate at {size} subscribers](charts/{name})\n")?;
        }
    }

    let rows = measure_cpu(&plan, programs, &kinds, runs, &mut failures).await;
    cpu_table(&mut md, &plan, &rows)?;
    note_failures(&mut md, &mut failures)?;

    let rows = measure_formats(&plan, programs, runs, &mut failures).await;
    formats_table(&mut md, &plan, &rows)?;
    note_failures(&mut md, &mut failures)?;

    let rows = measure_end_to_end(&plan, programs, &databases, runs).await?;
    end_to_end_table(&mut md, &rows)?;
    let rows = measure_ingest(&plan, programs, &databases, runs).await;
    ingest_table(&mut md, &plan, &rows)?;
    let rows = measure_watchers(&plan, programs, &databases, runs).await;
    watchers_table(&mut md, &plan, &rows)?;
    let storm = measure_storm(&plan, programs, runs).await;
    storm_table(&mut md, &plan, &storm)?;
    if let Some(postgres) = postgres {
        cluster_section(&mut md, &plan, programs, postgres).await?;
    }

    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // The hand-written analysis of the figures (what won, what lost and why)
    // is kept from the previous report: only its numbers are regenerated.
    if let Some(analysis) = std::fs::read_to_string(out).ok().as_deref().and_then(analysis_of) {
        md.push_str(analysis);
    }
    std::fs::write(out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    print!("{md}");
    if storm.gaps.median() != 0.0 || storm.failed.median() != 0.0 {
        anyhow::bail!("the reconnect storm lost publications or clients");
    }
    Ok(())
}

/// The report's protocol-format section alone (`solo-bench formats`).
pub async fn formats(programs: &Programs, quick: bool, runs: usize) -> anyhow::Result<String> {
    let plan = Plan::new(quick);
    let mut failures = Vec::new();
    let rows = measure_formats(&plan, programs, runs, &mut failures).await;
    let mut md = String::new();
    formats_table(&mut md, &plan, &rows)?;
    note_failures(&mut md, &mut failures)?;
    Ok(md)
}

#[cfg(test)]
mod analysis_tests {
    use super::*;

    #[test]
    fn the_analysis_section_is_carried_over_verbatim() {
        let report = "# Results\n\n| a | b |\n\n## Analysis\n\nWhy it won.\n";
        assert_eq!(analysis_of(report), Some("## Analysis\n\nWhy it won.\n"));
        assert_eq!(analysis_of("# Results\n\n## Analysis of nothing\n"), None, "only the heading itself");
        assert_eq!(analysis_of("# Results\n"), None);
    }
}
