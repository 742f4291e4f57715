//! The WebSocket opening handshake (RFC 6455, section 4.2), checked the same
//! way on both ways in:
//!
//! - the router's (`realtime::upgrade`, through hyper and the middleware), for
//!   every upgrade a client makes on a keep-alive connection, the
//!   unidirectional WebSocket, and anything the direct way leaves;
//! - the accept loop's direct way ([`serve_directly`]): a new TCP connection
//!   whose first bytes are a complete, valid upgrade to `/connection/websocket`
//!   is answered and handed to the engine without the HTTP stack. A reconnect
//!   storm is thousands of these a second, and hyper's connection, buffers,
//!   routing, middleware and upgrade hand-off (a task of its own) were a share
//!   of each connect's cost that the handshake does not need.
//!
//! Whatever the direct way does not take (another path, a request not yet
//! complete, a refusal) it leaves untouched in the socket for hyper: refusals
//! get their precise answer from the router, as before.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri};
use solo_realtime::protocol::Format;
use solo_realtime::websocket::accept_key;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::ApiError;
use crate::metrics::StatusLabels;
use crate::settings::Settings;
use crate::state::AppState;

/// Where clients open their WebSocket.
pub const WEBSOCKET_PATH: &str = "/connection/websocket";

/// What an upgraded socket is served as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// The SDKs' protocol.
    Bidirectional,
    /// A connect request in, pushes out (see `solo_realtime::stream`).
    Unidirectional,
}

/// Whether a browser page from `Origin` may open the WebSocket: no `Origin`
/// (not a browser), the server's own origin (same host, or `SOLO_PUBLIC_URL`),
/// or one listed in `SOLO_ALLOWED_ORIGINS` (`*`: any). Stops another site's page
/// from riding a signed-in user's cookies into a connection.
pub(crate) fn origin_allowed(settings: &Settings, headers: &HeaderMap) -> bool {
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

/// The subprotocols of the protocol's two formats, as the SDKs offer them
/// (centrifuge-js offers the protobuf one in its protobuf build).
const JSON_SUBPROTOCOL: &str = "centrifuge-json";
const PROTOBUF_SUBPROTOCOL: &str = "centrifuge-protobuf";

/// The longest request head the direct way reads; longer ones go to hyper.
const MAX_HEAD: usize = 4096;
/// Headers the direct way parses; a request with more goes to hyper.
const MAX_HEADERS: usize = 32;

/// An upgrade request that passed every check.
#[derive(Debug)]
pub(crate) struct Handshake {
    key: String,
    pub(crate) format: Format,
    /// The subprotocol to answer with, when the client offered one.
    subprotocol: Option<&'static str>,
}

impl Handshake {
    /// The headers of the `101 Switching Protocols` answer.
    pub(crate) fn response_headers(&self) -> Vec<(HeaderName, String)> {
        let mut headers = vec![
            (header::CONNECTION, "upgrade".to_owned()),
            (header::UPGRADE, "websocket".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept_key(&self.key)),
        ];
        if let Some(subprotocol) = self.subprotocol {
            headers.push((header::SEC_WEBSOCKET_PROTOCOL, subprotocol.to_owned()));
        }
        headers
    }

    /// The whole `101` answer as it goes on the wire.
    fn response(&self) -> Vec<u8> {
        let mut out = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        for (name, value) in self.response_headers() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Checks an upgrade request: Solo's origin rule, RFC 6455's headers, and the
/// format the client asks for; the refusal (403 or 400, with what is wrong)
/// otherwise.
pub(crate) fn check(
    settings: &Settings,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    served: Served,
) -> Result<Handshake, ApiError> {
    if !origin_allowed(settings, headers) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "WebSocket upgrade from a foreign origin refused");
        return Err(ApiError::Forbidden(
            "this origin may not open realtime connections (see SOLO_ALLOWED_ORIGINS)".into(),
        ));
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|k| k.to_str().ok());
    let problem = if method != Method::GET {
        Some("the request method must be GET")
    } else if !header_has(headers, header::CONNECTION, "upgrade") {
        Some("Connection header did not include 'upgrade'")
    } else if !header_has(headers, header::UPGRADE, "websocket") {
        Some("`Upgrade` header did not include 'websocket'")
    } else if headers.get(header::SEC_WEBSOCKET_VERSION).and_then(|v| v.to_str().ok()) != Some("13") {
        Some("`Sec-WebSocket-Version` header did not include '13'")
    } else if key.is_none() {
        Some("`Sec-WebSocket-Key` header missing")
    } else {
        None
    };
    let (format, subprotocol) = match (negotiate_format(uri, headers), served) {
        (Ok((Format::Protobuf, _)), Served::Unidirectional) => {
            return Err(ApiError::BadRequest("the unidirectional WebSocket speaks JSON only".into()));
        }
        (Ok(negotiated), _) => negotiated,
        (Err(problem), _) => return Err(ApiError::BadRequest(problem.into())),
    };
    match (key, problem) {
        (Some(key), None) => Ok(Handshake { key: key.to_owned(), format, subprotocol }),
        (_, problem) => Err(ApiError::BadRequest(format!(
            "expected a WebSocket upgrade: {}",
            problem.unwrap_or("`Sec-WebSocket-Key` header missing")
        ))),
    }
}

/// Whether `headers` hold `token` in the comma-separated list of `name`.
fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// The format a WebSocket client asks for: by subprotocol, or (as older
/// clients do) with `?format=json|protobuf`; JSON when it says nothing. The
/// subprotocol to answer with, if it offered one.
fn negotiate_format(uri: &Uri, headers: &HeaderMap) -> Result<(Format, Option<&'static str>), &'static str> {
    if header_has(headers, header::SEC_WEBSOCKET_PROTOCOL, PROTOBUF_SUBPROTOCOL) {
        return Ok((Format::Protobuf, Some(PROTOBUF_SUBPROTOCOL)));
    }
    if header_has(headers, header::SEC_WEBSOCKET_PROTOCOL, JSON_SUBPROTOCOL) {
        return Ok((Format::Json, Some(JSON_SUBPROTOCOL)));
    }
    let asked = uri.query().unwrap_or("").split('&').find_map(|pair| pair.strip_prefix("format="));
    match asked {
        None | Some("json") => Ok((Format::Json, None)),
        Some("protobuf") => Ok((Format::Protobuf, None)),
        Some(_) => Err("`format` must be json or protobuf"),
    }
}

/// What the direct way did with a new connection.
pub(crate) enum Direct {
    /// Upgraded and handed to the engine.
    Served,
    /// Not for the direct way: hyper serves it, nothing read from it yet.
    Declined(TcpStream),
    /// The client sent nothing in time, or went away.
    Gone,
}

/// How the requests the direct way takes begin. Anything else is declined
/// after one peek, before anything is read from the socket.
const DIRECT_PREFIX: &[u8] = b"GET /connection/websocket";

/// Serves a new connection's WebSocket upgrade without the HTTP stack, if its
/// first bytes are one (see the module's documentation). It waits for those
/// bytes at most `wait`, as hyper waits for a request's headers.
pub(crate) async fn serve_directly(state: &AppState, stream: TcpStream, wait: Duration) -> Direct {
    // On the heap: the connections hyper serves keep this task's future for
    // their whole life, and should not carry the buffer in it.
    let mut head = vec![0u8; MAX_HEAD];
    match tokio::time::timeout(wait, stream.peek(&mut head)).await {
        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => Direct::Gone,
        Ok(Ok(peeked)) if !head[..peeked].starts_with(DIRECT_PREFIX) => Direct::Declined(stream),
        Ok(Ok(peeked)) => serve_head(state, stream, head, peeked).await,
    }
}

/// The direct way once the request's first bytes matched: the head peeked is
/// checked, and either taken or left for hyper. Connecting costs the client's
/// requests two system calls here (the peek and one read) and none wasted:
/// the read that takes the request also notes that the socket is empty, so
/// the engine waits for the client's first frame instead of trying to read it.
async fn serve_head(state: &AppState, mut stream: TcpStream, mut head: Vec<u8>, peeked: usize) -> Direct {
    let Some((length, handshake)) = direct_upgrade(state.settings(), &head[..peeked]) else {
        return Direct::Declined(stream);
    };
    // The request's bytes are in the socket's buffer already (they were peeked);
    // whatever the client sent after it (its first frames) goes to the engine.
    let mut taken = 0;
    while taken < length {
        match solo_realtime::socket::try_read_tcp(&stream, &mut head[taken..]) {
            Ok(0) => return Direct::Gone,
            Ok(n) => taken += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stream.readable().await.is_err() {
                    return Direct::Gone;
                }
            }
            Err(_) => return Direct::Gone,
        }
    }
    if stream.write_all(&handshake.response()).await.is_err() {
        return Direct::Gone;
    }
    state.metrics().http_responses.get_or_create(&StatusLabels { class: "1xx" }).inc();
    let already_read = bytes::Bytes::copy_from_slice(&head[length..taken]);
    drop(head);
    // Served by a task of its own: this one, sized for the handshake, ends here.
    drop(tokio::spawn(state.engine().clone().serve_websocket(stream, already_read, handshake.format)));
    Direct::Served
}

/// The length of `head`'s request and its handshake, when `head` holds a
/// whole request that is a valid upgrade to the bidirectional WebSocket.
fn direct_upgrade(settings: &Settings, head: &[u8]) -> Option<(usize, Handshake)> {
    let mut parsed = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut parsed);
    let httparse::Status::Complete(length) = request.parse(head).ok()? else { return None };
    let target = request.path?;
    if request.method != Some("GET") || target.split('?').next() != Some(WEBSOCKET_PATH) {
        return None;
    }
    let uri: Uri = target.parse().ok()?;
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    for parsed in request.headers.iter() {
        let name = HeaderName::from_bytes(parsed.name.as_bytes()).ok()?;
        headers.append(name, HeaderValue::from_bytes(parsed.value).ok()?);
    }
    let handshake = check(settings, &Method::GET, &uri, &headers, Served::Bidirectional).ok()?;
    Some((length, handshake))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET /connection/websocket?format=protobuf HTTP/1.1\r\nHost: solo\r\n\
        Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

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

    #[test]
    fn a_whole_valid_upgrade_is_taken_and_everything_else_left_to_hyper() {
        let settings = Settings::default();
        let (length, handshake) = direct_upgrade(&settings, UPGRADE.as_bytes()).expect("taken");
        assert_eq!(length, UPGRADE.len());
        assert_eq!(handshake.format, Format::Protobuf);
        let response = String::from_utf8(handshake.response()).expect("text");
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{response}");
        assert!(response.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\n"));

        let with_frame = format!("{UPGRADE}\u{81}");
        assert_eq!(direct_upgrade(&settings, with_frame.as_bytes()).map(|(l, _)| l), Some(UPGRADE.len()));
        for declined in [
            &UPGRADE[..UPGRADE.len() - 2],
            "GET /healthz HTTP/1.1\r\nHost: solo\r\n\r\n",
            &UPGRADE.replace("/connection/websocket", "/connection/uni_websocket"),
            &UPGRADE.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            &UPGRADE.replace("format=protobuf", "format=xml"),
            &UPGRADE.replace("Host: solo\r\n", "Host: solo\r\nOrigin: https://evil.example\r\n"),
        ] {
            assert!(direct_upgrade(&settings, declined.as_bytes()).is_none(), "{declined:?}");
        }
    }
}
