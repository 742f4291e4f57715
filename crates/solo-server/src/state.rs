//! Shared application state handed to every route and worker.

use std::sync::Arc;

use solo_store::Store;

use solo_realtime::bus::Bus;
use solo_realtime::hub::Hub;
use solo_realtime::presence::Presence;
use solo_realtime::token::ConnectionTokens;
use solo_realtime::Engine;

use crate::auth::pat_cache::PatCache;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// Cheap to clone: everything is behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    metrics: Arc<Metrics>,
    engine: Arc<Engine>,
    limits: Limits,
    pat_cache: PatCache,
    /// When this server was built, for its uptime.
    started: std::time::Instant,
}

/// The shared parts a server is built from.
pub struct Parts {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub metrics: Arc<Metrics>,
    pub engine: Arc<Engine>,
}

impl AppState {
    pub fn new(parts: Parts) -> Self {
        let Parts { settings, store, bus, metrics, engine } = parts;
        let limits = Limits::new(&settings);
        let pat_cache = PatCache::new(settings.pat_cache_ttl_ms);
        let started = std::time::Instant::now();
        Self { inner: Arc::new(Inner { settings, store, bus, metrics, engine, limits, pat_cache, started }) }
    }

    /// A fresh node id: `node-` and 12 hex digits.
    pub fn new_node_id() -> String {
        format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn store_arc(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The realtime engine of this node.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    pub fn hub(&self) -> &Arc<Hub> {
        self.inner.engine.hub()
    }

    /// Who is subscribed where, cluster-wide.
    pub fn presence(&self) -> &dyn Presence {
        self.inner.engine.presence()
    }

    /// Rate limits of this node.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Recently verified personal access tokens.
    pub fn pat_cache(&self) -> &PatCache {
        &self.inner.pat_cache
    }

    pub fn tokens(&self) -> &ConnectionTokens {
        self.inner.engine.tokens()
    }

    /// Seconds since this server was built.
    pub fn uptime_secs(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    /// This process's name in the cluster (shown to clients in `connect`).
    pub fn node_id(&self) -> &str {
        self.inner.engine.node_id()
    }
}
