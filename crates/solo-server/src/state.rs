//! Shared application state handed to every route and worker.

use std::sync::Arc;

use solo_store::Store;

use crate::bus::Bus;
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
    metrics: Metrics,
}

impl AppState {
    pub fn new(settings: Settings, store: Arc<dyn Store>, bus: Arc<dyn Bus>, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                store,
                bus,
                metrics,
            }),
        }
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

    /// Distinct users connected to a workspace's realtime channel right now.
    pub fn people_online(&self, _workspace: &solo_domain::WorkspaceId) -> Vec<crate::routes::workstations::OnlineUser> {
        // Connection presence is kept by the realtime hub; until a node runs one,
        // nobody is connected.
        Vec::new()
    }
}
