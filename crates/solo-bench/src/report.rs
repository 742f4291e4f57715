//! `solo-bench all`: every scenario against Solo and each peer, several runs
//! each, one server at a time; a Markdown report of medians, their spread, and
//! Solo's ratio to each peer measured in the same run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::charts::{self, Series};
use crate::fanout::{self, FanoutOptions};
use crate::ingest::{self, ScratchDatabase};
use crate::programs::Programs;
use crate::targets::Kind;

/// Sizes of one report: `--quick` (CI smoke: every scenario completes, in
/// about a minute) or full.
struct Plan {
    connections: u64,
    fanout_sizes: Vec<u64>,
    fanout: FanoutOptions,
    /// Subscribers and publication rate of each fixed, sub-saturating load at
    /// which server CPU per delivery is measured.
    cpu_points: Vec<(u64, f64)>,
    cpu_step: Duration,
    e2e_rates: Vec<f64>,
    storm_clients: u64,
    storm_missed: u64,
    /// Cluster run: `solo serve` processes and connections over all of them.
    cluster_nodes: usize,
    cluster_connections: u64,
    /// The first end-to-end rate again, beside heartbeats of this many
    /// workstations, each every `heartbeat_every`.
    heartbeat_workstations: usize,
    heartbeat_every: Duration,
    ingest: u64,
    /// Watcher fan-out: users watching one mission, and stage changes timed.
    watchers: usize,
    watcher_changes: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        let fanout = FanoutOptions {
            subscribers: 0,
            start_rate: if quick { 50.0 } else { 10.0 },
            max_rate: if quick { 200.0 } else { 200_000.0 },
            step: Duration::from_secs(if quick { 1 } else { 3 }),
            drain: Duration::from_secs(1),
            refine: if quick { 0 } else { 2 },
            probe_rate: None,
            concurrency: 256,
            peer_payload_bytes: crate::targets::PEER_PAYLOAD_BYTES,
        };
        if quick {
            Plan {
                connections: 500,
                fanout_sizes: vec![100],
                fanout,
                cpu_points: vec![(100, 5.0)],
                cpu_step: Duration::from_secs(1),
                e2e_rates: vec![50.0],
                storm_clients: 300,
                storm_missed: 10,
                cluster_nodes: 2,
                cluster_connections: 600,
                heartbeat_workstations: 20,
                heartbeat_every: Duration::from_secs(1),
                ingest: 500,
                watchers: 20,
                watcher_changes: 3,
            }
        } else {
            Plan {
                connections: 19_000,
                fanout_sizes: vec![1_000, 10_000],
                fanout,
                cpu_points: vec![(5_000, 5.0), (10_000, 3.0)],
                cpu_step: Duration::from_secs(10),
                e2e_rates: vec![100.0, 1_000.0],
                storm_clients: 10_000,
                storm_missed: 50,
                cluster_nodes: 6,
                cluster_connections: 100_000,
                heartbeat_workstations: 1_000,
                heartbeat_every: Duration::from_secs(5),
                ingest: 20_000,
                watchers: 1_000,
                watcher_changes: 20,
            }
        }
    }
}

/// Heading of the report's hand-written last section.
const ANALYSIS_HEADING: &str = "## Analysis";

/// The hand-written analysis at the end of a report, heading included.
fn analysis_of(report: &str) -> Option<&str> {
    report.find(&format!("\n{ANALYSIS_HEADING}\n")).map(|at| &report[at + 1..])
}

/// Values of repeated runs: median and spread.
struct Runs(Vec<f64>);

impl Runs {
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// (max − min) / median, as a percentage: how noisy the runs were.
    fn spread_pct(&self) -> f64 {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let median = self.median();
        if self.0.len() < 2 || median == 0.0 {
            return 0.0;
        }
        (max - min) / median.abs() * 100.0
    }

    fn cell(&self, digits: usize) -> String {
        if self.0.is_empty() {
            return "–".into();
        }
        format!("{:.*} (±{:.0} %)", digits, self.median(), self.spread_pct() / 2.0)
    }
}

fn ratio(solo: f64, peer: f64) -> String {
    if peer == 0.0 || !solo.is_finite() || !peer.is_finite() {
        return "–".into();
    }
    format!("{:.2}", solo / peer)
}

/// Runs that did not complete, listed under their table (each once).
fn note_failures(md: &mut String, failures: &mut Vec<String>) -> std::fmt::Result {
    let mut servers = std::collections::HashSet::new();
    for failure in failures.drain(..) {
        // The first reason per server; later runs usually fail the same way.
        let server = failure.split(':').next().unwrap_or_default().to_owned();
        if servers.insert(server) {
            writeln!(md, "- Not measured: {failure}")?;
        }
    }
    writeln!(md)
}

/// (connections, MiB) from a connections result's memory samples.
fn memory_points(result: &Value) -> Vec<(f64, f64)> {
    let samples = result["rss_kib_by_connections"].as_array().cloned().unwrap_or_default();
    samples.iter().filter_map(|s| Some((s[0].as_f64()?, s[1].as_f64()? / 1024.0))).collect()
}

/// (rate achieved, p99 ms) of every ramp step that delivered something.
fn latency_points(result: &fanout::FanoutResult) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = result
        .steps
        .iter()
        .filter(|s| s.achieved > 0.0 && !s.histogram.is_empty())
        .map(|s| (s.achieved, s.quantile_ms(0.99)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// The servers this machine can run: Solo always, the peers when installed.
fn available(programs: &Programs) -> Vec<Kind> {
    let mut kinds = vec![Kind::Solo];
    if version(&programs.peers.join("node_modules/bun/bin/bun.exe"), &["--version"]).is_some() {
        kinds.push(Kind::Bun);
    } else {
        eprintln!("Bun is not installed (bench/peers/install): skipped");
    }
    if programs.peers.join("node_modules/ws").exists() && version(Path::new("node"), &["--version"]).is_some() {
        kinds.push(Kind::NodeWs);
    } else {
        eprintln!("Node ws is not installed (bench/peers/install): skipped");
    }
    if programs.sockudo.is_some() {
        kinds.push(Kind::Sockudo);
    } else {
        eprintln!("Sockudo is not built (bench/peers/sockudo-install, ~25 minutes): skipped");
    }
    kinds
}

fn version(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|l| l.trim_start_matches([' ', '\t', ':']));
    let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or("?".into(), |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0));
    let kernel = read("/proc/sys/kernel/osrelease");
    format!("{cores} cores ({}), {memory} memory, Linux {}", model.unwrap_or("?"), kernel.trim())
}

fn versions(programs: &Programs, kinds: &[Kind]) -> String {
    let mut lines = Vec::new();
    let solo = version(Path::new(&programs.solo), &["--version"]).unwrap_or_else(|| "?".into());
    lines.push(format!("Solo: `{solo}` ({})", programs.solo));
    for kind in kinds {
        let line = match kind {
            Kind::Solo => continue,
            Kind::Bun => format!(
                "Bun {} (`Bun.serve` topics, bench/peers/bun-pubsub.js)",
                version(&programs.peers.join("node_modules/bun/bin/bun.exe"), &["--version"]).unwrap_or_default()
            ),
            Kind::NodeWs => {
                let ws: Value = std::fs::read_to_string(programs.peers.join("node_modules/ws/package.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                format!(
                    "Node {} with ws {} (bench/peers/node-ws-pubsub.mjs)",
                    version(Path::new("node"), &["--version"]).unwrap_or_default(),
                    ws["version"].as_str().unwrap_or("?")
                )
            }
            // Named by version, not by path: the build cache lies outside the repository.
            Kind::Sockudo => format!(
                "{} (built by bench/peers/sockudo-install; local adapter, limits off)",
                programs.sockudo.as_ref().and_then(|p| version(p, &["--version"])).unwrap_or_else(|| "Sockudo".into())
            ),
        };
        lines.push(line);
    }
    lines.iter().map(|l| format!("- {l}\n")).collect()
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
    let mut md = String::new();
    writeln!(md, "# Solo Realtime benchmark results\n")?;
    writeln!(
        md,
        "Written by `bench/run{}` ({} mode). Every server ran alone on loopback{}; \
         each figure is the median of {runs} run(s), ± half the spread between the extreme runs. \
         Ratios are Solo / peer from the same run of the tool: above 1 means Solo is higher.\n",
        if quick { " --quick" } else { "" },
        if quick { "quick" } else { "full" },
        programs.server_cpus.as_deref().map(|c| format!(", the server pinned to CPU {c}")).unwrap_or_default(),
    )?;
    if runs < 3 {
        writeln!(md, "**Preliminary: fewer than 3 runs per figure; medians need at least 3.**\n")?;
    }
    writeln!(md, "Machine: {}\n", machine())?;
    writeln!(md, "{}", versions(programs, &kinds))?;

    // Connections.
    writeln!(md, "## Idle connections\n")?;
    writeln!(md, "{} connections, each subscribed and answering keepalives, held 10 s.\n", plan.connections)?;
    writeln!(md, "| server | held | connects/s | RSS per connection (bytes) | Solo/peer RSS per connection |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    let mut conn_rows = Vec::new();
    let mut memory_chart = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for kind in &kinds {
        let (mut held, mut rate, mut per) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            match crate::connections(*kind, programs, plan.connections, 256, Duration::from_secs(10)).await {
                Ok(r) => {
                    if held.is_empty() {
                        memory_chart.push(Series { name: kind.name().into(), points: memory_points(&r) });
                    }
                    held.push(r["held"].as_f64().unwrap_or(0.0));
                    rate.push(r["connect_per_sec"].as_f64().unwrap_or(0.0));
                    per.push(r["rss_bytes_per_connection"].as_f64().unwrap_or(0.0));
                    eprintln!("{r}");
                }
                Err(e) => {
                    eprintln!("{}: connections failed: {e:#}", kind.name());
                    failures.push(format!("{}: {e:#}", kind.name()));
                }
            }
        }
        conn_rows.push((*kind, Runs(held), Runs(rate), Runs(per)));
    }
    let solo_per = conn_rows.first().map(|r| r.3.median()).unwrap_or(f64::NAN);
    for (kind, held, rate, per) in &conn_rows {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            kind.name(),
            held.cell(0),
            rate.cell(0),
            per.cell(0),
            if *kind == Kind::Solo { "–".into() } else { ratio(solo_per, per.median()) }
        )?;
    }
    writeln!(md)?;
    note_failures(&mut md, &mut failures)?;
    let charts = out.parent().unwrap_or(Path::new(".")).join("charts");
    std::fs::create_dir_all(&charts)?;
    let chart = charts.join("memory-vs-connections.png");
    let drawn = charts::line_chart(
        &chart,
        "Server memory against idle connections (first run)",
        ("open connections", "server RSS (MiB, log scale)"),
        // Log scale: the servers differ by orders of magnitude.
        (false, true),
        &memory_chart,
    )?;
    if drawn {
        writeln!(md, "![Server memory against idle connections](charts/memory-vs-connections.png)\n")?;
    }

    // Fan-out.
    for size in &plan.fanout_sizes {
        writeln!(md, "## Fan-out to {size} subscribers\n")?;
        writeln!(
            md,
            "Publications over HTTP (Solo: a notification created through the API, so each is also a \
             database transaction, pushed as the notification event's frame of about 960 bytes; peers: \
             an in-memory publish of a payload padded to {} bytes, so every server moves the same \
             bytes), ramped ×2 per {} s step until p99 publish-to-receive latency passed 100 ms or \
             delivery fell below 99.9 %. Capacity is the highest rate that held; latency is then \
             measured at the probe rate, half of Bun's capacity (or of the server's own without Bun).\n",
            plan.fanout.peer_payload_bytes,
            plan.fanout.step.as_secs()
        )?;
        let mut options = plan.fanout.clone();
        options.subscribers = *size;
        let mut results: Vec<(Kind, Runs, Runs, Runs, f64)> = Vec::new();
        let mut order = kinds.clone();
        // Bun first: its capacity sets the probe rate for everyone.
        order.sort_by_key(|k| *k != Kind::Bun);
        let mut latency_chart = Vec::new();
        for kind in order {
            let (mut capacity, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
            let mut probe_rate = f64::NAN;
            for _ in 0..runs {
                match fanout::run(kind, programs, &options).await {
                    Ok(result) => {
                        eprintln!("{}", result.to_json());
                        if capacity.is_empty() {
                            latency_chart.push(Series { name: kind.name().into(), points: latency_points(&result) });
                        }
                        capacity.push(result.capacity);
                        if let Some(probe) = &result.probe {
                            p50.push(probe.quantile_ms(0.5));
                            p99.push(probe.quantile_ms(0.99));
                            probe_rate = probe.rate;
                        }
                    }
                    Err(e) => {
                        eprintln!("{}: fan-out failed: {e:#}", kind.name());
                        failures.push(format!("{}: {e:#}", kind.name()));
                    }
                }
            }
            let capacity = Runs(capacity);
            if kind == Kind::Bun && options.probe_rate.is_none() && capacity.median() >= 2.0 {
                options.probe_rate = Some((capacity.median() / 2.0).round());
            }
            results.push((kind, capacity, Runs(p50), Runs(p99), probe_rate));
        }
        results.sort_by_key(|r| r.0 != Kind::Solo);
        writeln!(md, "| server | capacity (publications/s) | probe rate | p50 ms | p99 ms | Solo/peer capacity | Solo/peer p99 |")?;
        writeln!(md, "|---|---|---|---|---|---|---|")?;
        let (solo_cap, solo_p99) =
            results.first().map(|r| (r.1.median(), r.3.median())).unwrap_or((f64::NAN, f64::NAN));
        for (kind, capacity, p50, p99, probe) in &results {
            let solo = *kind == Kind::Solo;
            writeln!(
                md,
                "| {} | {} | {:.0} | {} | {} | {} | {} |",
                kind.name(),
                capacity.cell(0),
                probe,
                p50.cell(2),
                p99.cell(2),
                if solo { "–".into() } else { ratio(solo_cap, capacity.median()) },
                if solo { "–".into() } else { ratio(solo_p99, p99.median()) },
            )?;
        }
        writeln!(md)?;
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

    // Server CPU per delivery at fixed loads every server sustains.
    writeln!(md, "## Server CPU per delivered message\n")?;
    writeln!(
        md,
        "Fixed, sub-saturating loads (no ramp), {} s each: the server's CPU time over the step \
         divided by the messages its subscribers received. At these sizes Solo's database write per \
         publication is spread over thousands of deliveries.\n",
        plan.cpu_step.as_secs()
    )?;
    writeln!(md, "| server | subscribers | publications/s | µs per delivery | p99 ms | Solo/peer |")?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for (size, rate) in &plan.cpu_points {
        let options = FanoutOptions { subscribers: *size, step: plan.cpu_step, ..plan.fanout.clone() };
        let mut rows: Vec<(Kind, Runs, Runs)> = Vec::new();
        for kind in &kinds {
            let (mut cpu, mut p99) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                match fanout::fixed(*kind, programs, &options, &[*rate]).await {
                    Ok(steps) => {
                        for step in steps {
                            eprintln!("{} cpu point {size}@{rate}: {}", kind.name(), step.to_json());
                            cpu.push(step.cpu_us_per_delivery());
                            p99.push(step.quantile_ms(0.99));
                        }
                    }
                    Err(e) => {
                        eprintln!("{}: CPU per delivery failed: {e:#}", kind.name());
                        failures.push(format!("{} CPU per delivery at {size}: {e:#}", kind.name()));
                    }
                }
            }
            rows.push((*kind, Runs(cpu), Runs(p99)));
        }
        let solo = rows.iter().find(|r| r.0 == Kind::Solo).map(|r| r.1.median()).unwrap_or(f64::NAN);
        for (kind, cpu, p99) in &rows {
            writeln!(
                md,
                "| {} | {size} | {rate:.0} | {} | {} | {} |",
                kind.name(),
                cpu.cell(2),
                p99.cell(1),
                if *kind == Kind::Solo { "–".into() } else { ratio(solo, cpu.median()) },
            )?;
        }
    }
    writeln!(md)?;
    note_failures(&mut md, &mut failures)?;

    // Solo's own write paths: end to end, ingest, on SQLite and PostgreSQL.
    let mut databases: Vec<(&str, Option<&str>)> = vec![("SQLite", None)];
    if let Some(url) = postgres {
        databases.push(("PostgreSQL", Some(url)));
    }
    writeln!(md, "## End to end (Solo)\n")?;
    writeln!(
        md,
        "A notification created over HTTP (one transaction: notification, event, outbox, channel \
         history) until its push reaches a subscribed WebSocket client, at fixed rates.\n"
    )?;
    writeln!(md, "| database | writes/s | achieved/s | p50 ms | p99 ms | max ms |")?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for (name, url) in &databases {
        let mut per_rate: Vec<(Runs, Runs, Runs, Runs)> =
            plan.e2e_rates.iter().map(|_| (Runs(vec![]), Runs(vec![]), Runs(vec![]), Runs(vec![]))).collect();
        for run in 0..runs {
            let mut programs = programs.clone();
            let scratch = url.map(|u| ScratchDatabase::create(u, run as u32 + 100)).transpose()?;
            if let Some(db) = &scratch {
                programs.solo_env.push(("SOLO_DATABASE_URL", db.url.clone()));
            }
            let options = FanoutOptions { subscribers: 1, ..plan.fanout.clone() };
            match fanout::fixed(Kind::Solo, &programs, &options, &plan.e2e_rates).await {
                Ok(steps) => {
                    for (slot, step) in per_rate.iter_mut().zip(&steps) {
                        slot.0 .0.push(step.achieved);
                        slot.1 .0.push(step.quantile_ms(0.5));
                        slot.2 .0.push(step.quantile_ms(0.99));
                        slot.3 .0.push(step.max_ms());
                    }
                }
                Err(e) => eprintln!("end to end on {name} failed: {e:#}"),
            }
        }
        for (rate, (achieved, p50, p99, max)) in plan.e2e_rates.iter().zip(&per_rate) {
            writeln!(
                md,
                "| {name} | {rate:.0} | {} | {} | {} | {} |",
                achieved.cell(0),
                p50.cell(2),
                p99.cell(2),
                max.cell(1)
            )?;
        }
    }
    // The first rate again on SQLite, beside heartbeats: what other writes cost
    // the notifications' latency (compare with the SQLite row at that rate).
    let load = fanout::HeartbeatLoad { workstations: plan.heartbeat_workstations, every: plan.heartbeat_every };
    let rate = plan.e2e_rates[0];
    let beats_per_sec = load.workstations as f64 / load.every.as_secs_f64();
    let (mut achieved, mut p50, mut p99, mut max) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let options = FanoutOptions { subscribers: 1, ..plan.fanout.clone() };
        match fanout::fixed_with_heartbeats(programs, &options, rate, load).await {
            Ok((step, beats)) => {
                eprintln!("beside heartbeats: {} heartbeats answered", beats);
                achieved.push(step.achieved);
                p50.push(step.quantile_ms(0.5));
                p99.push(step.quantile_ms(0.99));
                max.push(step.max_ms());
            }
            Err(e) => eprintln!("end to end beside heartbeats failed: {e:#}"),
        }
    }
    writeln!(
        md,
        "| SQLite, beside {} heartbeats/s ({} workstations) | {rate:.0} | {} | {} | {} | {} |",
        beats_per_sec.round(),
        load.workstations,
        Runs(achieved).cell(0),
        Runs(p50).cell(2),
        Runs(p99).cell(2),
        Runs(max).cell(1)
    )?;
    writeln!(md)?;

    writeln!(md, "## Ingest (Solo)\n")?;
    writeln!(md, "{} notifications created through the API, 64 requests in flight.\n", plan.ingest)?;
    writeln!(md, "| database | notifications/s |")?;
    writeln!(md, "|---|---|")?;
    for (name, url) in &databases {
        let mut rates = Vec::new();
        for _ in 0..runs {
            match ingest::run(programs, plan.ingest, 64, *url).await {
                Ok(r) => {
                    eprintln!("{r}");
                    rates.push(r["per_sec"].as_f64().unwrap_or(0.0));
                }
                Err(e) => eprintln!("ingest on {name} failed: {e:#}"),
            }
        }
        writeln!(md, "| {name} | {} |", Runs(rates).cell(0))?;
    }
    writeln!(md)?;

    writeln!(md, "## Watcher fan-out (Solo)\n")?;
    writeln!(
        md,
        "A stage change on a mission watched by {} users: one transaction writes the change, its event, \
         a notification per watcher and their channel offsets; then each watcher's inbox connection gets \
         its push. {} changes per run, one after another; the time from sending the change to its \
         reply, and to the last watcher's push.\n",
        plan.watchers, plan.watcher_changes
    )?;
    writeln!(md, "| database | reply p50 ms | reply p99 ms | last push p50 ms | last push p99 ms |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    for (name, url) in &databases {
        let (mut reply50, mut reply99, mut last50, mut last99) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            match crate::watchers::run(programs, plan.watchers, plan.watcher_changes, *url).await {
                Ok(r) => {
                    eprintln!("{r}");
                    let at = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
                    reply50.push(at("reply_p50_ms"));
                    reply99.push(at("reply_p99_ms"));
                    last50.push(at("last_push_p50_ms"));
                    last99.push(at("last_push_p99_ms"));
                }
                Err(e) => eprintln!("watcher fan-out on {name} failed: {e:#}"),
            }
        }
        writeln!(
            md,
            "| {name} | {} | {} | {} | {} |",
            Runs(reply50).cell(1),
            Runs(reply99).cell(1),
            Runs(last50).cell(1),
            Runs(last99).cell(1)
        )?;
    }
    writeln!(md)?;

    writeln!(md, "## Reconnect storm (Solo)\n")?;
    writeln!(
        md,
        "{} clients drop at once, {} publications happen while they are away, and all reconnect at \
         once asking to recover.\n",
        plan.storm_clients, plan.storm_missed
    )?;
    writeln!(md, "| all recovered (s) | gaps | failed clients | server CPU s | server peak RSS MiB |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    let (mut secs, mut gaps, mut failed, mut cpu, mut rss) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        match crate::storm::run(programs, plan.storm_clients, plan.storm_missed, 256).await {
            Ok(r) => {
                eprintln!("{r}");
                secs.push(r["all_recovered_secs"].as_f64().unwrap_or(f64::NAN));
                gaps.push(r["gaps"].as_f64().unwrap_or(f64::NAN));
                failed.push(r["failed"].as_f64().unwrap_or(f64::NAN));
                cpu.push(r["server_cpu_secs_during_storm"].as_f64().unwrap_or(f64::NAN));
                rss.push(r["rss_peak_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0);
            }
            Err(e) => eprintln!("reconnect storm failed: {e:#}"),
        }
    }
    let (gaps, failed) = (Runs(gaps), Runs(failed));
    writeln!(
        md,
        "| {} | {} | {} | {} | {} |",
        Runs(secs).cell(2),
        gaps.cell(0),
        failed.cell(0),
        Runs(cpu).cell(2),
        Runs(rss).cell(0)
    )?;

    if let Some(postgres) = postgres {
        writeln!(md, "\n## Cluster: idle connections over several processes (Solo)\n")?;
        writeln!(
            md,
            "{} connections to {} `solo serve` processes sharing one port (`SO_REUSEPORT`), cluster \
             mode on PostgreSQL and Redis, each connection subscribed and answering pings, held 10 s; \
             the generator runs as several processes too. One run.\n",
            plan.cluster_connections, plan.cluster_nodes
        )?;
        let options = crate::cluster::ClusterOptions {
            nodes: plan.cluster_nodes,
            count: plan.cluster_connections,
            postgres: postgres.to_owned(),
            redis: std::env::var("SOLO_BENCH_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            hold: Duration::from_secs(10),
            concurrency: 512,
        };
        match crate::cluster::run(&programs.solo, &options).await {
            Ok(r) => {
                eprintln!("{r}");
                writeln!(md, "| nodes | opened | failed | held (sockets of the nodes) | connects/s | RSS per connection, all nodes (bytes) |")?;
                writeln!(md, "|---|---|---|---|---|---|")?;
                writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} |\n",
                    r["nodes"],
                    r["opened"],
                    r["failed"],
                    r["held"],
                    r["connect_per_sec"],
                    r["rss_bytes_per_connection"]
                )?;
            }
            Err(e) => writeln!(md, "- Not measured: {e:#}\n")?,
        }
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
    if gaps.median() != 0.0 || failed.median() != 0.0 {
        anyhow::bail!("the reconnect storm lost publications or clients");
    }
    Ok(())
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
