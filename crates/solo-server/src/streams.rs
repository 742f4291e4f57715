//! The realtime engine's HTTP transports (see `solo_realtime::stream`):
//! Centrifugo's endpoints for SDKs behind networks that refuse WebSocket
//! (`/connection/http_stream`, `/connection/sse`, with `/emulation` for the
//! commands the SDK sends afterwards) and for consumers with no SDK
//! (`/connection/uni_http_stream`, `/connection/uni_sse`: a token in, the
//! user's pushes out, e.g. `curl -N`).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use solo_realtime::bus::Control;
use solo_realtime::protobuf;
use solo_realtime::stream::{Direction, StreamError, StreamFormat};

use crate::error::ApiError;
use crate::handshake::origin_allowed;
use crate::http::{ApiJson, ApiQuery};
use crate::state::AppState;

pub const HTTP_STREAM_PATH: &str = "/connection/http_stream";
pub const SSE_PATH: &str = "/connection/sse";
pub const UNI_HTTP_STREAM_PATH: &str = "/connection/uni_http_stream";
pub const UNI_SSE_PATH: &str = "/connection/uni_sse";
/// Where the SDK posts its commands for a bidirectional stream (centrifuge-js's default).
pub const EMULATION_PATH: &str = "/emulation";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HTTP_STREAM_PATH, post(http_stream))
        .route(SSE_PATH, post(sse).get(sse))
        .route(UNI_HTTP_STREAM_PATH, post(uni_http_stream))
        .route(UNI_SSE_PATH, post(uni_sse).get(uni_sse))
        .route(EMULATION_PATH, post(emulation))
}

/// The connect request an SSE client cannot send in a body (`EventSource` only GETs).
#[derive(Debug, Deserialize)]
struct ConnectQuery {
    cf_connect: Option<String>,
}

/// An SDK in the protobuf format posts its connect as `application/octet-stream`
/// and reads length-delimited replies; in JSON, newline-separated JSON.
async fn http_stream(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let format = if is_protobuf(&headers) { StreamFormat::ProtobufStream } else { StreamFormat::HttpStream };
    open(&state, &headers, format, Direction::Bidirectional, &body).await
}

/// Whether the request's body is in the protobuf format (`application/octet-stream`).
fn is_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"))
}

async fn uni_http_stream(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    open(&state, &headers, StreamFormat::HttpStream, Direction::Unidirectional, &body).await
}

async fn sse(
    State(state): State<AppState>,
    method: Method,
    ApiQuery(query): ApiQuery<ConnectQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let first = connect_of(&method, query, body);
    open(&state, &headers, StreamFormat::Sse, Direction::Bidirectional, &first).await
}

async fn uni_sse(
    State(state): State<AppState>,
    method: Method,
    ApiQuery(query): ApiQuery<ConnectQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let first = connect_of(&method, query, body);
    open(&state, &headers, StreamFormat::Sse, Direction::Unidirectional, &first).await
}

/// An SSE stream's connect: `cf_connect` in the URL (GET), or the body (POST).
fn connect_of(method: &Method, query: ConnectQuery, body: Bytes) -> Bytes {
    if *method == Method::GET {
        query.cf_connect.map(Bytes::from).unwrap_or_default()
    } else {
        body
    }
}

/// Opens a stream and answers with it as the response body.
async fn open(
    state: &AppState,
    headers: &HeaderMap,
    format: StreamFormat,
    direction: Direction,
    first: &[u8],
) -> Response {
    if !origin_allowed(state.settings(), headers) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "realtime stream from a foreign origin refused");
        return ApiError::Forbidden("this origin may not open realtime connections (see SOLO_ALLOWED_ORIGINS)".into())
            .into_response();
    }
    // EventSource's habit after a dropped stream: ask again from the last event seen.
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let body = match state.engine().open_stream(format, direction, first, last_event_id).await {
        Ok(body) => body,
        Err(e) => return stream_error(e).into_response(),
    };
    let content_type = match format {
        StreamFormat::Sse => "text/event-stream; charset=utf-8",
        // (A WebSocket is not served here: see `realtime::uni_websocket`.)
        StreamFormat::HttpStream | StreamFormat::WebSocket => "application/x-ndjson",
        StreamFormat::ProtobufStream => "application/octet-stream",
    };
    let mut response = Response::new(Body::from_stream(body.map(Ok::<_, Infallible>)));
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    // Proxies that buffer responses (nginx) would hold every push back.
    out.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn stream_error(error: StreamError) -> ApiError {
    match error {
        StreamError::BadConnect(problem) => ApiError::BadRequest(format!("cannot open a realtime stream: {problem}")),
        StreamError::BadCommands(problem) => ApiError::BadRequest(format!("cannot emulate the commands: {problem}")),
        StreamError::TooLarge(_) => ApiError::PayloadTooLarge,
        StreamError::UnknownSession => ApiError::NotFound("realtime session"),
        StreamError::Io(e) => {
            tracing::warn!(error = %e, "cannot open a realtime stream");
            ApiError::Unavailable
        }
    }
}

/// Commands of an SDK on a bidirectional stream (centrifuge-js posts
/// `{"session", "node", "data"}`, `data` being its encoded commands; in the
/// protobuf format the same fields as an `EmulationRequest` message).
#[derive(Debug, Deserialize)]
struct EmulationRequest {
    session: String,
    #[serde(default)]
    node: String,
    data: String,
}

/// An emulation request in either format.
struct Emulation {
    session: String,
    node: String,
    data: Vec<u8>,
}

impl<S: Send + Sync> FromRequest<S> for Emulation {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_protobuf(request.headers()) {
            let ApiJson(EmulationRequest { session, node, data }) = ApiJson::from_request(request, state).await?;
            return Ok(Emulation { session, node, data: data.into_bytes() });
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("could not read the body: {}", rejection.body_text()))
            }
        })?;
        let message = <protobuf::EmulationRequest as prost::Message>::decode(body)
            .map_err(|e| ApiError::BadRequest(format!("malformed EmulationRequest: {e}")))?;
        Ok(Emulation { session: message.session, node: message.node, data: message.data })
    }
}

/// Hands the commands to the stream they belong to: on this node directly, on
/// another through the bus (the load balancer need not be sticky).
async fn emulation(State(state): State<AppState>, request: Emulation) -> Response {
    let engine = state.engine();
    let Emulation { session, node, data } = request;
    if node.is_empty() || node == engine.node_id() || engine.has_session(&session) {
        return match engine.emulate(&session, &data).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => stream_error(e).into_response(),
        };
    }
    if data.len() > engine.config().max_message_bytes {
        return ApiError::PayloadTooLarge.into_response();
    }
    match state.bus().control(&Control::Emulate { node, session, data }).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot hand emulated commands to another node");
            ApiError::Unavailable.into_response()
        }
    }
}
