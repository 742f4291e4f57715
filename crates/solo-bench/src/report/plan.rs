//! What a report measures (its sizes, quick or full) and the typed rows each
//! scenario's runs come to.

use std::time::Duration;

use crate::fanout::FanoutOptions;
use crate::targets::Kind;

/// Sizes of one report: `--quick` (CI smoke: every scenario completes, in
/// about a minute) or full.
pub(super) struct Plan {
    pub(super) connections: u64,
    pub(super) fanout_sizes: Vec<u64>,
    pub(super) fanout: FanoutOptions,
    /// Subscribers and publication rate of each fixed, sub-saturating load at
    /// which server CPU per delivery is measured.
    pub(super) cpu_points: Vec<(u64, f64)>,
    pub(super) cpu_step: Duration,
    pub(super) e2e_rates: Vec<f64>,
    pub(super) storm_clients: u64,
    pub(super) storm_missed: u64,
    /// Cluster run: `solo serve` processes and connections over all of them.
    pub(super) cluster_nodes: usize,
    pub(super) cluster_connections: u64,
    /// The first end-to-end rate again, beside heartbeats of this many
    /// workstations, each every `heartbeat_every`.
    pub(super) heartbeat_workstations: usize,
    pub(super) heartbeat_every: Duration,
    pub(super) ingest: u64,
    /// Watcher fan-out: users watching one mission, and stage changes timed.
    pub(super) watchers: usize,
    pub(super) watcher_changes: usize,
    /// Solo's idle connections over each of its transports (WebSocket, and
    /// the unidirectional HTTP streams), compared at this size.
    pub(super) transport_connections: u64,
}

impl Plan {
    pub(super) fn new(quick: bool) -> Plan {
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
            format: crate::targets::ProtocolFormat::Json,
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
                transport_connections: 300,
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
                transport_connections: 5_000,
            }
        }
    }
}

/// Values of repeated runs: median and spread.
pub(super) struct Runs(pub(super) Vec<f64>);

impl Runs {
    pub(super) fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// (max − min) / median, as a percentage: how noisy the runs were.
    pub(super) fn spread_pct(&self) -> f64 {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let median = self.median();
        if self.0.len() < 2 || median == 0.0 {
            return 0.0;
        }
        (max - min) / median.abs() * 100.0
    }

    pub(super) fn cell(&self, digits: usize) -> String {
        if self.0.is_empty() {
            return "–".into();
        }
        format!("{:.*} (±{:.0} %)", digits, self.median(), self.spread_pct() / 2.0)
    }
}

/// Each figure of a table's row, over the runs.
pub(super) struct ConnectionsRow {
    pub(super) kind: Kind,
    pub(super) held: Runs,
    pub(super) connect_rate: Runs,
    pub(super) per_connection: Runs,
}

/// Solo's idle connections over one transport.
pub(super) struct TransportRow {
    pub(super) transport: crate::connections::Transport,
    pub(super) held: Runs,
    pub(super) connect_rate: Runs,
    pub(super) per_connection: Runs,
}

pub(super) struct FanoutRow {
    pub(super) kind: Kind,
    pub(super) capacity: Runs,
    pub(super) p50: Runs,
    pub(super) p99: Runs,
    pub(super) probe_rate: f64,
}

pub(super) struct CpuRow {
    pub(super) kind: Kind,
    pub(super) subscribers: u64,
    pub(super) rate: f64,
    pub(super) us_per_delivery: Runs,
    pub(super) p99: Runs,
}

/// Solo's fan-out at a fixed load with its subscribers in one protocol format.
pub(super) struct FormatRow {
    pub(super) format: crate::targets::ProtocolFormat,
    pub(super) subscribers: u64,
    pub(super) rate: f64,
    pub(super) us_per_delivery: Runs,
    pub(super) p99: Runs,
}

pub(super) struct EndToEndRow {
    pub(super) label: String,
    pub(super) rate: f64,
    pub(super) achieved: Runs,
    pub(super) p50: Runs,
    pub(super) p99: Runs,
    pub(super) max: Runs,
}

pub(super) struct IngestRow {
    pub(super) database: &'static str,
    pub(super) per_sec: Runs,
}

pub(super) struct WatchersRow {
    pub(super) database: &'static str,
    pub(super) reply_p50: Runs,
    pub(super) reply_p99: Runs,
    pub(super) last_push_p50: Runs,
    pub(super) last_push_p99: Runs,
}

pub(super) struct StormRow {
    pub(super) recovered_secs: Runs,
    pub(super) gaps: Runs,
    pub(super) failed: Runs,
    pub(super) cpu_secs: Runs,
    pub(super) peak_rss_mib: Runs,
}

/// The database each write-path row runs on: SQLite always, PostgreSQL when given.
pub(super) type Databases<'a> = Vec<(&'static str, Option<&'a str>)>;
