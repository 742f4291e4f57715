//! Solo Realtime's server.
//!
//! - [`settings`]: the one typed configuration.
//! - [`routes`]: the HTTP API, one module per resource, and its OpenAPI document.
//! - [`auth`]: passwords, sessions, personal access tokens, the `Caller` extractor.
//! - [`server_api`]: the Centrifugo-compatible server API for backends (`/centrifugo/api`).
//! - [`realtime`]: the WebSocket handshake and the connection-token endpoint;
//!   the engine behind them (protocol, hub, bus, presence) is `solo-realtime`.
//! - [`streams`]: the HTTP transports (SSE, HTTP-streaming, their emulation endpoint, unidirectional streams).
//! - [`dispatcher`]: publishes committed outbox events to the bus, retrying forever.
//! - [`workers`]: presence sweeper, history retention (and `routes::inbox_state::waker`, snoozes that come due).
//! - [`demo`]: the seeded workspace and simulated workstations of `solo serve --demo`.
//! - [`serving`]: the accept loop (HTTP/1.1, upgrades, header timeout, graceful drain).
//! - [`http`]: extractors, conditional responses, trace ids.
//! - [`error`]: the one API error type.
//! - [`fuzzing`]: properties of the untrusted-input parsers, for the fuzz targets and their corpus replay.
//! - [`typescript`], [`event_schema`]: the TypeScript types and the events' JSON Schema of
//!   `packages/domain-schema`, generated from the Rust types.
//!
//! [`Server::run`] takes its listener and a shutdown future, so tests bind
//! port 0 and stop the server when they are done.

pub mod auth;
pub mod demo;
pub mod dispatcher;
pub mod error;
pub mod event_schema;
pub mod fuzzing;
mod handshake;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod realtime;
pub mod routes;
pub mod server_api;
pub mod serving;
pub mod settings;
pub mod state;
pub mod streams;
pub mod typescript;
pub mod validate;
pub mod workers;

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use solo_store::sql::SqlOptions;
use solo_store::{SqlStore, Store, StoreError};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use solo_realtime::bus::{Bus, InProcessBus};
use solo_realtime::hub::HubTiming;
use solo_realtime::presence::{PresenceWriter, RedisPresence, RedisPresenceOptions};
use solo_realtime::protocol::Disconnect;
use solo_realtime::token::ConnectionTokens;
/// The engine's seams, re-exported for the binary and tests that build servers on them.
pub use solo_realtime::{access, bus, presence, token};
use solo_realtime::{Engine, EngineConfig};

use crate::metrics::{Metrics, StatusLabels};
use crate::settings::Settings;
use crate::state::{AppState, Parts};

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("could not open the store: {0}")]
    Store(#[from] StoreError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("configuration: {0}")]
    Config(String),
    #[error("the HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Opens the store the settings name (creating the data directory for SQLite).
pub async fn open_store(settings: &Settings) -> Result<SqlStore, ServerError> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|source| ServerError::DataDir { path: settings.data_dir.display().to_string(), source })?;
    }
    let options = SqlOptions { max_connections: settings.db_max_connections, ..SqlOptions::default() };
    Ok(SqlStore::connect(&settings.effective_database_url(), &options).await?)
}

/// A configured server, ready to run on a listener.
pub struct Server {
    state: AppState,
    /// Cluster mode: mirrors this node's subscribers into Redis while it runs.
    presence_writer: Option<PresenceWriter>,
}

impl Server {
    /// Builds a server on the store the settings name, and the in-process bus
    /// or, when `bus_url` is set, Redis for the bus and presence (cluster mode).
    pub async fn build(settings: Settings) -> Result<Self, ServerError> {
        let store = open_store(&settings).await?;
        let node_id = AppState::new_node_id();
        let config = |e: &dyn std::fmt::Display| ServerError::Config(e.to_string());
        let (bus, cluster_presence): (Arc<dyn Bus>, _) = match &settings.bus_url {
            Some(url) => {
                let bus = bus::RedisBus::new(url, &settings.cluster_name, &node_id).map_err(|e| config(&e))?;
                let options = RedisPresenceOptions {
                    ttl: std::time::Duration::from_secs(settings.presence_ttl_secs),
                    node: node_id.clone(),
                    cluster: settings.cluster_name.clone(),
                };
                let presence = RedisPresence::new(bus.connection(), options);
                (bus, Some(presence))
            }
            None => (Arc::new(InProcessBus::new()), None),
        };
        Self::assemble(settings, Arc::new(store), bus, node_id, cluster_presence).await
    }

    /// Builds a single node on the given store and bus (tests use this to inject faults).
    pub async fn with_parts(settings: Settings, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Result<Self, ServerError> {
        Self::assemble(settings, store, bus, AppState::new_node_id(), None).await
    }

    async fn assemble(
        settings: Settings,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        node_id: String,
        cluster_presence: Option<Arc<RedisPresence>>,
    ) -> Result<Self, ServerError> {
        let secret = token_secret(&settings, store.as_ref()).await?;
        let quiet = settings.parsed_default_quiet_hours().map_err(|e| ServerError::Config(e.to_string()))?;
        store.set_default_quiet_hours(&quiet).await?;
        let tokens = ConnectionTokens::new(secret.as_bytes(), settings.connection_token_ttl_secs);
        let metrics = Arc::new(Metrics::new());
        let timing = HubTiming {
            ping_interval_ms: (settings.ping_interval_secs.max(1) * 1000) as i64,
            pong_timeout_ms: (settings.pong_timeout_secs.max(1) * 1000) as i64,
            connect_timeout_ms: (settings.connect_timeout_secs.max(1) * 1000) as i64,
            refresh_grace_ms: (settings.refresh_grace_secs * 1000) as i64,
            write_coalesce_ms: settings.write_coalesce_ms,
        };
        let config = EngineConfig {
            queue_capacity: settings.ws_queue_capacity,
            timing,
            recovery_max_publications: settings.recovery_max_publications,
            recovery_cache_bytes: settings.recovery_cache_bytes,
            max_connections_per_user: settings.ws_max_connections_per_user,
            max_message_bytes: settings.ws_max_message_bytes,
            commands_per_sec: settings.ws_commands_per_sec,
            access_cache_ttl_ms: settings.pat_cache_ttl_ms,
            integration_namespaces: settings.integration_namespace_list(),
        };
        let (engine, presence_writer) = Engine::new(
            config,
            store.clone(),
            bus.as_ref(),
            tokens,
            metrics.realtime.clone(),
            node_id,
            cluster_presence,
        );
        let state = AppState::new(Parts { settings, store, bus, metrics, engine });
        Ok(Self { state, presence_writer })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The router with every route and middleware (without a listener).
    pub fn router(&self) -> Router {
        let max_body = self.state.settings().max_body_bytes;
        routes::api_router()
            .merge(realtime::router())
            .merge(streams::router())
            .merge(server_api::router())
            .layer(DefaultBodyLimit::max(max_body))
            .layer(middleware::from_fn_with_state(self.state.clone(), http::poll_interval))
            .layer(middleware::from_fn_with_state(self.state.clone(), count_responses))
            .layer(middleware::from_fn(http::trace_requests))
            .with_state(self.state.clone())
    }

    /// Serves until `shutdown` completes, then stops the workers and lets the
    /// dispatcher publish what is already committed.
    pub async fn run(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let stop = CancellationToken::new();
        // The dispatcher stops last among writers: only once the HTTP server has
        // finished its in-flight requests and the workers that write have
        // stopped is nothing left to commit, so its final drain misses nothing.
        let stop_dispatcher = CancellationToken::new();
        let dispatcher = tokio::spawn(dispatcher::run(self.state.clone(), stop_dispatcher.clone()));
        // Writes what the hub's fan-out corked; stops after the dispatcher's last delivery.
        let stop_flusher = CancellationToken::new();
        let flusher = tokio::spawn(self.state.engine().clone().run_flusher(stop_flusher.clone()));
        let sweeper = tokio::spawn(workers::presence_sweeper(self.state.clone(), stop.clone()));
        let retention = tokio::spawn(workers::retention(self.state.clone(), stop.clone()));
        let waker = tokio::spawn(routes::inbox_state::waker(self.state.clone(), stop.clone()));
        let ticker = tokio::spawn(self.state.engine().clone().run_ticker(stop.clone()));
        let revalidator = tokio::spawn(realtime::revalidator(self.state.clone(), stop.clone()));
        let simulation =
            self.state.settings().demo.then(|| tokio::spawn(demo::simulate(self.state.clone(), stop.clone())));
        // Presence outlives the other workers: it removes this node's entries
        // once every connection has closed.
        let stop_presence = CancellationToken::new();
        let presence_writer = self.presence_writer.take().map(|w| tokio::spawn(w.run(stop_presence.clone())));

        let addr = listener.local_addr()?;
        tracing::info!(
            %addr,
            node = self.state.node_id(),
            store = self.state.store().backend(),
            bus = self.state.bus().kind(),
            presence = self.state.presence().kind(),
            "solo is serving"
        );
        let stop_serving = stop.clone();
        let hub = self.state.hub().clone();
        let header_timeout = std::time::Duration::from_secs(self.state.settings().http_header_timeout_secs);
        // The accept loop runs as a task, on the runtime's workers, not on the
        // thread that called `run` (`block_on`'s thread in the binary): there,
        // every accepted connection's task was handed across threads, a futex
        // wake and a context switch per connect.
        let served =
            tokio::spawn(serving::serve(listener, self.router(), self.state.clone(), header_timeout, async move {
                shutdown.await;
                stop_serving.cancel();
                // Upgraded WebSocket connections are not drained by the HTTP server:
                // close them with 3001 so clients reconnect elsewhere or later.
                hub.close_all(Disconnect::Shutdown);
            }))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("the accept loop panicked: {e}"))));
        stop.cancel();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.state.hub().connection_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let join = |task: tokio::task::JoinHandle<()>| async move {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a background worker panicked");
            }
        };
        for task in [sweeper, retention, waker, ticker, revalidator].into_iter().chain(simulation) {
            join(task).await;
        }
        stop_dispatcher.cancel();
        join(dispatcher).await;
        stop_flusher.cancel();
        join(flusher).await;
        stop_presence.cancel();
        if let Some(task) = presence_writer {
            join(task).await;
        }
        tracing::info!("solo stopped");
        Ok(served?)
    }
}

/// The connection-token signing key: from configuration, or generated once and
/// kept in the store so every node of a cluster and every restart agree.
pub async fn token_secret(settings: &Settings, store: &dyn Store) -> Result<String, ServerError> {
    if let Some(secret) = &settings.token_secret {
        if secret.expose().len() < 32 {
            return Err(ServerError::Config("token_secret must be at least 32 characters".into()));
        }
        return Ok(secret.expose().to_owned());
    }
    let generated = serde_json::Value::String(auth::secrets::random_base62(43));
    let stored = store.config_put_if_absent("server", "token_secret", &generated).await?;
    stored.as_str().map(str::to_owned).ok_or_else(|| ServerError::Config("stored token secret is not a string".into()))
}

async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method();
    let writes = !(method == axum::http::Method::GET
        || method == axum::http::Method::HEAD
        || method == axum::http::Method::OPTIONS);
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    if writes {
        state.metrics().write_duration.observe(started.elapsed().as_secs_f64());
    }
    if let Some(error::DatabaseErrorKind(kind)) = response.extensions().get::<error::DatabaseErrorKind>() {
        state.metrics().database_error(kind);
    }
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    state.metrics().http_responses.get_or_create(&StatusLabels { class }).inc();
    response
}
