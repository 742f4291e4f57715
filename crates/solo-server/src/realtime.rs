//! The realtime transport: a WebSocket endpoint speaking the Centrifugo client
//! protocol v2 (JSON), the connection-token endpoint, and the workers that keep
//! live connections honest (pings and deadlines, revocation).
//!
//! - [`protocol`]: commands, replies, codes.
//! - [`token`]: connection JWTs.
//! - [`hub`]: this node's connections and subscriptions, and fan-out.
//! - [`client`]: one connection's reader and writer.

pub mod client;
pub mod hub;
pub mod mailbox;
pub mod protocol;
pub mod recent;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use solo_domain::time::{format_ms, now_ms};
use solo_domain::{TokenId, UserId};
use tokio_util::sync::CancellationToken;

use self::protocol::Disconnect;
use crate::access::may_read;
use crate::auth::{scopes, Caller, Via};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/connection/websocket", get(websocket)).route("/api/realtime/token", post(connection_token))
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
        return format!("{base}/connection/websocket");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&state.settings().addr);
    let secure = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}/connection/websocket", if secure { "wss" } else { "ws" })
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

/// Whether a browser page from `Origin` may open the WebSocket: no `Origin`
/// (not a browser), the server's own origin (same host, or `SOLO_PUBLIC_URL`),
/// or one listed in `SOLO_ALLOWED_ORIGINS` (`*`: any). Stops another site's page
/// from riding a signed-in user's cookies into a connection.
fn origin_allowed(settings: &crate::settings::Settings, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    if host.as_deref() == Some(authority) {
        return true;
    }
    let public = settings.public_url.as_deref().map(|u| u.trim_end_matches('/').to_ascii_lowercase());
    if public.as_deref() == Some(origin.as_str()) {
        return true;
    }
    settings
        .allowed_origins
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .any(|allowed| allowed == "*" || (!allowed.is_empty() && allowed == origin))
}

async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if !origin_allowed(state.settings(), &headers) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "WebSocket upgrade from a foreign origin refused");
        return ApiError::Forbidden("this origin may not open realtime connections (see SOLO_ALLOWED_ORIGINS)".into())
            .into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::BadRequest(format!("expected a WebSocket upgrade: {}", rejection.body_text()))
                .into_response()
        }
    };
    let max = state.settings().ws_max_message_bytes;
    upgrade
        .protocols(["centrifuge-json"])
        .max_message_size(max)
        .max_frame_size(max)
        // Clients send small commands; a larger frame grows the buffer as needed.
        .read_buffer_size(512)
        .write_buffer_size(0)
        .on_upgrade(move |socket| client::serve(state, socket))
}

/// Whether the credential a connection token came from still stands.
pub async fn source_is_valid(state: &AppState, source: &str, user: &UserId) -> Result<bool, solo_store::StoreError> {
    if let Some(hash) = source.strip_prefix("session:") {
        return Ok(state.store().session_by_hash(hash, now_ms()).await?.is_some_and(|s| &s.user_id == user));
    }
    let Ok(id) = TokenId::parse(source) else { return Ok(false) };
    Ok(state
        .store()
        .access_token_by_id(&id)
        .await?
        .is_some_and(|t| &t.user_id == user && t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now_ms())))
}

/// Once a second: pings, pong and connect deadlines, token expiry.
pub async fn ticker(state: AppState, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => state.hub().tick(now_ms()),
            _ = shutdown.cancelled() => return,
        }
    }
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
        revalidate_all(&state).await;
    }
}

async fn revalidate_all(state: &AppState) {
    let hub = state.hub();
    for conn in hub.connections() {
        let Some(auth) = conn.auth() else { continue };
        match source_is_valid(state, &auth.source, &auth.user_id).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(client = %conn.client_id, user_id = %auth.user_id, "credential revoked: closing connection");
                conn.close(Disconnect::InvalidToken);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "revalidation failed");
                continue;
            }
        }
        for channel in hub.channels_of(&conn) {
            let Ok(parsed) = solo_domain::Channel::parse(&channel) else { continue };
            if let Ok(false) = may_read(state.store(), &auth.user_id, &parsed).await {
                if hub.unsubscribe(&conn, &channel) {
                    let push = protocol::push(
                        &channel,
                        "unsubscribe",
                        &serde_json::json!({ "code": 2000, "reason": "permission revoked" }),
                    );
                    let frame: hub::Frame = Arc::from(String::from_utf8_lossy(&push).as_ref());
                    conn.push_or_close(hub::Outgoing::Unsubscribed { channel: channel.clone(), frame: Some(frame) });
                    tracing::info!(client = %conn.client_id, %channel, "permission revoked: unsubscribed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().expect("host"));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().expect("origin"));
        }
        headers
    }

    #[test]
    fn origins() {
        let mut settings = Settings::default();
        assert!(origin_allowed(&settings, &headers(None, "127.0.0.1:7070")), "no Origin: not a browser");
        assert!(origin_allowed(&settings, &headers(Some("http://127.0.0.1:7070"), "127.0.0.1:7070")), "same origin");
        assert!(!origin_allowed(&settings, &headers(Some("https://evil.example"), "127.0.0.1:7070")));
        assert!(!origin_allowed(&settings, &headers(Some("null"), "127.0.0.1:7070")));
        settings.public_url = Some("https://solo.example.com/".into());
        assert!(origin_allowed(&settings, &headers(Some("https://solo.example.com"), "10.0.0.1:7070")));
        settings.allowed_origins = "https://app.example.com, http://localhost:5173".into();
        assert!(origin_allowed(&settings, &headers(Some("http://localhost:5173"), "127.0.0.1:7070")));
        assert!(!origin_allowed(&settings, &headers(Some("https://evil.example"), "127.0.0.1:7070")));
        settings.allowed_origins = "*".into();
        assert!(origin_allowed(&settings, &headers(Some("https://evil.example"), "127.0.0.1:7070")));
    }
}
