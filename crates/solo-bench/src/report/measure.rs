//! Runs each scenario of the report, several times, into typed rows.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::plan::*;
use crate::charts::Series;
use crate::fanout::{self, FanoutOptions};
use crate::ingest::{self, ScratchDatabase};
use crate::programs::Programs;
use crate::targets::Kind;

/// Logs a scenario's result as one JSON line (the raw figures behind a report).
pub(super) fn log_result(result: &impl serde::Serialize) {
    eprintln!("{}", serde_json::to_string(result).unwrap_or_default());
}

pub(super) async fn measure_connections(
    plan: &Plan,
    programs: &Programs,
    kinds: &[Kind],
    runs: usize,
    failures: &mut Vec<String>,
) -> (Vec<ConnectionsRow>, Vec<Series>) {
    let mut rows = Vec::new();
    let mut memory_chart = Vec::new();
    for kind in kinds {
        let (mut held, mut rate, mut per) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            match crate::connections::run(*kind, programs, plan.connections, 256, Duration::from_secs(10)).await {
                Ok(r) => {
                    if held.is_empty() {
                        memory_chart.push(Series { name: kind.name().into(), points: memory_points(&r) });
                    }
                    held.push(r.held as f64);
                    rate.push(r.connect_per_sec);
                    per.push(r.rss_bytes_per_connection);
                    log_result(&r);
                }
                Err(e) => {
                    eprintln!("{}: connections failed: {e:#}", kind.name());
                    failures.push(format!("{}: {e:#}", kind.name()));
                }
            }
        }
        rows.push(ConnectionsRow {
            kind: *kind,
            held: Runs(held),
            connect_rate: Runs(rate),
            per_connection: Runs(per),
        });
    }
    (rows, memory_chart)
}

/// Solo's idle connections over WebSocket and over its unidirectional HTTP
/// streams, the same number of each.
pub(super) async fn measure_transports(
    plan: &Plan,
    programs: &Programs,
    runs: usize,
    failures: &mut Vec<String>,
) -> Vec<TransportRow> {
    use crate::connections::Transport;
    let mut rows = Vec::new();
    for transport in [Transport::WebSocket, Transport::HttpStream, Transport::Sse] {
        let (mut held, mut rate, mut per) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let count = plan.transport_connections;
            match crate::connections::run_over(Kind::Solo, transport, programs, count, 256, Duration::from_secs(10))
                .await
            {
                Ok(r) => {
                    held.push(r.held as f64);
                    rate.push(r.connect_per_sec);
                    per.push(r.rss_bytes_per_connection);
                    log_result(&r);
                }
                Err(e) => {
                    eprintln!("Solo over {}: connections failed: {e:#}", transport.name());
                    failures.push(format!("Solo over {}: {e:#}", transport.name()));
                }
            }
        }
        rows.push(TransportRow { transport, held: Runs(held), connect_rate: Runs(rate), per_connection: Runs(per) });
    }
    rows
}

pub(super) async fn measure_fanout(
    plan: &Plan,
    programs: &Programs,
    kinds: &[Kind],
    size: u64,
    runs: usize,
    failures: &mut Vec<String>,
) -> (Vec<FanoutRow>, Vec<Series>) {
    let mut options = plan.fanout.clone();
    options.subscribers = size;
    let mut rows = Vec::new();
    let mut order = kinds.to_vec();
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
        rows.push(FanoutRow { kind, capacity, p50: Runs(p50), p99: Runs(p99), probe_rate });
    }
    rows.sort_by_key(|r| r.kind != Kind::Solo);
    (rows, latency_chart)
}

/// Server CPU per delivery at fixed loads every server sustains.
pub(super) async fn measure_cpu(
    plan: &Plan,
    programs: &Programs,
    kinds: &[Kind],
    runs: usize,
    failures: &mut Vec<String>,
) -> Vec<CpuRow> {
    let mut rows = Vec::new();
    for (size, rate) in &plan.cpu_points {
        let options = FanoutOptions { subscribers: *size, step: plan.cpu_step, ..plan.fanout.clone() };
        for kind in kinds {
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
            rows.push(CpuRow {
                kind: *kind,
                subscribers: *size,
                rate: *rate,
                us_per_delivery: Runs(cpu),
                p99: Runs(p99),
            });
        }
    }
    rows
}

/// Solo's fan-out at the CPU section's fixed loads with JSON subscribers and
/// with protobuf ones, the two formats alternating run by run so drift on a
/// shared machine falls on both.
pub(super) async fn measure_formats(
    plan: &Plan,
    programs: &Programs,
    runs: usize,
    failures: &mut Vec<String>,
) -> Vec<FormatRow> {
    use crate::targets::ProtocolFormat;
    let mut rows = Vec::new();
    for (size, rate) in &plan.cpu_points {
        let formats = [ProtocolFormat::Json, ProtocolFormat::Protobuf];
        let mut figures: Vec<(Vec<f64>, Vec<f64>)> = formats.iter().map(|_| Default::default()).collect();
        for _ in 0..runs {
            for (format, (cpu, p99)) in formats.iter().zip(figures.iter_mut()) {
                let options =
                    FanoutOptions { subscribers: *size, step: plan.cpu_step, format: *format, ..plan.fanout.clone() };
                match fanout::fixed(Kind::Solo, programs, &options, &[*rate]).await {
                    Ok(steps) => {
                        for step in steps {
                            eprintln!("Solo {} format point {size}@{rate}: {}", format.name(), step.to_json());
                            cpu.push(step.cpu_us_per_delivery());
                            p99.push(step.quantile_ms(0.99));
                        }
                    }
                    Err(e) => {
                        eprintln!("Solo in {}: fan-out failed: {e:#}", format.name());
                        failures.push(format!("Solo in {} at {size}: {e:#}", format.name()));
                    }
                }
            }
        }
        for (format, (cpu, p99)) in formats.into_iter().zip(figures) {
            rows.push(FormatRow {
                format,
                subscribers: *size,
                rate: *rate,
                us_per_delivery: Runs(cpu),
                p99: Runs(p99),
            });
        }
    }
    rows
}

/// Solo's write path end to end on each database, then the first rate again on
/// SQLite beside heartbeats: what other writes cost the notifications' latency.
pub(super) async fn measure_end_to_end(
    plan: &Plan,
    programs: &Programs,
    databases: &Databases<'_>,
    runs: usize,
) -> anyhow::Result<Vec<EndToEndRow>> {
    let mut rows = Vec::new();
    for (name, url) in databases {
        let mut per_rate: Vec<[Vec<f64>; 4]> = plan.e2e_rates.iter().map(|_| Default::default()).collect();
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
                        slot[0].push(step.achieved);
                        slot[1].push(step.quantile_ms(0.5));
                        slot[2].push(step.quantile_ms(0.99));
                        slot[3].push(step.max_ms());
                    }
                }
                Err(e) => eprintln!("end to end on {name} failed: {e:#}"),
            }
        }
        for (rate, [achieved, p50, p99, max]) in plan.e2e_rates.iter().zip(per_rate) {
            rows.push(EndToEndRow {
                label: (*name).to_owned(),
                rate: *rate,
                achieved: Runs(achieved),
                p50: Runs(p50),
                p99: Runs(p99),
                max: Runs(max),
            });
        }
    }
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
    rows.push(EndToEndRow {
        label: format!("SQLite, beside {} heartbeats/s ({} workstations)", beats_per_sec.round(), load.workstations),
        rate,
        achieved: Runs(achieved),
        p50: Runs(p50),
        p99: Runs(p99),
        max: Runs(max),
    });
    Ok(rows)
}

pub(super) async fn measure_ingest(
    plan: &Plan,
    programs: &Programs,
    databases: &Databases<'_>,
    runs: usize,
) -> Vec<IngestRow> {
    let mut rows = Vec::new();
    for (name, url) in databases {
        let mut rates = Vec::new();
        for _ in 0..runs {
            match ingest::run(programs, plan.ingest, 64, *url).await {
                Ok(r) => {
                    log_result(&r);
                    rates.push(r.per_sec);
                }
                Err(e) => eprintln!("ingest on {name} failed: {e:#}"),
            }
        }
        rows.push(IngestRow { database: name, per_sec: Runs(rates) });
    }
    rows
}

pub(super) async fn measure_watchers(
    plan: &Plan,
    programs: &Programs,
    databases: &Databases<'_>,
    runs: usize,
) -> Vec<WatchersRow> {
    let mut rows = Vec::new();
    for (name, url) in databases {
        let (mut reply50, mut reply99, mut last50, mut last99) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            match crate::watchers::run(programs, plan.watchers, plan.watcher_changes, *url).await {
                Ok(r) => {
                    log_result(&r);
                    reply50.push(r.reply_p50_ms);
                    reply99.push(r.reply_p99_ms);
                    last50.push(r.last_push_p50_ms);
                    last99.push(r.last_push_p99_ms);
                }
                Err(e) => eprintln!("watcher fan-out on {name} failed: {e:#}"),
            }
        }
        rows.push(WatchersRow {
            database: name,
            reply_p50: Runs(reply50),
            reply_p99: Runs(reply99),
            last_push_p50: Runs(last50),
            last_push_p99: Runs(last99),
        });
    }
    rows
}

pub(super) async fn measure_storm(plan: &Plan, programs: &Programs, runs: usize) -> StormRow {
    let (mut secs, mut gaps, mut failed, mut cpu, mut rss) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        match crate::storm::run(programs, plan.storm_clients, plan.storm_missed, 256).await {
            Ok(r) => {
                log_result(&r);
                secs.push(r.all_recovered_secs);
                gaps.push(r.gaps as f64);
                failed.push(r.failed as f64);
                cpu.push(r.server_cpu_secs_during_storm);
                rss.push(r.rss_peak_kib as f64 / 1024.0);
            }
            Err(e) => eprintln!("reconnect storm failed: {e:#}"),
        }
    }
    StormRow {
        recovered_secs: Runs(secs),
        gaps: Runs(gaps),
        failed: Runs(failed),
        cpu_secs: Runs(cpu),
        peak_rss_mib: Runs(rss),
    }
}

/// One run of several nodes on PostgreSQL and Redis: measured and written in one go.
pub(super) async fn cluster_section(
    md: &mut String,
    plan: &Plan,
    programs: &Programs,
    postgres: &str,
) -> anyhow::Result<()> {
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
            log_result(&r);
            writeln!(md, "| nodes | opened | failed | held (sockets of the nodes) | connects/s | RSS per connection, all nodes (bytes) |")?;
            writeln!(md, "|---|---|---|---|---|---|")?;
            writeln!(
                md,
                "| {} | {} | {} | {} | {:.1} | {:.1} |\n",
                r.nodes, r.opened, r.failed, r.held, r.connect_per_sec, r.rss_bytes_per_connection
            )?;
        }
        Err(e) => writeln!(md, "- Not measured: {e:#}\n")?,
    }
    Ok(())
}

/// (connections, MiB) from a connections result's memory samples.
pub(super) fn memory_points(result: &crate::connections::ConnectionsResult) -> Vec<(f64, f64)> {
    result.rss_kib_by_connections.iter().map(|&(open, kib)| (open as f64, kib as f64 / 1024.0)).collect()
}

/// (rate achieved, p99 ms) of every ramp step that delivered something.
pub(super) fn latency_points(result: &fanout::FanoutResult) -> Vec<(f64, f64)> {
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
pub(super) fn available(programs: &Programs) -> Vec<Kind> {
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

pub(super) fn version(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
