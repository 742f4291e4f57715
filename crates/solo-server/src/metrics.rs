//! Prometheus metrics, served as text at `/metrics`.
//!
//! One registry per server instance (not a process-wide global), so tests that
//! run several servers in one process see their own numbers.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecoveredLabels {
    pub recovered: &'static str,
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
    pub connections: Gauge,
    pub subscriptions: Gauge,
    pub publications_delivered: Counter,
    pub slow_consumer_closes: Counter,
    pub recoveries: Family<RecoveredLabels, Counter>,
    pub recoveries_from_memory: Counter,
    pub disconnects: Family<CodeLabels, Counter>,
    pub presence_changes_dropped: Counter,
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
        let connections = Gauge::default();
        registry.register("connections", "Open realtime connections", connections.clone());
        let subscriptions = Gauge::default();
        registry.register("subscriptions", "Channel subscriptions of open connections", subscriptions.clone());
        let publications_delivered = Counter::default();
        registry.register(
            "publications_delivered",
            "Publications queued to subscribers",
            publications_delivered.clone(),
        );
        let slow_consumer_closes = Counter::default();
        registry.register(
            "slow_consumer_closes",
            "Connections closed because their queue was full (3008)",
            slow_consumer_closes.clone(),
        );
        let recoveries = Family::<RecoveredLabels, Counter>::default();
        registry.register("recoveries", "Resubscribes that asked to recover, by outcome", recoveries.clone());
        let recoveries_from_memory = Counter::default();
        registry.register(
            "recoveries_from_memory",
            "Recoveries answered from the latest publications kept in memory, without reading the database",
            recoveries_from_memory.clone(),
        );
        let disconnects = Family::<CodeLabels, Counter>::default();
        registry.register("disconnects", "Connections closed by the server, by close code", disconnects.clone());
        let presence_changes_dropped = Counter::default();
        registry.register(
            "presence_changes_dropped",
            "Joins and leaves not mirrored to cluster presence at once (repaired by the next refresh)",
            presence_changes_dropped.clone(),
        );
        Self {
            registry,
            http_responses,
            events_published,
            dispatch_failures,
            outbox_pending,
            presence_transitions,
            history_trimmed,
            connections,
            subscriptions,
            publications_delivered,
            slow_consumer_closes,
            recoveries,
            recoveries_from_memory,
            disconnects,
            presence_changes_dropped,
        }
    }

    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}
