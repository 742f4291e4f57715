//! Properties of the parsers that read untrusted input, as functions of raw
//! bytes: the coverage-guided fuzz targets in `fuzz/` call them, and the test
//! suite replays the committed corpus (and every input that once failed)
//! through them on the stable toolchain. Each panics when a property breaks.

use solo_domain::{Channel, QuietHours, Severity};

use crate::auth::secrets::{hash_secret, looks_like_pat, PAT_PREFIX};
use crate::settings::parse_quiet_hours;
use solo_realtime::protocol::{self, Disconnect, Method};
use solo_realtime::token::{ConnectionTokens, TokenError};
use solo_realtime::websocket::{Decoder, FrameError, Message};

/// The key the token target verifies with; the seed corpus holds tokens signed with it.
pub const TOKEN_FUZZ_KEY: &[u8] = b"solo-fuzzing-key-not-a-secret-0123456789";

/// A WebSocket text frame: split into commands, and every channel name in them
/// parsed, as the connection reader does. Nothing may panic; a parsed channel
/// prints back to the name it came from.
pub fn frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for command in protocol::commands(text) {
        let command = match command {
            Ok(command) => command,
            Err(reason) => {
                assert_eq!(reason, Disconnect::BadRequest);
                assert_eq!(reason.code(), 3501);
                return;
            }
        };
        let mut names: Vec<&str> = Vec::new();
        match &command.method {
            Method::Connect(connect) => names.extend(connect.subs.keys().map(String::as_str)),
            Method::Subscribe(request) => names.push(&request.channel),
            Method::Unsubscribe(request)
            | Method::Publish(request)
            | Method::Presence(request)
            | Method::PresenceStats(request) => names.push(&request.channel),
            Method::SubRefresh(request) => names.push(&request.channel),
            Method::History(request) => names.push(&request.channel),
            Method::Pong | Method::Ping | Method::Send | Method::Rpc(_) | Method::Refresh(_) => {}
        }
        for name in names {
            if let Ok(channel) = Channel::parse_any(name) {
                assert_eq!(channel.to_string(), name, "a channel name round-trips");
            }
        }
    }
}

/// Largest message the WebSocket property accepts (small, so the fuzzer reaches the limit).
const WEBSOCKET_FUZZ_MAX: usize = 512;

/// Bytes from a client, as the WebSocket decoder reads them: the first byte
/// picks how the rest is cut into reads. Whatever the cut, the same messages
/// come out (or the same error); nothing panics; no message is larger than the
/// limit; a close code is what the client sent.
pub fn websocket(data: &[u8]) {
    let Some((&cut, wire)) = data.split_first() else { return };
    let whole = decode_all(wire, wire.len().max(1));
    let pieces = decode_all(wire, usize::from(cut % 16) + 1);
    assert_eq!(whole, pieces, "messages do not depend on how the bytes arrive");
    let (messages, _) = whole;
    for message in messages {
        match message {
            Message::Text(text) => assert!(text.len() <= WEBSOCKET_FUZZ_MAX),
            Message::Binary(bytes) | Message::Ping(bytes) => assert!(bytes.len() <= WEBSOCKET_FUZZ_MAX),
            Message::Pong | Message::Close(_) => {}
        }
    }
}

/// Every message `wire` decodes to when read `chunk` bytes at a time, and the
/// error that stopped it, if any.
fn decode_all(wire: &[u8], chunk: usize) -> (Vec<Message>, Option<FrameError>) {
    let mut decoder = Decoder::new(WEBSOCKET_FUZZ_MAX);
    let mut buf = bytes::BytesMut::new();
    let mut messages = Vec::new();
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
        }
    }
    (messages, None)
}

/// A connection token and an `Authorization` value. An arbitrary string never
/// verifies unless it is a token signed with the key; one that verifies has a
/// subject and a future expiry, and any change to its payload is refused.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let tokens = ConnectionTokens::new(TOKEN_FUZZ_KEY, 600);
    match tokens.verify(text) {
        Ok(claims) => {
            assert!(!claims.sub.is_empty(), "a verified token names its user");
            assert!(claims.exp > solo_domain::time::now_ms() / 1000, "a verified token has not expired");
            let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
            assert_eq!(parts.len(), 3, "a verified token is header.payload.signature");
            parts[1].push('A');
            assert_eq!(tokens.verify(&parts.join(".")), Err(TokenError::Invalid), "a tampered payload is refused");
        }
        Err(TokenError::Expired | TokenError::Invalid) => {}
    }
    if looks_like_pat(text) {
        assert!(text.starts_with(PAT_PREFIX) && text.is_ascii());
        assert_eq!(hash_secret(text).len(), 64);
    }
}

/// Quiet hours from the server setting (`22:00-07:00 Europe/Paris`) and from an
/// API body (JSON): whatever parses validates, and deciding whether a moment
/// is quiet never panics, at any instant, in any zone.
pub fn quiet_hours(data: &[u8]) {
    let instants = [i64::MIN, -1, 0, 1_700_000_000_000, 4_102_444_800_000, i64::MAX];
    let mut parsed: Vec<QuietHours> = Vec::new();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(quiet) = parse_quiet_hours(text) {
            assert!(!quiet.enabled || quiet.validate().is_ok(), "a parsed setting is valid");
            parsed.push(quiet);
        }
        if let Ok(minutes) = solo_domain::notification::parse_time_of_day(text) {
            assert!(minutes < 24 * 60);
            let printed = format!("{:02}:{:02}", minutes / 60, minutes % 60);
            assert_eq!(printed, text, "a time of day round-trips");
        }
    }
    if let Ok(quiet) = serde_json::from_slice::<QuietHours>(data) {
        parsed.push(quiet);
    }
    for quiet in parsed {
        for at in instants {
            let _ = quiet.is_quiet(at, Severity::Info);
            assert!(!quiet.is_quiet(at, Severity::Urgent) || !quiet.allow_urgent, "urgent passes when allowed");
        }
    }
}
