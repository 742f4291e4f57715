//! The Centrifugo-compatible server API, for backends: `POST
//! /centrifugo/api/{method}` with the method's parameters as the JSON body,
//! authenticated by `SOLO_SERVER_API_KEY` (`X-API-Key: KEY` or
//! `Authorization: apikey KEY`), so Centrifugo's official server clients
//! (`cent` for Python, `cent.js`) work unchanged.
//!
//! Replies have Centrifugo's shape: HTTP 200 with `{"result": {…}}` or
//! `{"error": {"code", "message"}}` (its error numbers); `batch` answers
//! `{"replies": [{"<method>": {…}} | {"error": {…}}]}`. What is not a method
//! call gets an HTTP status as well: 401 (no or wrong key), 404 (API off,
//! unknown method), 405, 413 (body over `SOLO_MAX_BODY_BYTES`), 400 (not JSON).
//!
//! - [`methods`]: every method, on the store, the bus and the engine.
//! - [`params`]: the methods' parameters, checked.

mod methods;
mod params;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use solo_realtime::protocol::error_code;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::http::{Source, TraceId};
use crate::state::AppState;

/// The route of every method (`batch` included).
pub fn router() -> Router<AppState> {
    Router::new().route("/centrifugo/api/{method}", any(handle))
}

/// A method's failure, as Centrifugo reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MethodError {
    pub code: u32,
    pub message: String,
}

impl MethodError {
    pub(crate) fn new(code: u32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl std::fmt::Display) -> Self {
        Self::new(error_code::BAD_REQUEST, format!("bad request: {message}"))
    }

    fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }

    /// The error with an HTTP status of its own (not a method's answer).
    fn with_status(&self, status: StatusCode) -> Response {
        (status, Json(self.body())).into_response()
    }
}

pub(crate) type Outcome = Result<Value, MethodError>;

async fn handle(
    State(state): State<AppState>,
    Source(source): Source,
    trace: TraceId,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(key) = state.settings().server_api_key.clone() else {
        // Off: as if the route did not exist.
        return ApiError::NotFound("route").into_response();
    };
    if http_method != Method::POST {
        return ApiError::MethodNotAllowed.into_response();
    }
    if let Err(refused) = state.limits().check_source(source) {
        return refused.into_response();
    }
    if !key_matches(&headers, key.expose()) {
        state.limits().record_failure(source);
        tracing::info!(%source, "server API: missing or wrong API key");
        return MethodError::new(error_code::UNAUTHORIZED, "unauthorized: send the API key in X-API-Key")
            .with_status(StatusCode::UNAUTHORIZED);
    }
    let params = match read_json(&state, &headers, body).await {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let calls = methods::Calls { state: &state, trace_id: &trace.0 };
    if method == "batch" {
        return match calls.batch(params).await {
            Ok(replies) => Json(replies).into_response(),
            Err(e) => e.with_status(StatusCode::BAD_REQUEST),
        };
    }
    if !methods::is_method(&method) {
        return MethodError::new(error_code::METHOD_NOT_FOUND, format!("method not found: `{method}`"))
            .with_status(StatusCode::NOT_FOUND);
    }
    let answer = match calls.call(&method, params).await {
        Ok(result) => json!({ "result": result }),
        Err(e) => {
            tracing::debug!(%method, code = e.code, message = %e.message, "server API call refused");
            e.body()
        }
    };
    Json(answer).into_response()
}

/// Whether the request carries `key` (`X-API-Key`, or `Authorization: apikey`).
/// Compared as SHA-256 digests in constant time, so neither the key's content
/// nor its length shows in the time a wrong guess takes.
fn key_matches(headers: &HeaderMap, key: &str) -> bool {
    let from_authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("apikey").then(|| rest.trim())
    });
    let given = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).or(from_authorization);
    let Some(given) = given else { return false };
    let (given, expected) = (Sha256::digest(given.as_bytes()), Sha256::digest(key.as_bytes()));
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

/// The body as a JSON object (an empty body is `{}`, as `info` needs nothing),
/// or the response that refuses it: 413 past `SOLO_MAX_BODY_BYTES`, 400 when
/// it is not a JSON object.
async fn read_json(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, Response> {
    let max = state.settings().max_body_bytes;
    let too_large = || {
        MethodError::new(
            error_code::BAD_REQUEST,
            format!("bad request: the body is larger than {max} bytes (SOLO_MAX_BODY_BYTES)"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(bytes) => bytes,
        Err(e) if is_length_limit(&e) => return Err(too_large()),
        Err(e) => {
            return Err(MethodError::bad_request(format_args!("the body could not be read: {e}"))
                .with_status(StatusCode::BAD_REQUEST))
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(params)) => Ok(params),
        Ok(_) => Err(MethodError::bad_request("the body must be a JSON object").with_status(StatusCode::BAD_REQUEST)),
        Err(e) => {
            Err(MethodError::bad_request(format_args!("the body is not JSON: {e}"))
                .with_status(StatusCode::BAD_REQUEST))
        }
    }
}

/// Whether reading the body stopped at the size limit.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.to_string().contains("length limit exceeded") {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn the_key_comes_in_either_header_and_must_match_exactly() {
        let key = "0123456789abcdef-key";
        assert!(key_matches(&headers(&[("x-api-key", key)]), key));
        assert!(key_matches(&headers(&[("authorization", &format!("apikey {key}"))]), key));
        assert!(key_matches(&headers(&[("authorization", &format!("ApiKey {key}"))]), key));
        assert!(!key_matches(&headers(&[]), key));
        assert!(!key_matches(&headers(&[("x-api-key", "0123456789abcdef-ke")]), key));
        assert!(!key_matches(&headers(&[("authorization", &format!("Bearer {key}"))]), key));
        assert!(!key_matches(&headers(&[("authorization", key)]), key));
    }
}
