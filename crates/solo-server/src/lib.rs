//! Solo Realtime's server.
//!
//! - [`settings`]: the one typed configuration.
//! - [`routes`]: the HTTP API, one module per resource, and its OpenAPI document.
//! - [`auth`]: passwords, sessions, personal access tokens, the `Caller` extractor.
//! - [`access`]: who may read which channel.
//! - [`bus`]: the `Bus` seam between nodes (in-process here).
//! - [`dispatcher`]: publishes committed outbox events to the bus, retrying forever.
//! - [`workers`]: presence sweeper, history retention.
//! - [`http`]: extractors, conditional responses, trace ids.
//! - [`error`]: the one API error type.
//!
//! [`Server::run`] takes its listener and a shutdown future, so tests bind
//! port 0 and stop the server when they are done.

pub mod access;
pub mod auth;
pub mod bus;
pub mod dispatcher;
pub mod error;
pub mod http;
pub mod metrics;
pub mod routes;
pub mod settings;
pub mod state;
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

use crate::bus::{Bus, InProcessBus};
use crate::metrics::{Metrics, StatusLabels};
use crate::settings::Settings;
use crate::state::AppState;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("could not open the store: {0}")]
    Store(#[from] StoreError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Opens the store the settings name (creating the data directory for SQLite).
pub async fn open_store(settings: &Settings) -> Result<SqlStore, ServerError> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| ServerError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    }
    let options = SqlOptions {
        max_connections: settings.db_max_connections,
        ..SqlOptions::default()
    };
    Ok(SqlStore::connect(&settings.effective_database_url(), &options).await?)
}

/// A configured server, ready to run on a listener.
pub struct Server {
    state: AppState,
}

impl Server {
    /// Builds a server on the store the settings name and the in-process bus.
    pub async fn build(settings: Settings) -> Result<Self, ServerError> {
        let store = open_store(&settings).await?;
        Ok(Self::with_parts(
            settings,
            Arc::new(store),
            Arc::new(InProcessBus::new()),
        ))
    }

    /// Builds a server on the given store and bus (tests use this to inject faults).
    pub fn with_parts(settings: Settings, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Self {
        let state = AppState::new(settings, store, bus, Metrics::new());
        Self { state }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The router with every route and middleware (without a listener).
    pub fn router(&self) -> Router {
        let max_body = self.state.settings().max_body_bytes;
        routes::api_router()
            .layer(DefaultBodyLimit::max(max_body))
            .layer(middleware::from_fn_with_state(self.state.clone(), count_responses))
            .layer(middleware::from_fn(http::trace_requests))
            .with_state(self.state.clone())
    }

    /// Serves until `shutdown` completes, then stops the workers and lets the
    /// dispatcher publish what is already committed.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let stop = CancellationToken::new();
        let dispatcher = tokio::spawn(dispatcher::run(self.state.clone(), stop.clone()));
        let sweeper = tokio::spawn(workers::presence_sweeper(self.state.clone(), stop.clone()));
        let retention = tokio::spawn(workers::retention(self.state.clone(), stop.clone()));

        let addr = listener.local_addr()?;
        tracing::info!(%addr, store = self.state.store().backend(), bus = self.state.bus().kind(), "solo is serving");
        let stop_serving = stop.clone();
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                stop_serving.cancel();
            })
            .await;
        stop.cancel();
        for task in [sweeper, retention, dispatcher] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a background worker panicked");
            }
        }
        tracing::info!("solo stopped");
        Ok(served?)
    }
}

async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    state
        .metrics()
        .http_responses
        .get_or_create(&StatusLabels { class })
        .inc();
    response
}
