//! Prometheus metrics, served as text at `/metrics`.
//!
//! One registry per server instance (not a process-wide global), so tests that
//! run several servers in one process see their own numbers.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use solo_realtime::metrics::RealtimeMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_responses: Family<StatusLabels, Counter>,
    pub events_published: Counter,
    pub dispatch_failures: Counter,
    pub outbox_pending: Gauge,
    pub presence_transitions: Counter,
    pub history_trimmed: Counter,
    /// SQLite's group commit: groups committed, and the write requests in them.
    pub write_groups: Gauge,
    pub grouped_writes: Gauge,
    /// How long API requests that change something (POST, PUT, PATCH, DELETE) take.
    pub write_duration: Histogram,
    /// Database failures, by kind (`busy`, `storage_full`, `unavailable`, `failed`).
    pub database_errors: Family<KindLabels, Counter>,
    /// Seconds the oldest event not yet published has waited since its commit.
    pub outbox_lag: Gauge<f64, AtomicU64>,
    /// Tasks alive in the async runtime serving `/metrics`, read as it renders
    /// (a leak of tasks shows as a climb under steady load).
    pub runtime_tasks: Gauge,
    /// The realtime engine's own metrics, in the same registry.
    pub realtime: Arc<RealtimeMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("solo");
        let http_responses = Family::<StatusLabels, Counter>::default();
        registry.register("http_responses", "HTTP responses by status class", http_responses.clone());
        let events_published = Counter::default();
        registry.register(
            "events_published",
            "Events published to the bus by the dispatcher",
            events_published.clone(),
        );
        let dispatch_failures = Counter::default();
        registry.register(
            "dispatch_failures",
            "Failed attempts to publish outbox events (retried)",
            dispatch_failures.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register("outbox_pending", "Committed events not yet published, as last seen", outbox_pending.clone());
        let presence_transitions = Counter::default();
        registry.register(
            "presence_transitions",
            "Workstation status transitions made by the sweeper",
            presence_transitions.clone(),
        );
        let history_trimmed = Counter::default();
        registry.register("history_trimmed_rows", "History rows removed by retention", history_trimmed.clone());
        let write_groups = Gauge::default();
        registry.register(
            "store_write_groups",
            "Write transactions committed as a group (SQLite), since start",
            write_groups.clone(),
        );
        let grouped_writes = Gauge::default();
        registry.register(
            "store_grouped_writes",
            "Write requests committed in those groups; divided by the groups, the mean group size",
            grouped_writes.clone(),
        );
        // 1 ms to about 4 s.
        let write_duration = Histogram::new(exponential_buckets(0.001, 2.0, 13));
        registry.register(
            "http_write_duration_seconds",
            "Time to answer API requests that change something (POST, PUT, PATCH, DELETE)",
            write_duration.clone(),
        );
        let database_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "database_errors",
            "Database failures met by requests and the dispatcher, by kind (busy, storage_full, unavailable, failed)",
            database_errors.clone(),
        );
        let outbox_lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_lag_seconds",
            "How long the oldest committed event not yet published has waited, as the dispatcher last saw it",
            outbox_lag.clone(),
        );
        let runtime_tasks = Gauge::default();
        registry.register(
            "runtime_tasks",
            "Tasks alive in the server's async runtime (connections, requests, workers)",
            runtime_tasks.clone(),
        );
        let realtime = Arc::new(RealtimeMetrics::default());
        realtime.register(&mut registry);
        Self {
            registry,
            http_responses,
            events_published,
            dispatch_failures,
            outbox_pending,
            presence_transitions,
            history_trimmed,
            write_groups,
            grouped_writes,
            write_duration,
            database_errors,
            outbox_lag,
            runtime_tasks,
            realtime,
        }
    }

    /// Counts a database failure of `kind`.
    pub fn database_error(&self, kind: &'static str) {
        self.database_errors.get_or_create(&KindLabels { kind }).inc();
    }

    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn render(&self) -> String {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.runtime_tasks.set(runtime.metrics().num_alive_tasks() as i64);
        }
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}
