//! Shared application state handed to every route and worker.

use std::sync::Arc;

use solo_store::Store;

use crate::bus::Bus;
use crate::metrics::Metrics;
use crate::realtime::hub::Hub;
use crate::realtime::token::ConnectionTokens;
use crate::routes::workstations::OnlineUser;
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
    hub: Arc<Hub>,
    tokens: ConnectionTokens,
    node_id: String,
}

impl AppState {
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        metrics: Arc<Metrics>,
        hub: Arc<Hub>,
        tokens: ConnectionTokens,
    ) -> Self {
        let node_id = format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Self { inner: Arc::new(Inner { settings, store, bus, metrics, hub, tokens, node_id }) }
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

    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    pub fn tokens(&self) -> &ConnectionTokens {
        &self.inner.tokens
    }

    /// This process's name in the cluster (shown to clients in `connect`).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Distinct users connected to a workspace's realtime channel right now
    /// (counted per user, not per tab).
    pub fn people_online(&self, workspace: &solo_domain::WorkspaceId) -> Vec<OnlineUser> {
        self.hub()
            .users_on(&format!("workspace:{workspace}"))
            .into_iter()
            .map(|(id, info)| OnlineUser { name: info["name"].as_str().unwrap_or_default().to_owned(), id })
            .collect()
    }
}
