//! Writes each table of the report from its typed rows.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::measure::version;
use super::plan::*;
use crate::programs::Programs;
use crate::targets::Kind;

pub(super) fn write_header(
    md: &mut String,
    programs: &Programs,
    kinds: &[Kind],
    quick: bool,
    runs: usize,
) -> std::fmt::Result {
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
    writeln!(md, "{}", versions(programs, kinds))
}

pub(super) fn connections_table(md: &mut String, plan: &Plan, rows: &[ConnectionsRow]) -> std::fmt::Result {
    writeln!(md, "## Idle connections\n")?;
    writeln!(md, "{} connections, each subscribed and answering keepalives, held 10 s.\n", plan.connections)?;
    writeln!(md, "| server | held | connects/s | RSS per connection (bytes) | Solo/peer RSS per connection |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    let solo = rows.first().map(|r| r.per_connection.median()).unwrap_or(f64::NAN);
    for row in rows {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            row.kind.name(),
            row.held.cell(0),
            row.connect_rate.cell(0),
            row.per_connection.cell(0),
            if row.kind == Kind::Solo { "–".into() } else { ratio(solo, row.per_connection.median()) }
        )?;
    }
    writeln!(md)
}

pub(super) fn transports_table(md: &mut String, plan: &Plan, rows: &[TransportRow]) -> std::fmt::Result {
    writeln!(md, "## Idle connections by transport (Solo)\n")?;
    writeln!(
        md,
        "{} connections of each: WebSocket (subscribed, answering pings) and the unidirectional \
         HTTP streams (`/connection/uni_http_stream`, `/connection/uni_sse`, following the user's \
         notifications), held 10 s. No peer here speaks these transports: ratios are to Solo's \
         own WebSocket in the same run.\n",
        plan.transport_connections
    )?;
    writeln!(
        md,
        "| transport | held | connects/s | RSS per connection (bytes) | connects/s ÷ WebSocket | RSS ÷ WebSocket |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    let websocket = rows.first().map(|r| (r.connect_rate.median(), r.per_connection.median()));
    let (ws_rate, ws_rss) = websocket.unwrap_or((f64::NAN, f64::NAN));
    for (i, row) in rows.iter().enumerate() {
        let (rate, rss) = if i == 0 {
            ("–".to_owned(), "–".to_owned())
        } else {
            (ratio(row.connect_rate.median(), ws_rate), ratio(row.per_connection.median(), ws_rss))
        };
        writeln!(
            md,
            "| {} | {} | {} | {} | {rate} | {rss} |",
            row.transport.name(),
            row.held.cell(0),
            row.connect_rate.cell(0),
            row.per_connection.cell(0),
        )?;
    }
    writeln!(md)
}

pub(super) fn fanout_table(md: &mut String, plan: &Plan, size: u64, rows: &[FanoutRow]) -> std::fmt::Result {
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
    writeln!(
        md,
        "| server | capacity (publications/s) | probe rate | p50 ms | p99 ms | Solo/peer capacity | Solo/peer p99 |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    let (solo_capacity, solo_p99) =
        rows.first().map(|r| (r.capacity.median(), r.p99.median())).unwrap_or((f64::NAN, f64::NAN));
    for row in rows {
        let solo = row.kind == Kind::Solo;
        writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            row.kind.name(),
            row.capacity.cell(0),
            row.probe_rate,
            row.p50.cell(2),
            row.p99.cell(2),
            if solo { "–".into() } else { ratio(solo_capacity, row.capacity.median()) },
            if solo { "–".into() } else { ratio(solo_p99, row.p99.median()) },
        )?;
    }
    writeln!(md)
}

pub(super) fn cpu_table(md: &mut String, plan: &Plan, rows: &[CpuRow]) -> std::fmt::Result {
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
    for row in rows {
        let solo = rows
            .iter()
            .find(|r| r.kind == Kind::Solo && r.subscribers == row.subscribers && r.rate == row.rate)
            .map(|r| r.us_per_delivery.median())
            .unwrap_or(f64::NAN);
        writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} |",
            row.kind.name(),
            row.subscribers,
            row.rate,
            row.us_per_delivery.cell(2),
            row.p99.cell(1),
            if row.kind == Kind::Solo { "–".into() } else { ratio(solo, row.us_per_delivery.median()) },
        )?;
    }
    writeln!(md)
}

pub(super) fn formats_table(md: &mut String, plan: &Plan, rows: &[FormatRow]) -> std::fmt::Result {
    writeln!(md, "## Fan-out by protocol format (Solo)\n")?;
    writeln!(
        md,
        "The CPU section's fixed loads, {} s each, with Solo's subscribers speaking JSON and then \
         protobuf (`?format=protobuf`: each publication's frame is encoded once per channel per \
         format). No peer here speaks Centrifugo's protobuf: ratios are to Solo's own JSON \
         figures in the same run.\n",
        plan.cpu_step.as_secs()
    )?;
    writeln!(md, "| format | subscribers | publications/s | µs per delivery | p99 ms | CPU ÷ JSON | p99 ÷ JSON |")?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for row in rows {
        let json = rows
            .iter()
            .find(|r| r.format == crate::targets::ProtocolFormat::Json && r.subscribers == row.subscribers)
            .map(|r| (r.us_per_delivery.median(), r.p99.median()))
            .unwrap_or((f64::NAN, f64::NAN));
        let (cpu, p99) = if row.format == crate::targets::ProtocolFormat::Json {
            ("–".to_owned(), "–".to_owned())
        } else {
            (ratio(row.us_per_delivery.median(), json.0), ratio(row.p99.median(), json.1))
        };
        writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {cpu} | {p99} |",
            row.format.name(),
            row.subscribers,
            row.rate,
            row.us_per_delivery.cell(2),
            row.p99.cell(1),
        )?;
    }
    writeln!(md)
}

pub(super) fn end_to_end_table(md: &mut String, rows: &[EndToEndRow]) -> std::fmt::Result {
    writeln!(md, "## End to end (Solo)\n")?;
    writeln!(
        md,
        "A notification created over HTTP (one transaction: notification, event, outbox, channel \
         history) until its push reaches a subscribed WebSocket client, at fixed rates.\n"
    )?;
    writeln!(md, "| database | writes/s | achieved/s | p50 ms | p99 ms | max ms |")?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for row in rows {
        writeln!(
            md,
            "| {} | {:.0} | {} | {} | {} | {} |",
            row.label,
            row.rate,
            row.achieved.cell(0),
            row.p50.cell(2),
            row.p99.cell(2),
            row.max.cell(1)
        )?;
    }
    writeln!(md)
}

pub(super) fn ingest_table(md: &mut String, plan: &Plan, rows: &[IngestRow]) -> std::fmt::Result {
    writeln!(md, "## Ingest (Solo)\n")?;
    writeln!(md, "{} notifications created through the API, 64 requests in flight.\n", plan.ingest)?;
    writeln!(md, "| database | notifications/s |")?;
    writeln!(md, "|---|---|")?;
    for row in rows {
        writeln!(md, "| {} | {} |", row.database, row.per_sec.cell(0))?;
    }
    writeln!(md)
}

pub(super) fn watchers_table(md: &mut String, plan: &Plan, rows: &[WatchersRow]) -> std::fmt::Result {
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
    for row in rows {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            row.database,
            row.reply_p50.cell(1),
            row.reply_p99.cell(1),
            row.last_push_p50.cell(1),
            row.last_push_p99.cell(1)
        )?;
    }
    writeln!(md)
}

pub(super) fn storm_table(md: &mut String, plan: &Plan, row: &StormRow) -> std::fmt::Result {
    writeln!(md, "## Reconnect storm (Solo)\n")?;
    writeln!(
        md,
        "{} clients drop at once, {} publications happen while they are away, and all reconnect at \
         once asking to recover.\n",
        plan.storm_clients, plan.storm_missed
    )?;
    writeln!(md, "| all recovered (s) | gaps | failed clients | server CPU s | server peak RSS MiB |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    writeln!(
        md,
        "| {} | {} | {} | {} | {} |",
        row.recovered_secs.cell(2),
        row.gaps.cell(0),
        row.failed.cell(0),
        row.cpu_secs.cell(2),
        row.peak_rss_mib.cell(0)
    )
}

pub(super) fn ratio(solo: f64, peer: f64) -> String {
    if peer == 0.0 || !solo.is_finite() || !peer.is_finite() {
        return "–".into();
    }
    format!("{:.2}", solo / peer)
}

/// Runs that did not complete, listed under their table (each once).
pub(super) fn note_failures(md: &mut String, failures: &mut Vec<String>) -> std::fmt::Result {
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

pub(super) fn machine() -> String {
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

pub(super) fn versions(programs: &Programs, kinds: &[Kind]) -> String {
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
