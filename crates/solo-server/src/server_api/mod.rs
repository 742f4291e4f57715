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
//! `POST /centrifugo/api` itself takes Centrifugo's older command format,
//! which server clients still send for pipelines (cent.js's `pipeline`):
//! newline-separated `{"method": …, "params": {…}}`, answered line for line
//! with `{"result": …}` or `{"error": …}`.
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

/// The route of every method (`batch` included), and of the command lines.
pub fn router() -> Router<AppState> {
    Router::new().route("/centrifugo/api", any(handle_lines)).route("/centrifugo/api/{method}", any(handle))
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

/// The response that refuses a request before its body is read, if any: the
/// API must be on, the request a POST within the source's failure budget,
/// with the key.
fn refusal(state: &AppState, source: std::net::IpAddr, http_method: &Method, headers: &HeaderMap) -> Option<Response> {
    let Some(key) = state.settings().server_api_key.clone() else {
        // Off: as if the route did not exist.
        return Some(ApiError::NotFound("route").into_response());
    };
    if *http_method != Method::POST {
        return Some(ApiError::MethodNotAllowed.into_response());
    }
    if let Err(refused) = state.limits().check_source(source) {
        return Some(refused.into_response());
    }
    if !key_matches(headers, key.expose()) {
        state.limits().record_failure(source);
        tracing::info!(%source, "server API: missing or wrong API key");
        return Some(
            MethodError::new(error_code::UNAUTHORIZED, "unauthorized: send the API key in X-API-Key")
                .with_status(StatusCode::UNAUTHORIZED),
        );
    }
    None
}

async fn handle(
    State(state): State<AppState>,
    Source(source): Source,
    trace: TraceId,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = refusal(&state, source, &http_method, &headers) {
        return refused;
    }
    let bytes = match read_body(&state, &headers, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    let params = match json_object(&bytes) {
        Ok(params) => params,
        Err(e) => return e.with_status(StatusCode::BAD_REQUEST),
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
    Json(answer(&method, calls.call(&method, params).await)).into_response()
}

/// A method's answer: `{"result": …}`, or its error (logged at debug).
fn answer(method: &str, outcome: Outcome) -> Value {
    match outcome {
        Ok(result) => json!({ "result": result }),
        Err(e) => {
            tracing::debug!(%method, code = e.code, message = %e.message, "server API call refused");
            e.body()
        }
    }
}

/// One line of the older command format.
#[derive(serde::Deserialize)]
struct CommandLine {
    method: String,
    #[serde(default)]
    params: Map<String, Value>,
}

/// Runs the command lines of the body in order; each gets its answer line,
/// a line that is not a command (or a `batch` inside them) its error.
async fn handle_lines(
    State(state): State<AppState>,
    Source(source): Source,
    trace: TraceId,
    http_method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = refusal(&state, source, &http_method, &headers) {
        return refused;
    }
    let bytes = match read_body(&state, &headers, body).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
    let calls = methods::Calls { state: &state, trace_id: &trace.0 };
    let mut answers = Vec::new();
    for line in bytes.split(|&b| b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace)) {
        // An unknown method is `call`'s to refuse (104), as for `/centrifugo/api/{method}`.
        let answer = match serde_json::from_slice::<CommandLine>(line) {
            Err(e) => MethodError::bad_request(format_args!("a line is not a command: {e}")).body(),
            Ok(command) if command.method == "batch" => {
                MethodError::bad_request("command lines cannot hold a batch").body()
            }
            Ok(command) => answer(&command.method, calls.call(&command.method, command.params).await),
        };
        answers.push(answer.to_string());
    }
    ([(header::CONTENT_TYPE, "application/json")], answers.join("\n")).into_response()
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

/// The body, or the response that refuses it: 413 past `SOLO_MAX_BODY_BYTES`,
/// 400 when it cannot be read.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Response> {
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
    match axum::body::to_bytes(body, max).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if is_length_limit(&e) => Err(too_large()),
        Err(e) => Err(MethodError::bad_request(format_args!("the body could not be read: {e}"))
            .with_status(StatusCode::BAD_REQUEST)),
    }
}

/// The body as a JSON object (an empty body is `{}`, as `info` needs nothing).
fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, MethodError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(params)) => Ok(params),
        Ok(_) => Err(MethodError::bad_request("the body must be a JSON object")),
        Err(e) => Err(MethodError::bad_request(format_args!("the body is not JSON: {e}"))),
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
