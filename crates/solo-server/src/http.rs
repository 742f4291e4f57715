//! HTTP plumbing shared by every route: extractors whose rejections are API
//! errors, conditional responses for pollers, and the trace-id middleware.

use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use solo_domain::event::{new_trace_id, traceparent_ids};
use tracing::Instrument;

use crate::error::ApiError;

/// A JSON body. Not JSON → 400 `bad_request`; JSON of the wrong shape (unknown
/// field, wrong type, bad enum value) → 422 `invalid_body`; too large → 413;
/// not `application/json` → 415.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("could not read the body: {}", rejection.body_text()))
            }
        })?;
        // Parse in two steps so syntax errors and shape errors get different codes.
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
        // Every request body is an object. serde would also fill a struct from an
        // array by position (`[null, null]`), which no client means to send.
        if !value.is_object() {
            return Err(ApiError::Unprocessable {
                code: "invalid_body",
                message: "the body must be a JSON object".into(),
            });
        }
        T::deserialize(value)
            .map(ApiJson)
            .map_err(|e| ApiError::Unprocessable { code: "invalid_body", message: e.to_string() })
    }
}

/// A query string; malformed ones become [`ApiError::BadRequest`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// A path parameter; a path that does not parse is a 404, like a missing resource.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The trace id of the request being served: from its W3C `traceparent` header,
/// or new. It is in the span of every log line of the request and in the events
/// the request causes.
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

static X_POLL_INTERVAL: HeaderName = HeaderName::from_static("x-poll-interval");
static X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");

/// A JSON response that pollers can revalidate: it carries a strong `ETag` of its
/// bytes, and is a bodiless `304` when the client's `If-None-Match` already names
/// that ETag. ([`poll_interval`] adds `X-Poll-Interval` to every such response.)
pub fn conditional_json<T: Serialize>(request_headers: &HeaderMap, body: &T) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            return ApiError::Internal.into_response();
        }
    };
    let digest = Sha256::digest(&bytes);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let matches = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().trim_start_matches("W/"))
        .any(|v| v == etag || v == "*");
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    response
}

/// Tells pollers how often to come back (`X-Poll-Interval`, seconds) on every
/// response they can revalidate, i.e. every response with an `ETag`.
pub async fn poll_interval(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if response.headers().contains_key(header::ETAG) {
        response.headers_mut().insert(X_POLL_INTERVAL.clone(), HeaderValue::from(state.settings().poll_interval_secs));
    }
    response
}

/// Assigns the trace id, runs the request inside a span that carries it, logs one
/// line per request (WebSocket upgrades at debug level), and echoes the id in
/// `X-Trace-Id`.
pub async fn trace_requests(mut request: Request, next: Next) -> Response {
    let traceparent = request.headers().get("traceparent").and_then(|v| v.to_str().ok()).and_then(traceparent_ids);
    let (trace_id, parent_span) = match traceparent {
        Some((trace, parent)) => (trace, Some(parent)),
        None => (new_trace_id(), None),
    };
    request.extensions_mut().insert(TraceId(trace_id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // A WebSocket upgrade's span is at debug level: reconnect storms bring
    // thousands a second, and formatting each span's fields would cost more
    // than the rest of the upgrade.
    let span = if path == crate::realtime::WEBSOCKET_PATH {
        tracing::debug_span!("request", trace_id = %trace_id, %method, %path)
    } else {
        tracing::info_span!("request", trace_id = %trace_id, %method, %path)
    };
    // Exported spans (SOLO_OTLP_ENDPOINT) are in the request's trace, under its caller's span.
    solo_realtime::traces::join(&span, &trace_id, parent_span.as_deref());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request failed");
        } else if status == 101 {
            // A WebSocket upgrade: reconnect storms bring thousands a second, and
            // the connection's own lines (solo_realtime=debug) say the rest.
            tracing::debug!(status, elapsed_ms, "request");
        } else {
            tracing::info!(status, elapsed_ms, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert(X_TRACE_ID.clone(), value);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for TraceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<TraceId>().cloned().unwrap_or_else(|| TraceId(new_trace_id())))
    }
}

/// The address a request came from: the peer, or the last `X-Forwarded-For` hop
/// when `SOLO_TRUST_FORWARDED_FOR` is set.
#[derive(Debug, Clone, Copy)]
pub struct Source(pub std::net::IpAddr);

impl FromRequestParts<crate::state::AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Source(crate::limits::source_of(parts, state.limits().trust_forwarded_for())))
    }
}
