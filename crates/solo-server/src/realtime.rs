//! The realtime engine's HTTP side: the WebSocket endpoint (the opening
//! handshake, then the socket is handed to [`solo_realtime::Engine`]), the
//! connection-token endpoint, and the revalidator that ends what a revocation
//! takes away. Everything after the handshake lives in `solo-realtime`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use solo_domain::time::{format_ms, now_ms};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::auth::{scopes, Caller, Via};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::handshake::{self, Served};
use crate::state::AppState;

pub use crate::handshake::WEBSOCKET_PATH;
/// Where a consumer with no SDK opens a one-way WebSocket (Centrifugo's `uni_websocket`).
pub const UNI_WEBSOCKET_PATH: &str = "/connection/uni_websocket";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(WEBSOCKET_PATH, get(websocket))
        .route(UNI_WEBSOCKET_PATH, get(uni_websocket))
        .route("/api/realtime/token", post(connection_token))
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionToken {
    /// HS256 JWT for the WebSocket `connect` command.
    token: String,
    expires_at: String,
    /// The WebSocket URL to connect to.
    url: String,
}

/// The WebSocket URL clients should use, from configuration or the request.
fn websocket_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.settings().public_url {
        let base = public.trim_end_matches('/');
        let base = base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1);
        return format!("{base}{WEBSOCKET_PATH}");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&state.settings().addr);
    let secure = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}{WEBSOCKET_PATH}", if secure { "wss" } else { "ws" })
}

/// Exchanges a PAT or a web session for a short-lived realtime connection token.
#[utoipa::path(post, path = "/api/realtime/token", tag = "realtime",
    responses((status = 200, body = ConnectionToken), (status = 401, body = ErrorBody)))]
pub async fn connection_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Json<ConnectionToken>> {
    caller.require_scope(scopes::READ)?;
    let source = match &caller.via {
        Via::Token { id, .. } => id.to_string(),
        Via::Session { token_hash } => format!("session:{token_hash}"),
    };
    let info = serde_json::json!({ "name": caller.user.name, "displayName": caller.user.display_name, "avatarUrl": caller.user.avatar_url });
    let (token, claims) = state
        .tokens()
        .issue(caller.user.id.as_str(), info, &source, now_ms() / 1000)
        .map_err(|_| ApiError::Internal)?;
    Ok(Json(ConnectionToken { token, expires_at: format_ms(claims.exp * 1000), url: websocket_url(&state, &headers) }))
}

/// The WebSocket opening handshake (RFC 6455, section 4.2). On success the
/// upgraded TCP socket goes to the realtime engine, which frames its own
/// messages (see `solo_realtime::websocket`).
async fn websocket(State(state): State<AppState>, request: Request) -> Response {
    upgrade(state, request, Served::Bidirectional)
}

async fn uni_websocket(State(state): State<AppState>, request: Request) -> Response {
    upgrade(state, request, Served::Unidirectional)
}

fn upgrade(state: AppState, mut request: Request, served: Served) -> Response {
    let checked = handshake::check(state.settings(), request.method(), request.uri(), request.headers(), served);
    let handshake = match checked {
        Ok(handshake) => handshake,
        Err(refused) => return refused.into_response(),
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return ApiError::BadRequest("expected a WebSocket upgrade: connection is not upgradable".into())
            .into_response();
    };
    let format = handshake.format;
    let engine = state.engine().clone();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        // The accept loop serves plain TCP streams: take the socket back from
        // hyper, with whatever the client sent after its request.
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            // Served by a task of its own: this one, sized for the upgrade, ends here.
            Ok(parts) => match served {
                Served::Bidirectional => {
                    drop(tokio::spawn(engine.serve_websocket(parts.io.into_inner(), parts.read_buf, format)))
                }
                Served::Unidirectional => {
                    drop(tokio::spawn(engine.serve_uni_websocket(parts.io.into_inner(), parts.read_buf)))
                }
            },
            Err(_) => tracing::error!("upgraded connection is not a TCP stream; closing it"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in handshake.response_headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Ends what a revocation takes away, within seconds: when a token is revoked, a
/// session ends or a membership is removed (anywhere in the cluster: the store
/// keeps a counter of such changes), every live connection's credential and
/// subscriptions are checked again.
pub async fn revalidator(state: AppState, shutdown: CancellationToken) {
    let period = Duration::from_millis(state.settings().revalidate_interval_ms.max(100));
    let mut seen = state.store().auth_generation().await.unwrap_or(0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.cancelled() => return,
        }
        let current = match state.store().auth_generation().await {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the revocation counter");
                continue;
            }
        };
        if current == seen {
            continue;
        }
        seen = current;
        // Access was taken away somewhere (perhaps on another node): verified
        // tokens must be read again.
        state.pat_cache().clear();
        state.engine().revalidate_all().await;
    }
}
