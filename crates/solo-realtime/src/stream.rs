//! The HTTP transports of the Centrifugo protocol, for networks that refuse
//! WebSocket and for consumers with no SDK: Server-Sent Events and
//! HTTP-streaming (newline-delimited JSON, or length-delimited protobuf
//! replies for an SDK that speaks protobuf), each one of
//!
//! - **bidirectional by emulation**: the SDK's first commands (its `connect`)
//!   open the stream; its later commands (subscribes, pongs, …) arrive as
//!   POSTs to the emulation endpoint, addressed by the session id the connect
//!   reply carries, which only that client knows ([`Engine::emulate`]);
//! - **unidirectional**: a connect request opens the stream (its token, and
//!   the channels to follow with their positions, by default the user's
//!   notifications), and the client only reads.
//!
//! Each stream is an ordinary engine connection: the engine serves one end of
//! a local socket pair exactly as it serves a WebSocket client's TCP socket
//! (same commands, permissions, offsets, recovery, pings, per-user limits and
//! slow-consumer close), and a relay task on the other end turns the engine's
//! frames into the stream's format for the HTTP response. Backpressure carries
//! through: a client that stops reading stops the response body, the relay
//! stops reading the pair, and the engine's write path closes the connection
//! with 3008 as it would a WebSocket client. A stream costs a socket pair, a
//! relay task and a copy per message more than a WebSocket connection; it is
//! the fallback, not the hot path.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::mpsc;

use crate::protobuf;
use crate::protocol::Format;
use crate::websocket::{
    self, close_frame, decode_server_frame, loopback_client_frame, text_frame, Decoder, Message, ServerFrame,
};
use crate::Engine;

/// Chunks of the response body waiting for the HTTP server: past them the
/// relay stops reading the socket pair and the engine's backlog takes over.
const BODY_QUEUE: usize = 16;
/// Bytes read from the socket pair in one go (on the stack: an idle stream's
/// relay keeps no read buffer).
const READ_CHUNK: usize = 4096;

/// How a stream writes each message on the HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// `text/event-stream`: `data: MESSAGE` and a blank line.
    Sse,
    /// One JSON message per line.
    HttpStream,
    /// Length-delimited protobuf replies, one after another (the protobuf
    /// format's HTTP-streaming; bidirectional only).
    ProtobufStream,
    /// A WebSocket text frame per message (the unidirectional WebSocket, whose
    /// client sends nothing after its connect request).
    WebSocket,
}

impl StreamFormat {
    /// The protocol format the stream's connection speaks.
    fn protocol(self) -> Format {
        match self {
            StreamFormat::ProtobufStream => Format::Protobuf,
            StreamFormat::Sse | StreamFormat::HttpStream | StreamFormat::WebSocket => Format::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The SDK's protocol, with client commands through [`Engine::emulate`].
    Bidirectional,
    /// Pushes only: the connect result, publications, disconnect.
    Unidirectional,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the connect request is not valid: {0}")]
    BadConnect(&'static str),
    #[error("the commands are not valid: {0}")]
    BadCommands(&'static str),
    #[error("the message is larger than {0} bytes")]
    TooLarge(usize),
    #[error("no realtime session with this id is open on this node")]
    UnknownSession,
    #[error("cannot open the stream's socket pair: {0}")]
    Io(#[from] io::Error),
}

/// A bidirectional stream's way in: the format its connection speaks, and the
/// write end of its socket pair.
type SessionInput = (Format, Arc<tokio::sync::Mutex<OwnedWriteHalf>>);

/// The inputs of this node's bidirectional streams, by session id.
#[derive(Default)]
pub(crate) struct EmulatedSessions {
    sessions: Mutex<HashMap<Arc<str>, SessionInput>>,
}

impl EmulatedSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, SessionInput>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine {
    /// Opens a stream: `first` is, for a bidirectional stream, the SDK's first
    /// commands (its `connect` among them: newline-separated JSON, or
    /// length-delimited protobuf for [`StreamFormat::ProtobufStream`]), and for
    /// a unidirectional one a connect request (`{"token": …, "subs": {…}}`).
    /// `last_event_id` (unidirectional SSE) is the position the client's last
    /// stream reached, as this module writes it in each publication's `id:`;
    /// the stream recovers from it. Returns the response body.
    pub async fn open_stream(
        self: &Arc<Self>,
        format: StreamFormat,
        direction: Direction,
        first: &[u8],
        last_event_id: Option<&str>,
    ) -> Result<impl Stream<Item = Bytes> + Send + 'static, StreamError> {
        let limit = self.config().max_message_bytes;
        if first.len() > limit {
            return Err(StreamError::TooLarge(limit));
        }
        let protocol = format.protocol();
        let commands = match (direction, protocol) {
            (Direction::Bidirectional, Format::Json) => {
                let text = std::str::from_utf8(first).map_err(|_| StreamError::BadConnect("not UTF-8"))?;
                if text.trim().is_empty() {
                    return Err(StreamError::BadConnect("no connect command"));
                }
                first.to_vec()
            }
            (Direction::Bidirectional, Format::Protobuf) if first.is_empty() => {
                return Err(StreamError::BadConnect("no connect command"));
            }
            (Direction::Bidirectional, Format::Protobuf) => first.to_vec(),
            (Direction::Unidirectional, Format::Json) => {
                self.unidirectional_connect(first, last_event_id)?.into_bytes()
            }
            (Direction::Unidirectional, Format::Protobuf) => {
                return Err(StreamError::BadConnect("unidirectional streams speak JSON"));
            }
        };
        let (engine_end, relay_end) = UnixStream::pair()?;
        tokio::spawn(self.clone().serve_socket(engine_end.into(), Bytes::new(), protocol));
        let (reader, mut writer) = relay_end.into_split();
        writer.write_all(&loopback_client_frame(protocol == Format::Protobuf, &commands)).await?;
        let (session, pongs) = match direction {
            Direction::Bidirectional => {
                let session: Arc<str> = Arc::from(format!("{:032x}", rand::random::<u128>()));
                let input = (protocol, Arc::new(tokio::sync::Mutex::new(writer)));
                self.emulated.lock().insert(session.clone(), input);
                (Some(session), None)
            }
            Direction::Unidirectional => (None, Some(writer)),
        };
        let (body, chunks) = mpsc::channel(BODY_QUEUE);
        let relay = Relay {
            engine: self.clone(),
            format,
            direction,
            session,
            pongs,
            connected: false,
            positions: BTreeMap::new(),
        };
        tokio::spawn(relay.run(reader, body));
        Ok(futures::stream::unfold(
            chunks,
            |mut chunks| async move { chunks.recv().await.map(|chunk| (chunk, chunks)) },
        ))
    }

    /// Hands commands a client sent to the emulation endpoint to its stream's
    /// connection, as if they had arrived on a WebSocket. `data` holds the
    /// commands as the SDK encoded them, in its stream's format
    /// (newline-separated JSON, or length-delimited protobuf).
    pub async fn emulate(&self, session: &str, data: &[u8]) -> Result<(), StreamError> {
        let limit = self.config().max_message_bytes;
        if data.len() > limit {
            return Err(StreamError::TooLarge(limit));
        }
        let (protocol, writer) = self.emulated.lock().get(session).cloned().ok_or(StreamError::UnknownSession)?;
        if protocol == Format::Json && std::str::from_utf8(data).is_err() {
            return Err(StreamError::BadCommands("JSON commands that are not UTF-8"));
        }
        let frame = loopback_client_frame(protocol == Format::Protobuf, data);
        let mut writer = writer.lock().await;
        writer.write_all(&frame).await.map_err(|_| StreamError::UnknownSession)
    }

    /// Whether `session` is one of this node's streams.
    pub fn has_session(&self, session: &str) -> bool {
        self.emulated.lock().contains_key(session)
    }

    /// The connect command of a unidirectional stream: the request's channels
    /// (by default the user's notifications), recovering from `last_event_id`.
    fn unidirectional_connect(&self, request: &[u8], last_event_id: Option<&str>) -> Result<String, StreamError> {
        let mut request: Map<String, Value> = if request.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            serde_json::from_slice(request).map_err(|_| StreamError::BadConnect("not a JSON object"))?
        };
        let token = request.get("token").and_then(Value::as_str).map(str::to_owned);
        let Value::Object(subs) = request.entry("subs").or_insert_with(|| json!({})) else {
            return Err(StreamError::BadConnect("subs is not an object"));
        };
        if let Some(positions) = last_event_id.filter(|id| !id.trim().is_empty()) {
            let positions: BTreeMap<String, Position> = serde_json::from_str(positions)
                .map_err(|_| StreamError::BadConnect("Last-Event-ID is not a position"))?;
            for (channel, Position { offset, epoch }) in positions {
                subs.insert(channel, json!({ "recover": true, "offset": offset, "epoch": epoch }));
            }
        }
        if subs.is_empty() {
            // A consumer with only a token wants its own inbox. An invalid
            // token gets no default: the engine refuses the connect anyway.
            if let Some(claims) = token.and_then(|token| self.tokens().verify(&token).ok()) {
                subs.insert(format!("notifications:{}", claims.sub), json!({}));
            }
        }
        serde_json::to_string(&json!({ "id": 1, "connect": request })).map_err(|_| StreamError::BadConnect("not JSON"))
    }
}

/// How long the first message of a unidirectional WebSocket (its connect
/// request) may take, and how long a write to it may stall.
const UNI_WEBSOCKET_WAIT: Duration = Duration::from_secs(10);

impl Engine {
    /// Serves a unidirectional WebSocket (Centrifugo's `uni_websocket`) on an
    /// upgraded socket: its first text message is a connect request, as for
    /// the other unidirectional streams; after it the server only pushes, and
    /// the client's pings are answered and its close echoed.
    pub async fn serve_uni_websocket(self: Arc<Self>, mut socket: TcpStream, already_read: Bytes) {
        let mut buf = BytesMut::from(&already_read[..]);
        drop(already_read);
        let mut decoder = Decoder::new(self.config().max_message_bytes);

        let first =
            match tokio::time::timeout(UNI_WEBSOCKET_WAIT, first_text(&mut socket, &mut decoder, &mut buf)).await {
                Ok(Ok(first)) => first,
                Ok(Err(code)) => {
                    let _ = socket.write_all(&close_frame(code, "bad request")).await;
                    return;
                }
                Err(_) => {
                    let _ = socket.write_all(&close_frame(3502, "stale")).await;
                    return;
                }
            };
        let body =
            match self.open_stream(StreamFormat::WebSocket, Direction::Unidirectional, first.as_bytes(), None).await {
                Ok(body) => body,
                Err(e) => {
                    tracing::debug!(error = %e, "unidirectional WebSocket refused");
                    let _ = socket.write_all(&close_frame(3501, "bad request")).await;
                    return;
                }
            };
        pump_uni_websocket(socket, decoder, buf, body).await;
    }
}

/// The first text message of a WebSocket; the close code to answer otherwise.
async fn first_text(socket: &mut TcpStream, decoder: &mut Decoder, buf: &mut BytesMut) -> Result<String, u16> {
    loop {
        match decoder.decode(buf) {
            Ok(Some(Message::Text(text))) => return Ok(text),
            Ok(Some(Message::Ping(payload))) => {
                socket.write_all(&websocket::pong_frame(&payload)).await.map_err(|_| 1006u16)?;
            }
            Ok(Some(Message::Close(_))) => return Err(1000),
            Ok(Some(Message::Binary(_) | Message::Pong)) => return Err(3501),
            Ok(None) => match socket.read_buf(buf).await {
                Ok(0) | Err(_) => return Err(1006),
                Ok(_) => {}
            },
            Err(e) => return Err(e.close_code()),
        }
    }
}

/// Writes the stream's frames to the client while answering what it sends
/// (pings; a close ends it). A write that stalls past [`UNI_WEBSOCKET_WAIT`]
/// ends it too: the client stopped reading.
async fn pump_uni_websocket(
    mut socket: TcpStream,
    mut decoder: Decoder,
    mut buf: BytesMut,
    body: impl Stream<Item = Bytes> + Send,
) {
    let mut body = std::pin::pin!(body);
    loop {
        tokio::select! {
            chunk = body.next() => {
                let Some(chunk) = chunk else { break };
                if !matches!(tokio::time::timeout(UNI_WEBSOCKET_WAIT, socket.write_all(&chunk)).await, Ok(Ok(()))) {
                    return;
                }
            }
            read = socket.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(Message::Ping(payload))) => {
                            if socket.write_all(&websocket::pong_frame(&payload)).await.is_err() {
                                return;
                            }
                        }
                        Ok(Some(Message::Close(code))) => {
                            let _ = socket.write_all(&close_frame(code.unwrap_or(1000), "")).await;
                            return;
                        }
                        // A one-way stream: whatever else the client sends is not read.
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            let _ = socket.write_all(&close_frame(e.close_code(), "")).await;
                            return;
                        }
                    }
                }
                if buf.is_empty() {
                    buf = BytesMut::new();
                }
            }
        }
    }
    let _ = socket.shutdown().await;
}

/// Where a unidirectional stream's channel stands, as written in each SSE
/// event's `id:` (a JSON object of these by channel) and read back from
/// `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
struct Position {
    offset: u64,
    #[serde(default)]
    epoch: String,
}

/// A reply of the engine, as much as a relay looks into it.
#[derive(Deserialize)]
struct EngineReply<'a> {
    #[serde(borrow, default)]
    connect: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    push: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ConnectPositions {
    #[serde(default)]
    subs: BTreeMap<String, Position>,
}

#[derive(Deserialize)]
struct PushPosition {
    #[serde(default)]
    channel: String,
    #[serde(default, rename = "pub")]
    publication: Option<PublicationOffset>,
    #[serde(default)]
    subscribe: Option<Position>,
    #[serde(default)]
    unsubscribe: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct PublicationOffset {
    #[serde(default)]
    offset: u64,
}

/// The task between the engine's end of the socket pair and the response body.
struct Relay {
    engine: Arc<Engine>,
    format: StreamFormat,
    direction: Direction,
    /// A bidirectional stream's session id (its connect reply carries it).
    session: Option<Arc<str>>,
    /// A unidirectional stream answers the engine's pings itself, here.
    pongs: Option<OwnedWriteHalf>,
    connected: bool,
    /// A unidirectional stream's position on each channel, for SSE event ids.
    positions: BTreeMap<String, Position>,
}

/// What a relay does after one of the engine's messages.
enum Next {
    Go,
    /// The stream is over (a unidirectional connect failed).
    End,
}

impl Relay {
    async fn run(mut self, reader: OwnedReadHalf, body: mpsc::Sender<Bytes>) {
        let mut buf = BytesMut::new();
        'serve: loop {
            let mut chunk = BytesMut::new();
            let mut ended = false;
            loop {
                match decode_server_frame(&mut buf) {
                    Ok(Some(ServerFrame::Text(message))) => {
                        if let Next::End = self.on_message(&message, &mut chunk).await {
                            ended = true;
                            break;
                        }
                    }
                    Ok(Some(ServerFrame::Binary(replies))) => self.on_protobuf(&replies, &mut chunk),
                    Ok(Some(ServerFrame::Close(code, reason))) => {
                        self.on_close(code, &reason, &mut chunk);
                        ended = true;
                        break;
                    }
                    Ok(Some(ServerFrame::Other)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        tracing::warn!("the engine's frames on a stream could not be read; ending it");
                        ended = true;
                        break;
                    }
                }
            }
            if !chunk.is_empty() && body.send(chunk.freeze()).await.is_err() {
                break 'serve;
            }
            if ended {
                break;
            }
            if buf.is_empty() {
                // What was read is written: an idle relay holds no buffer.
                buf = BytesMut::new();
            }
            tokio::select! {
                ready = reader.readable() => {
                    if ready.is_err() {
                        break;
                    }
                    let mut read = [0u8; READ_CHUNK];
                    match crate::socket::try_read_local(reader.as_ref(), &mut read) {
                        Ok(0) => break,
                        Ok(n) => buf.extend_from_slice(&read[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                },
                // The client went away: ending here closes the pair, and the engine lets the connection go.
                () = body.closed() => break,
            }
        }
        if let Some(session) = &self.session {
            self.engine.emulated.lock().remove(session);
        }
    }

    /// Writes one of the engine's messages (one or more replies, newline
    /// separated) to `out` in the stream's format.
    async fn on_message(&mut self, message: &[u8], out: &mut BytesMut) -> Next {
        for line in message.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
            let next = match self.direction {
                Direction::Bidirectional => {
                    self.bidirectional(line, out);
                    Next::Go
                }
                Direction::Unidirectional => self.unidirectional(line, out).await,
            };
            if let Next::End = next {
                return Next::End;
            }
        }
        Next::Go
    }

    /// Passes a protobuf connection's replies on as they are; the connect
    /// reply gains the session id.
    fn on_protobuf(&mut self, replies: &[u8], out: &mut BytesMut) {
        if !self.connected {
            if let Some(session) = self.session.as_deref() {
                if let Ok(mut decoded) = protobuf::decode_replies(replies) {
                    if let Some(connect) = decoded.iter_mut().find_map(|reply| reply.connect.as_mut()) {
                        connect.session = session.to_owned();
                        self.connected = true;
                        for reply in decoded {
                            out.put_slice(&prost::Message::encode_length_delimited_to_vec(&reply));
                        }
                        return;
                    }
                }
            }
        }
        out.put_slice(replies);
    }

    /// Passes the reply on; the connect reply gains the session id.
    fn bidirectional(&mut self, line: &[u8], out: &mut BytesMut) {
        if !self.connected {
            if let Some(with_session) = self.with_session(line) {
                self.connected = true;
                self.write(None, &with_session, out);
                return;
            }
        }
        self.write(None, line, out);
    }

    /// The connect reply with the session id added, if `line` is the connect
    /// reply. (The engine's connections do not carry what only emulation needs.)
    fn with_session(&self, line: &[u8]) -> Option<Vec<u8>> {
        let session = self.session.as_deref()?;
        let mut reply: Map<String, Value> = serde_json::from_slice(line).ok()?;
        let Some(Value::Object(result)) = reply.get_mut("connect") else { return None };
        result.insert("session".into(), Value::String(session.to_owned()));
        serde_json::to_vec(&reply).ok()
    }

    /// Unwraps the reply into what a unidirectional client reads: the connect
    /// result as `{"connect": …}`, each push's body (`{"channel": …, "pub": …}`),
    /// and empty pings, answered here.
    async fn unidirectional(&mut self, line: &[u8], out: &mut BytesMut) -> Next {
        let Ok(reply) = serde_json::from_slice::<EngineReply<'_>>(line) else { return Next::Go };
        if let Some(connect) = reply.connect {
            if let Ok(connect) = serde_json::from_str::<ConnectPositions>(connect.get()) {
                self.positions = connect.subs;
            }
            // Where the stream starts (after what it recovered): a client that
            // drops before any publication resumes from here.
            let id = (self.format == StreamFormat::Sse && !self.positions.is_empty())
                .then(|| serde_json::to_string(&self.positions).ok())
                .flatten();
            let message = format!("{{\"connect\":{}}}", connect.get());
            self.write(id.as_deref(), message.as_bytes(), out);
        } else if let Some(error) = reply.error {
            // The connect failed (an expired token, a channel it may not read):
            // a unidirectional client has nothing else to send, so the stream ends.
            let message = format!("{{\"error\":{}}}", error.get());
            self.write(None, message.as_bytes(), out);
            if self.format == StreamFormat::WebSocket {
                out.put_slice(&close_frame(3501, "connect failed"));
            }
            return Next::End;
        } else if let Some(push) = reply.push {
            let id = self.advance(push.get());
            self.write(id.as_deref(), push.get().as_bytes(), out);
        } else {
            // The server's ping: answer it for the client, and pass it on as a keepalive.
            if let Some(pongs) = self.pongs.as_mut() {
                if pongs.write_all(&loopback_client_frame(false, b"{}")).await.is_err() {
                    return Next::End;
                }
            }
            self.write(None, line, out);
        }
        Next::Go
    }

    /// Moves the channel's position past a publication (or to a new
    /// subscription's); the SSE event id to write with it, if it moved.
    fn advance(&mut self, push: &str) -> Option<String> {
        if self.format != StreamFormat::Sse {
            return None;
        }
        let push: PushPosition = serde_json::from_str(push).ok()?;
        if let Some(publication) = push.publication {
            self.positions.get_mut(&push.channel)?.offset = publication.offset;
        } else if let Some(position) = push.subscribe {
            self.positions.insert(push.channel, position);
        } else if push.unsubscribe.is_some() {
            self.positions.remove(&push.channel);
        } else {
            return None;
        }
        serde_json::to_string(&self.positions).ok()
    }

    /// The engine closed the connection: tell the client why, as the protocol's
    /// disconnect push (a stream has no close frame to carry it).
    fn on_close(&mut self, code: u16, reason: &str, out: &mut BytesMut) {
        if self.format == StreamFormat::WebSocket {
            // A WebSocket has its own way to say it.
            out.put_slice(&close_frame(code, reason));
            return;
        }
        // As the protocol's clients read codes: 3500-3999 and 4500-4999 are final.
        let reconnect = !matches!(code, 3500..=3999 | 4500..=4999);
        if self.format == StreamFormat::ProtobufStream {
            out.put_slice(&protobuf::disconnect_push(code, reason, reconnect));
            return;
        }
        let disconnect = json!({ "code": code, "reason": reason, "reconnect": reconnect });
        let message = match self.direction {
            Direction::Bidirectional => json!({ "push": { "disconnect": disconnect } }),
            Direction::Unidirectional => json!({ "disconnect": disconnect }),
        };
        self.write(None, message.to_string().as_bytes(), out);
    }

    /// Appends one message in the stream's format.
    fn write(&self, id: Option<&str>, message: &[u8], out: &mut BytesMut) {
        match self.format {
            StreamFormat::HttpStream => {
                out.put_slice(message);
                out.put_u8(b'\n');
            }
            // (Its replies are passed on whole by `on_protobuf`.)
            StreamFormat::ProtobufStream => out.put_slice(message),
            StreamFormat::WebSocket => out.put_slice(&text_frame(message)),
            StreamFormat::Sse => {
                if let Some(id) = id {
                    out.put_slice(b"id: ");
                    out.put_slice(id.as_bytes());
                    out.put_u8(b'\n');
                }
                // JSON text holds no raw newline, so one `data:` line carries it.
                out.put_slice(b"data: ");
                out.put_slice(message);
                out.put_slice(b"\n\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_an_event_id() {
        let mut positions = BTreeMap::new();
        positions.insert("notifications:u_1".to_owned(), Position { offset: 7, epoch: "e1".into() });
        let id = serde_json::to_string(&positions).expect("id");
        assert!(!id.contains('\n') && !id.contains('\r'), "an SSE id is one line: {id}");
        let back: BTreeMap<String, Position> = serde_json::from_str(&id).expect("parse");
        assert_eq!(back, positions);
    }
}
