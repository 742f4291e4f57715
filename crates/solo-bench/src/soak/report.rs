//! The soak's verdict and its Markdown report with timeline charts.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::load::{Attempt, Outcome, WriteKind, MAX_IN_FLIGHT};
use super::{Fault, NodeSample, SoakRecord};
use crate::charts::{timeline_chart, Marker, Series};

/// Seconds after a fault's end still counted as its window: pools reconnect,
/// a load balancer's next request finds the node back.
pub const GRACE_SECS: f64 = 30.0;

/// Server errors (5xx) inside the fault windows, or outside them.
fn server_errors(record: &SoakRecord, inside: bool) -> usize {
    record.attempts.iter().filter(|a| a.outcome.is_server_error() && in_fault(&record.faults, a.at) == inside).count()
}

/// Samples grouped by node process (a node started again is a new one), in time order.
fn by_process(samples: &[NodeSample]) -> std::collections::BTreeMap<(usize, u32), Vec<&NodeSample>> {
    let mut grouped: std::collections::BTreeMap<(usize, u32), Vec<&NodeSample>> = Default::default();
    for sample in samples {
        grouped.entry((sample.node, sample.pid)).or_default().push(sample);
    }
    grouped
}

/// Whether `at` falls in some fault's window.
fn in_fault(faults: &[Fault], at: f64) -> bool {
    faults.iter().any(|f| at >= f.start - 1.0 && at <= f.end + GRACE_SECS)
}

fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

fn ms(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{v:.1}"))
}

/// Least-squares slope of `points` (per second), when they span at least `min_span` seconds.
fn slope(points: &[(f64, f64)], min_span: f64) -> Option<f64> {
    let first = points.first()?.0;
    let last = points.last()?.0;
    if points.len() < 3 || last - first < min_span {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut num, mut den) = (0.0, 0.0);
    for (x, y) in points {
        num += (x - mx) * (y - my);
        den += (x - mx) * (x - mx);
    }
    (den > 0.0).then(|| num / den)
}

/// What failed, if anything: the soak's verdict.
pub fn failures(record: &SoakRecord) -> Vec<String> {
    let mut failures = Vec::new();
    if record.missing > 0 {
        let kinds: Vec<String> = record.missing_by_kind.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
        failures.push(format!(
            "{} offsets missing at the end over {} clients ({})",
            record.missing,
            record.clients_missing,
            kinds.join(", ")
        ));
    }
    if record.lost > 0 {
        failures.push(format!("{} publications lost for good (not recoverable)", record.lost));
    }
    if record.unseen_acknowledged > 0 {
        failures.push(format!(
            "{} acknowledged notifications never reached their user's clients",
            record.unseen_acknowledged
        ));
    }
    let not_recovered = record.counters.not_recovered.load(std::sync::atomic::Ordering::Relaxed);
    if not_recovered > 0 {
        failures.push(format!("{not_recovered} resubscribes were answered `recovered: false`"));
    }
    if record.abandoned > 0 {
        failures.push(format!("{} notifications were never acknowledged in 60 s of retries", record.abandoned));
    }
    if !record.rejected.is_empty() {
        failures.push(format!("{} requests refused with a 4xx, first: {}", record.rejected.len(), record.rejected[0]));
    }
    let outside = server_errors(record, false);
    if outside > 0 {
        failures.push(format!("{outside} server errors (5xx) outside the fault windows"));
    }
    failures
}

/// A compact JSON summary for the console and for scripts.
pub fn summary_json(record: &SoakRecord) -> serde_json::Value {
    let c = &record.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    serde_json::json!({
        "scenario": "soak",
        "seconds": record.elapsed.round(),
        "clients": record.clients,
        "faults": record.faults.len(),
        "acknowledged_notifications": record.acknowledged,
        "unseen_acknowledged": record.unseen_acknowledged,
        "missing_offsets": record.missing,
        "lost": record.lost,
        "not_recovered": load(&c.not_recovered),
        "duplicates_dropped": load(&c.duplicates),
        "recoveries": load(&c.recoveries),
        "recovered_publications": load(&c.recovered_publications),
        "server_errors_in_faults": server_errors(record, true),
        "server_errors_outside_faults": server_errors(record, false),
        "failures": failures(record),
    })
}

/// Writes the report to `out` (keeping its `## Analysis` section) and the
/// charts to `charts`, when given.
pub fn write_report(record: &SoakRecord, out: &Path, charts: Option<&Path>) -> anyhow::Result<()> {
    let previous = std::fs::read_to_string(out).unwrap_or_default();
    let mut md = String::new();
    render(record, &mut md, charts, out)?;
    match crate::report::analysis_of(&previous) {
        Some(analysis) => {
            md.push('\n');
            md.push_str(analysis);
        }
        None => md.push_str(
            "\n## Analysis\n\nHand-written; `bench/soak` keeps this section and regenerates everything above it.\n",
        ),
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, md).with_context(|| format!("writing {}", out.display()))
}

/// Every write attempt as CSV (seconds since the start, kind, outcome,
/// latency in ms), for a closer look than the report's tables.
pub fn write_attempts_csv(record: &SoakRecord, path: &Path) -> anyhow::Result<()> {
    let mut csv = String::from("at_secs,kind,outcome,latency_ms\n");
    for a in &record.attempts {
        writeln!(csv, "{:.3},{},{},{:.2}", a.at, a.kind.name(), a.outcome, a.latency_ms)?;
    }
    std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))
}

fn minutes(seconds: f64) -> String {
    format!("{}:{:02}", (seconds / 60.0).floor() as u64, (seconds % 60.0).floor() as u64)
}

fn render(record: &SoakRecord, md: &mut String, charts: Option<&Path>, out: &Path) -> anyhow::Result<()> {
    let c = &record.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let failures = failures(record);
    writeln!(md, "# Solo Realtime soak with chaos\n")?;
    writeln!(
        md,
        "Written by `bench/soak` (`solo-bench soak`). A cluster of Solo nodes on a PostgreSQL and a Redis of the soak's \
         own, clients that behave as the centrifuge SDKs do (reconnect with backoff to the next node, resubscribe \
         recovering from their last offset, answer pings, call a server silent after 12 s), and one fault at a time. \
         Everything runs on this one machine, generator included.\n"
    )?;
    writeln!(md, "| setting | value |\n|---|---|")?;
    for (name, value) in &record.options_summary {
        writeln!(md, "| {name} | {value} |")?;
    }
    writeln!(
        md,
        "| retention (nodes) | channel history 300 s, events 300 s, heartbeat events 120 s, read notifications 300 s; trimmed every 30 s |"
    )?;
    writeln!(md)?;

    writeln!(md, "## Verdict\n")?;
    if failures.is_empty() {
        writeln!(md, "**Passed**: nothing lost, nothing unrecovered, no server error outside the fault windows.\n")?;
    } else {
        writeln!(md, "**Failed**:\n")?;
        for failure in &failures {
            writeln!(md, "- {failure}")?;
        }
        writeln!(md)?;
    }
    let (outside_5xx, inside_5xx) = (server_errors(record, false), server_errors(record, true));
    writeln!(md, "| measure | value |\n|---|---|")?;
    writeln!(
        md,
        "| ran for | {} (then writes stopped and clients caught up in {:.1} s) |",
        minutes(record.elapsed),
        record.caught_up_secs
    )?;
    writeln!(md, "| faults injected | {} |", record.faults.len())?;
    writeln!(
        md,
        "| notifications acknowledged (201, or 200 for a retried idempotency key) | {} |",
        record.acknowledged
    )?;
    writeln!(md, "| of those, never received by their user's clients | {} |", record.unseen_acknowledged)?;
    writeln!(md, "| clients / subscriptions | {} / {} |", record.clients, record.subscriptions)?;
    writeln!(md, "| publications over the soak (all channels) | {} |", record.published)?;
    writeln!(md, "| live publications received | {} |", load(&c.live_publications))?;
    writeln!(
        md,
        "| offsets missing at the end (every client, every channel) | {} over {} clients |",
        record.missing, record.clients_missing
    )?;
    writeln!(
        md,
        "| reconnects that resubscribed with recovery / answered `recovered: false` | {} / {} |",
        load(&c.recoveries),
        load(&c.not_recovered)
    )?;
    writeln!(md, "| publications returned by recovery | {} |", load(&c.recovered_publications))?;
    writeln!(md, "| received twice, dropped by offset (dedupe) | {} |", load(&c.duplicates))?;
    writeln!(md, "| holes in a live stream filled later by recovery | {} |", load(&c.holes_filled))?;
    writeln!(
        md,
        "| connections lost (closed, cut or silent) / of those silent / clients that left and came back | {} / {} / {} |",
        load(&c.drops),
        load(&c.silent),
        load(&c.leaves)
    )?;
    let codes = c.disconnect_codes.lock().unwrap_or_else(|p| p.into_inner());
    let codes: Vec<String> = codes.iter().map(|(code, n)| format!("{code}: {n}")).collect();
    writeln!(md, "| close codes received | {} |", if codes.is_empty() { "none".into() } else { codes.join(", ") })?;
    writeln!(md, "| failed connection attempts (node down, refused, timed out) | {} |", load(&c.failed_attempts))?;
    writeln!(md, "| server errors (5xx) outside / inside the fault windows | {outside_5xx} / {inside_5xx} |")?;
    writeln!(md, "| writes skipped by the generator ({MAX_IN_FLIGHT} already waiting) | {} |", record.skipped)?;
    writeln!(md)?;
    writeln!(
        md,
        "A fault's window runs from a second before it to {GRACE_SECS:.0} s after what it broke served again (every node \
         answering `/readyz`). A refused connection is retried on the next node at once, as a load balancer does; \
         a notification answered 503 or not answered is retried with its `Idempotency-Key` for up to a minute.\n"
    )?;

    render_faults(record, md)?;
    render_writes(record, md)?;
    render_nodes(record, md)?;
    render_database(record, md)?;
    if let Some(dir) = charts {
        render_charts(record, md, dir, out)?;
    }
    Ok(())
}

fn render_faults(record: &SoakRecord, md: &mut String) -> anyhow::Result<()> {
    writeln!(md, "## Faults\n")?;
    writeln!(md, "| at | fault | node | served again after | 5xx in its window | refused / timed out in its window |")?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for (i, fault) in record.faults.iter().enumerate() {
        // Its own window: up to the grace's end or the next fault, whichever comes first.
        let until = record.faults.get(i + 1).map_or(f64::MAX, |next| next.start - 1.0).min(fault.end + GRACE_SECS);
        let window = |a: &&Attempt| a.at >= fault.start - 1.0 && a.at < until;
        let errors = record.attempts.iter().filter(window).filter(|a| a.outcome.is_server_error()).count();
        let refused = record.attempts.iter().filter(window).filter(|a| a.outcome == Outcome::Connection).count();
        let timeouts = record.attempts.iter().filter(window).filter(|a| a.outcome == Outcome::Timeout).count();
        writeln!(
            md,
            "| {} | {} | {} | {:.1} s | {errors} | {refused} / {timeouts} |",
            minutes(fault.start),
            fault.kind.describe(),
            fault.node.map_or("–".into(), |n| n.to_string()),
            fault.end - fault.start,
        )?;
    }
    writeln!(md)?;
    Ok(())
}

fn render_writes(record: &SoakRecord, md: &mut String) -> anyhow::Result<()> {
    writeln!(md, "## Writes\n")?;
    writeln!(md, "Latency of answered writes outside the fault windows (ms), and every attempt's outcome.\n")?;
    writeln!(md, "| write | attempts | 2xx | 5xx | refused | timed out | p50 ms | p99 ms | max ms |")?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|")?;
    for kind in WriteKind::ALL {
        let of_kind: Vec<&Attempt> = record.attempts.iter().filter(|a| a.kind == kind).collect();
        let count = |f: &dyn Fn(&Attempt) -> bool| of_kind.iter().filter(|a| f(a)).count();
        let mut latencies: Vec<f64> = of_kind
            .iter()
            .filter(|a| a.outcome.is_success() && !in_fault(&record.faults, a.at))
            .map(|a| a.latency_ms)
            .collect();
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            kind.name(),
            of_kind.len(),
            count(&|a| a.outcome.is_success()),
            count(&|a| a.outcome.is_server_error()),
            count(&|a| a.outcome == Outcome::Connection),
            count(&|a| a.outcome == Outcome::Timeout),
            ms(percentile(&mut latencies, 50.0)),
            ms(percentile(&mut latencies, 99.0)),
            ms(latencies.last().copied()),
        )?;
    }
    writeln!(md)?;

    // While retention trims, and while it does not (outside faults).
    let trimming = trimming_intervals(&record.node_samples);
    let is_trimming = |at: f64| trimming.iter().any(|(from, to)| at >= *from && at < *to);
    let mut during: Vec<f64> = Vec::new();
    let mut otherwise: Vec<f64> = Vec::new();
    for attempt in record.attempts.iter().filter(|a| a.outcome.is_success() && a.at >= record.warmup) {
        if in_fault(&record.faults, attempt.at) {
            continue;
        }
        if is_trimming(attempt.at) {
            during.push(attempt.latency_ms);
        } else {
            otherwise.push(attempt.latency_ms);
        }
    }
    writeln!(md, "### While retention trims\n")?;
    writeln!(
        md,
        "Writes after the warm-up and outside the fault windows, split by whether some node's retention task removed \
         rows in the same 5-second sampling interval (`solo_history_trimmed_rows_total` rose).\n"
    )?;
    writeln!(md, "| intervals | writes | p50 ms | p99 ms |\n|---|---|---|---|")?;
    let (nd, no) = (during.len(), otherwise.len());
    writeln!(
        md,
        "| trimming | {nd} | {} | {} |",
        ms(percentile(&mut during, 50.0)),
        ms(percentile(&mut during, 99.0))
    )?;
    writeln!(
        md,
        "| not trimming | {no} | {} | {} |",
        ms(percentile(&mut otherwise, 50.0)),
        ms(percentile(&mut otherwise, 99.0))
    )?;
    writeln!(md)?;
    Ok(())
}

/// Sampling intervals in which some node's trimmed-rows counter rose.
fn trimming_intervals(samples: &[NodeSample]) -> Vec<(f64, f64)> {
    let mut intervals = Vec::new();
    for series in by_process(samples).values() {
        for pair in series.windows(2) {
            if let (Some(a), Some(b)) = (pair[0].trimmed_rows, pair[1].trimmed_rows) {
                if b > a {
                    intervals.push((pair[0].at, pair[1].at));
                }
            }
        }
    }
    intervals
}

/// Seconds after a node process starts before its memory is judged: its
/// recovery cache (32 MiB by default) fills with the publications of the
/// first minutes, which is growth by design.
const SETTLE_SECS: f64 = 180.0;

/// Per hour, the duration-weighted mean of the slopes of `points` over the
/// stretches between fault windows (each at least a minute): growth that
/// goes on while nothing happens, without the steps a fault leaves.
fn slope_between_faults(points: &[(f64, f64)], faults: &[Fault]) -> Option<f64> {
    let mut stretches: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for point in points {
        if in_fault(faults, point.0) {
            if stretches.last().is_some_and(|s| !s.is_empty()) {
                stretches.push(Vec::new());
            }
        } else if let Some(stretch) = stretches.last_mut() {
            stretch.push(*point);
        }
    }
    let (mut weighted, mut total) = (0.0, 0.0);
    for stretch in &stretches {
        if let (Some(first), Some(last), Some(slope)) = (stretch.first(), stretch.last(), slope(stretch, 60.0)) {
            weighted += slope * (last.0 - first.0);
            total += last.0 - first.0;
        }
    }
    (total > 0.0).then(|| weighted / total * 3600.0)
}

fn render_nodes(record: &SoakRecord, md: &mut String) -> anyhow::Result<()> {
    writeln!(md, "## Nodes over time\n")?;
    writeln!(
        md,
        "Each node process separately (a node started again is a new process), from the end of the warm-up or {} s \
         after the process started (its recovery cache fills meanwhile), whichever is later, to the end of the load. \
         Slopes are least-squares fits, per hour: over the whole span (\"–\" under {} s), and between faults (each \
         stretch outside the fault windows of at least a minute, weighted by its length), which leaves out the \
         steps a fault makes. Descriptors and tasks are given less the node's connections, which move between nodes \
         with the faults and the churn: what is left is what the node holds besides its clients.\n",
        SETTLE_SECS as u64,
        min_span(record) as u64
    )?;
    writeln!(
        md,
        "| node | process | span | connections first → last | RSS MiB first → last | RSS MiB/h | RSS MiB/h between faults | fds − connections first → last | tasks − connections first → last | tasks − connections /h | threads |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let fmt = |slope: Option<f64>| slope.map_or("–".into(), |s| format!("{s:+.1}"));
    for ((node, pid), series) in by_process(&record.node_samples) {
        let born = series.first().map_or(0.0, |s| s.at);
        let from = record.warmup.max(born + SETTLE_SECS);
        // Under load only: after the writes stop, clients settle and nothing is steady.
        let kept: Vec<&NodeSample> = series.into_iter().filter(|s| s.at >= from && s.at <= record.elapsed).collect();
        let (Some(first), Some(last)) = (kept.first(), kept.last()) else { continue };
        let rss: Vec<(f64, f64)> = kept.iter().map(|s| (s.at, s.rss_kib as f64 / 1024.0)).collect();
        let besides = |s: &NodeSample, held: f64| s.connections.map(|c| held - c);
        let tasks: Vec<(f64, f64)> = kept.iter().filter_map(|s| Some((s.at, besides(s, s.tasks?)?))).collect();
        let pair = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{a:.0} → {b:.0}"),
            _ => "–".into(),
        };
        writeln!(
            md,
            "| {node} | {pid} | {} – {} | {} | {:.1} → {:.1} | {} | {} | {} | {} | {} | {} → {} |",
            minutes(first.at),
            minutes(last.at),
            pair(first.connections, last.connections),
            first.rss_kib as f64 / 1024.0,
            last.rss_kib as f64 / 1024.0,
            fmt(slope(&rss, min_span(record)).map(|s| s * 3600.0)),
            fmt(slope_between_faults(&rss, &record.faults)),
            pair(besides(first, first.fds as f64), besides(last, last.fds as f64)),
            pair(first.tasks.and_then(|t| besides(first, t)), last.tasks.and_then(|t| besides(last, t))),
            fmt(slope(&tasks, min_span(record)).map(|s| s * 3600.0)),
            first.threads,
            last.threads,
        )?;
    }
    writeln!(md)?;
    Ok(())
}

/// The shortest span a slope is given for: five minutes, or a third of a short soak.
fn min_span(record: &SoakRecord) -> f64 {
    (record.elapsed / 3.0).min(300.0)
}

fn render_database(record: &SoakRecord, md: &mut String) -> anyhow::Result<()> {
    writeln!(md, "## Database\n")?;
    let Some(first) = record.database_samples.first() else {
        writeln!(md, "No readings.\n")?;
        return Ok(());
    };
    let tables: Vec<&str> = first.rows.iter().map(|(t, _)| t.as_str()).collect();
    writeln!(md, "PostgreSQL's size of the soak's database and the rows of the tables that grow with use, read every 30 s (every fifth reading here).\n")?;
    write!(md, "| at | size MiB |")?;
    for table in &tables {
        write!(md, " {table} |")?;
    }
    writeln!(md)?;
    writeln!(md, "|---|---|{}", "---|".repeat(tables.len()))?;
    let count = record.database_samples.len();
    for (i, sample) in record.database_samples.iter().enumerate() {
        if i % 5 != 0 && i + 1 != count {
            continue;
        }
        write!(md, "| {} | {:.1} |", minutes(sample.at), sample.bytes as f64 / 1048576.0)?;
        for (_, rows) in &sample.rows {
            write!(md, " {rows} |")?;
        }
        writeln!(md)?;
    }
    // The second half's slope: by then retention has had its windows to fill.
    let half = record.elapsed / 2.0;
    let later: Vec<&super::DatabaseSample> = record.database_samples.iter().filter(|s| s.at >= half).collect();
    let size: Vec<(f64, f64)> = later.iter().map(|s| (s.at, s.bytes as f64 / 1048576.0)).collect();
    let rows: Vec<(f64, f64)> =
        later.iter().map(|s| (s.at, s.rows.iter().map(|(_, r)| *r as f64).sum::<f64>())).collect();
    let fmt = |s: Option<f64>, unit: &str| s.map_or("–".into(), |s| format!("{:+.1} {unit}", s * 3600.0));
    writeln!(
        md,
        "\nOver the second half ({} – {}): size {} per hour, rows of these tables {} per hour.\n",
        minutes(half),
        minutes(record.elapsed),
        fmt(slope(&size, 60.0), "MiB"),
        fmt(slope(&rows, 60.0), "rows"),
    )?;
    Ok(())
}

fn render_charts(record: &SoakRecord, md: &mut String, dir: &Path, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let markers: Vec<Marker> =
        record.faults.iter().map(|f| Marker { x: f.start / 60.0, label: f.kind.short().to_owned() }).collect();
    let relative = |file: &str| {
        let path = dir.join(file);
        let base = out.parent().unwrap_or(Path::new("."));
        path.strip_prefix(base).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
    };
    writeln!(md, "## Timeline\n")?;
    // Memory per node.
    let mut nodes: std::collections::BTreeMap<usize, Vec<(f64, f64)>> = Default::default();
    for sample in &record.node_samples {
        nodes.entry(sample.node).or_default().push((sample.at / 60.0, sample.rss_kib as f64 / 1024.0));
    }
    let series: Vec<Series> =
        nodes.into_iter().map(|(node, points)| Series { name: format!("node {node}"), points }).collect();
    if timeline_chart(&dir.join("soak-memory.png"), "RSS per node", ("minutes", "MiB"), &series, &markers)? {
        writeln!(md, "![RSS per node over the soak, faults marked](<{}>)\n", relative("soak-memory.png"))?;
    }
    // Write p99 per 10 s, outside nothing: the faults show.
    let mut bins: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for attempt in record.attempts.iter().filter(|a| a.outcome.is_success()) {
        bins.entry((attempt.at / 10.0) as u64).or_default().push(attempt.latency_ms);
    }
    let p99: Vec<(f64, f64)> = bins
        .into_iter()
        .filter_map(|(bin, mut values)| percentile(&mut values, 99.0).map(|p| ((bin as f64 * 10.0 + 5.0) / 60.0, p)))
        .collect();
    let mut errors: std::collections::BTreeMap<u64, f64> = Default::default();
    for attempt in record.attempts.iter().filter(|a| !a.outcome.is_success()) {
        *errors.entry((attempt.at / 10.0) as u64).or_default() += 1.0;
    }
    let errors: Vec<(f64, f64)> = errors.into_iter().map(|(bin, n)| ((bin as f64 * 10.0 + 5.0) / 60.0, n)).collect();
    let series = vec![
        Series { name: "write p99 ms (per 10 s)".into(), points: p99 },
        Series { name: "failed attempts (per 10 s)".into(), points: errors },
    ];
    if timeline_chart(&dir.join("soak-writes.png"), "Writes", ("minutes", "ms / count"), &series, &markers)? {
        writeln!(
            md,
            "![Write p99 and failed attempts over the soak, faults marked](<{}>)\n",
            relative("soak-writes.png")
        )?;
    }
    // The database.
    let size: Vec<(f64, f64)> =
        record.database_samples.iter().map(|s| (s.at / 60.0, s.bytes as f64 / 1048576.0)).collect();
    let rows: Vec<(f64, f64)> = record
        .database_samples
        .iter()
        .map(|s| (s.at / 60.0, s.rows.iter().map(|(_, r)| *r as f64).sum::<f64>() / 1000.0))
        .collect();
    let series = vec![
        Series { name: "database MiB".into(), points: size },
        Series { name: "rows of the growing tables (thousands)".into(), points: rows },
    ];
    if timeline_chart(
        &dir.join("soak-database.png"),
        "Database",
        ("minutes", "MiB / thousand rows"),
        &series,
        &markers,
    )? {
        writeln!(md, "![Database size and rows over the soak, faults marked](<{}>)\n", relative("soak-database.png"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_too_short_a_span() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64 * 60.0, 100.0 + i as f64 * 2.0)).collect();
        let per_second = slope(&points, 300.0).expect("a slope");
        assert!((per_second * 60.0 - 2.0).abs() < 1e-9, "{per_second}");
        assert_eq!(slope(&points[..3], 300.0), None, "two minutes is under the span asked for");
    }

    #[test]
    fn percentiles_by_rank() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut values, 99.0), Some(99.0));
        assert_eq!(percentile(&mut values, 50.0), Some(50.0));
        assert_eq!(percentile(&mut [], 99.0), None);
    }

    #[test]
    fn the_slope_between_faults_leaves_out_the_step_a_fault_makes() {
        let faults = [Fault { kind: super::super::FaultKind::RestartPostgres, node: None, start: 600.0, end: 610.0 }];
        // Flat at 50 MiB, a fault, flat at 60 MiB: no growth while nothing happens.
        let points: Vec<(f64, f64)> = (0..120).map(|i| (i as f64 * 10.0, if i < 60 { 50.0 } else { 60.0 })).collect();
        assert!(slope(&points, 60.0).expect("whole span") > 0.0, "the step shows over the whole span");
        let between = slope_between_faults(&points, &faults).expect("between faults");
        assert!(between.abs() < 1e-9, "{between}");
    }

    #[test]
    fn a_fault_window_runs_past_its_end_by_the_grace() {
        let faults = [Fault { kind: super::super::FaultKind::StopRedis, node: None, start: 100.0, end: 125.0 }];
        assert!(!in_fault(&faults, 98.0));
        assert!(in_fault(&faults, 99.5));
        assert!(in_fault(&faults, 125.0 + GRACE_SECS));
        assert!(!in_fault(&faults, 126.0 + GRACE_SECS));
    }
}
