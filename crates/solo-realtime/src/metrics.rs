//! The engine's Prometheus metrics. They are registered into the server's
//! registry (one per server instance, so tests running several servers in one
//! process see their own numbers).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecoveredLabels {
    pub recovered: &'static str,
}

#[derive(Debug, Default)]
pub struct RealtimeMetrics {
    pub connections: Gauge,
    pub subscriptions: Gauge,
    pub publications_delivered: Counter,
    pub slow_consumer_closes: Counter,
    pub recoveries: Family<RecoveredLabels, Counter>,
    pub recoveries_from_memory: Counter,
    pub disconnects: Family<CodeLabels, Counter>,
    pub presence_changes_dropped: Counter,
}

impl RealtimeMetrics {
    /// Registers every metric (they share their state with `self`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register("connections", "Open realtime connections", self.connections.clone());
        registry.register("subscriptions", "Channel subscriptions of open connections", self.subscriptions.clone());
        registry.register(
            "publications_delivered",
            "Publications written or queued to subscribers",
            self.publications_delivered.clone(),
        );
        registry.register(
            "slow_consumer_closes",
            "Connections closed because they did not read what was sent to them (3008)",
            self.slow_consumer_closes.clone(),
        );
        registry.register("recoveries", "Resubscribes that asked to recover, by outcome", self.recoveries.clone());
        registry.register(
            "recoveries_from_memory",
            "Recoveries answered from the latest publications kept in memory, without reading the database",
            self.recoveries_from_memory.clone(),
        );
        registry.register("disconnects", "Connections closed by the server, by close code", self.disconnects.clone());
        registry.register(
            "presence_changes_dropped",
            "Joins and leaves not mirrored to cluster presence at once (repaired by the next refresh)",
            self.presence_changes_dropped.clone(),
        );
    }
}
