//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct Readiness {
    status: &'static str,
    store: &'static str,
    bus: &'static str,
}

/// The store and the bus answer; `503` when either does not.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let store_ok =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.store().ping()).await.is_ok_and(|r| r.is_ok());
    let bus_ok =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.bus().ping()).await.is_ok_and(|r| r.is_ok());
    let label = |ok: bool| if ok { "ok" } else { "unavailable" };
    let status = if store_ok && bus_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { status: label(store_ok && bus_ok), store: label(store_ok), bus: label(bus_ok) }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text); public, like the health checks: counts only, no data", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Some((groups, writes)) = state.store().group_commits() {
        let metrics = state.metrics();
        metrics.write_groups.set(i64::try_from(groups).unwrap_or(i64::MAX));
        metrics.grouped_writes.set(i64::try_from(writes).unwrap_or(i64::MAX));
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics().render())
}
