//! The task that serves one WebSocket connection: one task per connection,
//! reading and writing in one loop.
//!
//! The task waits for three things at once: bytes from the client (commands,
//! run one at a time), the socket becoming writable while a backlog waits
//! (see [`crate::connection`]: most frames never wait, they are written by
//! whoever sends them), and a wake-up from the write side (a new backlog, or
//! closing). An idle connection holds no read buffer: bytes are read into the
//! stack and only an incomplete frame is kept.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

use crate::connection::Connection;
use crate::hub::Hub;
use crate::metrics::CodeLabels;
use crate::protocol::{Disconnect, Format};
use crate::session::Session;
use crate::socket::Socket;
use crate::websocket::{self, Decoder, FrameError, Message};
use crate::Engine;

/// Bytes read from the socket in one go.
const READ_CHUNK: usize = 4096;
/// How long a closing connection may take to take its close frame and go: as
/// long as any write may stall, so a client that stopped reading for a while
/// still learns why it was closed (3008) when it reads again.
const CLOSE_LIMIT: Duration = Duration::from_millis(crate::connection::WRITE_STALL_MS as u64);

/// How the connection ends, when the engine gives no reason of its own.
enum Ending {
    /// The client closed (or vanished): echo its close if it sent one.
    ClientClosed(Option<u16>),
    /// The client broke the WebSocket framing.
    Broken(FrameError),
    /// The engine closed it (the reason is on the connection).
    Closed,
}

impl Engine {
    /// Registers an upgraded WebSocket connection and returns the task that
    /// serves it until it closes; spawn it. `already_read` holds bytes the
    /// client sent right after its upgrade request.
    ///
    /// The setup runs here, before the task exists, so the task's future holds
    /// only what an open connection needs: an async fn keeps its arguments for
    /// its whole life, and every idle connection would pay for them.
    pub fn serve_websocket(
        self: Arc<Self>,
        socket: TcpStream,
        already_read: Bytes,
        format: Format,
    ) -> impl Future<Output = ()> + Send {
        self.serve_socket(socket.into(), already_read, format)
    }

    /// [`Engine::serve_websocket`] on any stream socket that carries WebSocket
    /// frames (a client's TCP socket, or the engine's end of an HTTP stream's
    /// socket pair, see [`crate::stream`]).
    pub(crate) fn serve_socket(
        self: Arc<Self>,
        socket: Socket,
        already_read: Bytes,
        format: Format,
    ) -> impl Future<Output = ()> + Send {
        let conn = self.hub().open(socket, format);
        // Should anything below panic, the connection still leaves the hub.
        let registered = Registered { hub: self.hub().clone(), conn: conn.clone() };
        let mut reader = Reader::new(self.config().max_message_bytes, &already_read);
        // It may hold on to the HTTP server's whole read buffer: let it go now,
        // not when the connection ends.
        drop(already_read);
        let mut session = Session::new(self, conn);
        // An async block rather than an async fn: a function's arguments are
        // kept twice in its future (as passed, and as bound in its body). The
        // block holds the session, the reader and the guard, nothing twice.
        async move {
            let conn = &*registered.conn;
            // Log lines name the client (and user) as fields rather than through a
            // span: a span per connection costs about half a kilobyte while it lives.
            tracing::debug!(client = %conn.client_id, "connection opened");
            let ending = run(conn, &mut session, &mut reader).await;
            drop(reader);
            registered.hub.remove(conn);
            say_goodbye_and_count(session.engine(), conn, &session, ending).await;
        }
    }
}

/// Closes a connection that stopped serving: counts why, then writes its
/// close frame (if it gets one) and waits, a bounded time, for the client to go.
async fn say_goodbye_and_count(engine: &Engine, conn: &Connection, session: &Session, ending: Ending) {
    let close = match (conn.close_reason(), ending) {
        (Some(reason), _) => Some(websocket::close_frame(reason.code(), reason.reason())),
        (None, Ending::Broken(error)) => Some(websocket::close_frame(error.close_code(), &error.to_string())),
        (None, Ending::ClientClosed(Some(code))) => Some(websocket::close_frame(code, "")),
        (None, Ending::ClientClosed(None) | Ending::Closed) => None,
    };
    // Counted before the goodbye, which may wait for a slow client.
    let reason = conn.close_reason();
    match reason {
        Some(reason) if reason != Disconnect::Shutdown => tracing::info!(
            client = %conn.client_id,
            user_id = ?session.user_id(),
            code = reason.code(),
            reason = reason.reason(),
            "closing connection"
        ),
        _ => tracing::debug!(client = %conn.client_id, user_id = ?session.user_id(), "connection closed"),
    }
    if let Some(reason) = reason {
        if reason == Disconnect::SlowConsumer {
            engine.metrics().slow_consumer_closes.inc();
        }
        engine.metrics().disconnects.get_or_create(&CodeLabels { code: reason.code() }).inc();
    }
    let rest = conn.finish();
    // Boxed: only a closing connection needs the goodbye's timer and buffer.
    if Box::pin(tokio::time::timeout(CLOSE_LIMIT, say_goodbye(conn, rest, close))).await.is_err() {
        tracing::debug!(client = %conn.client_id, "client did not take its close frame in time");
    }
}

/// The read side of a connection: the frame decoder and the bytes of a frame
/// not complete yet.
struct Reader {
    decoder: Decoder,
    buf: BytesMut,
}

impl Reader {
    fn new(max_message: usize, already_read: &[u8]) -> Self {
        Self { decoder: Decoder::new(max_message), buf: BytesMut::from(already_read) }
    }
}

/// Removes a connection from the hub when dropped, however its task ends.
struct Registered {
    hub: Arc<Hub>,
    conn: Arc<Connection>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        // A no-op when the task already removed it.
        self.hub.remove(&self.conn);
    }
}

/// What ended a connection task's wait.
enum Wake {
    /// The write side asked (a backlog to write, or closing).
    Asked,
    Writable(io::Result<()>),
    Readable(io::Result<()>),
}

/// Serves the connection until it ends. Its future is part of every idle
/// connection's task, so it holds references and small values only: command
/// futures are boxed, and the wait is polled in place.
async fn run(conn: &Connection, session: &mut Session, reader: &mut Reader) -> Ending {
    let Reader { decoder, buf } = reader;
    loop {
        loop {
            if conn.is_closing() {
                return Ending::Closed;
            }
            let message = match decoder.decode(buf) {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(FrameError::TooBig) => {
                    conn.close(Disconnect::MessageTooBig);
                    return Ending::Closed;
                }
                Err(error) => return Ending::Broken(error),
            };
            // Commands run in a boxed future: it is several KB, and an idle
            // connection's task should only be as large as its wait for the next frame.
            let step = match message {
                message @ (Message::Text(_) | Message::Binary(_)) => {
                    Box::pin(run_commands(conn, session, message)).await
                }
                Message::Ping(payload) => {
                    conn.send(websocket::pong_frame(&payload));
                    Ok(())
                }
                Message::Pong => Ok(()),
                Message::Close(code) => {
                    conn.end();
                    return Ending::ClientClosed(code);
                }
            };
            if let Err(reason) = step {
                conn.close(reason);
                return Ending::Closed;
            }
        }
        if buf.is_empty() {
            // An idle connection keeps no read buffer.
            *buf = BytesMut::new();
        }
        let backlog = conn.has_backlog();
        // One wait for the three things that move a connection, in this order:
        // a word from the write side, a writable socket (only with a backlog),
        // a readable socket. Polled in place rather than as three futures in a
        // `select!`, so an idle connection's task holds no waiter state.
        let event = std::future::poll_fn(|cx| {
            if conn.poll_woken(cx).is_ready() {
                return Poll::Ready(Wake::Asked);
            }
            if backlog {
                if let Poll::Ready(ready) = conn.socket().poll_write_ready(cx) {
                    return Poll::Ready(Wake::Writable(ready));
                }
            }
            conn.socket().poll_read_ready(cx).map(Wake::Readable)
        })
        .await;
        match event {
            Wake::Asked => {}
            Wake::Writable(ready) => {
                if ready.is_err() {
                    conn.end();
                    return Ending::ClientClosed(None);
                }
            }
            Wake::Readable(ready) => {
                if ready.is_err() {
                    conn.end();
                    return Ending::ClientClosed(None);
                }
                match read_available(conn.socket(), buf) {
                    Ok(true) => {}
                    Ok(false) | Err(_) => {
                        conn.end();
                        return Ending::ClientClosed(None);
                    }
                }
            }
        }
        if conn.has_backlog() {
            // What the socket does not take now waits for writability on the next turn.
            conn.flush();
        }
    }
}

/// Runs the commands of one message. Corked meanwhile, so their replies (a
/// connect and its subscribes, say) leave in one write.
async fn run_commands(conn: &Connection, session: &mut Session, message: Message) -> Result<(), Disconnect> {
    let corked = conn.cork();
    let step = session.handle_message(message).await;
    if corked {
        conn.uncork();
    }
    step
}

/// Appends what the socket has to `buf`; false at end of stream.
fn read_available(socket: &Socket, buf: &mut BytesMut) -> io::Result<bool> {
    let mut chunk = [0u8; READ_CHUNK];
    match socket.try_read(&mut chunk) {
        Ok(0) => Ok(false),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` whole, waiting for the socket as needed.
async fn write_all(socket: &Socket, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        socket.writable().await?;
        match socket.try_send(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The closing handshake: the rest of a frame already begun, the close frame,
/// then the end of our side of the stream; what the client still sends is read
/// and dropped until it closes too, so its unread bytes do not turn our close
/// into a reset that could discard the close frame.
async fn say_goodbye(conn: &Connection, rest: Option<Bytes>, close: Option<Bytes>) {
    let socket = conn.socket();
    for bytes in rest.iter().chain(close.iter()) {
        if write_all(socket, bytes).await.is_err() {
            return;
        }
    }
    if socket.shutdown_write().is_err() {
        return;
    }
    let mut sink = BytesMut::new();
    loop {
        if socket.readable().await.is_err() {
            return;
        }
        sink.clear();
        match read_available(socket, &mut sink) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
    }
}
