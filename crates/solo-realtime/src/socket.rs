//! The byte stream under a connection: a client's TCP socket (WebSocket), or
//! one end of a local socket pair whose other end an HTTP response streams to
//! the client (SSE and HTTP-streaming, see [`crate::stream`]). Both are stream
//! sockets, so the write path, its backpressure (3008) and the connection's
//! task are the same code whatever the client's transport.

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// A connection's socket.
#[derive(Debug)]
pub enum Socket {
    Tcp(TcpStream),
    /// One end of a socket pair served to an HTTP response by [`crate::stream`].
    Local(UnixStream),
}

impl From<TcpStream> for Socket {
    fn from(socket: TcpStream) -> Self {
        Socket::Tcp(socket)
    }
}

impl From<UnixStream> for Socket {
    fn from(socket: UnixStream) -> Self {
        Socket::Local(socket)
    }
}

impl Socket {
    /// Writes what the socket takes now, with `send(2)`: a socket's `write(2)`
    /// goes through the file layer first, which cost a tenth of each delivery
    /// when fanning out to 10,000 subscribers.
    ///
    /// The first attempt goes straight to the socket: tokio's readiness state
    /// (a cache line of its own per socket, read before every write) is only
    /// needed when the socket is full. A would-block is retried once through
    /// tokio, so that tokio, not this attempt, is the one that sees it and
    /// clears the socket's write readiness; the connection's task then waits
    /// for the next writable edge as before.
    pub(crate) fn try_send(&self, bytes: &[u8]) -> io::Result<usize> {
        match self.sock().send(bytes) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.try_io(Interest::WRITABLE, || self.sock().send(bytes))
            }
            other => other,
        }
    }

    /// [`Socket::try_send`] of several frames at once (`sendmsg(2)`).
    pub(crate) fn try_send_vectored(&self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, || self.sock().send_vectored(slices))
    }

    /// The socket for calls tokio does not offer.
    fn sock(&self) -> socket2::SockRef<'_> {
        match self {
            Socket::Tcp(s) => socket2::SockRef::from(s),
            Socket::Local(s) => socket2::SockRef::from(s),
        }
    }

    /// Runs `io` under tokio's readiness for `interest`: a would-block clears it.
    fn try_io<R>(&self, interest: Interest, io: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        match self {
            Socket::Tcp(s) => s.try_io(interest, io),
            Socket::Local(s) => s.try_io(interest, io),
        }
    }

    /// Reads what the socket has now into `buf` (see [`read_draining`]).
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => try_read_tcp(s, buf),
            Socket::Local(s) => try_read_local(s, buf),
        }
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Socket::Tcp(s) => s.poll_read_ready(cx),
            Socket::Local(s) => s.poll_read_ready(cx),
        }
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Socket::Tcp(s) => s.poll_write_ready(cx),
            Socket::Local(s) => s.poll_write_ready(cx),
        }
    }

    pub(crate) async fn readable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    pub(crate) async fn writable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// Ends our side of the stream (the client reads end of stream).
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        self.sock().shutdown(Shutdown::Write)
    }
}

/// [`Socket::try_read`] for a TCP stream not yet handed to the engine (the
/// accept loop reading a WebSocket handshake).
pub fn try_read_tcp(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    read_draining(buf, socket2::SockRef::from(stream), |read| stream.try_io(Interest::READABLE, read))
}

/// [`Socket::try_read`] for the read half of a local socket pair (an HTTP
/// stream's relay reading what the engine wrote).
pub(crate) fn try_read_local(stream: &UnixStream, buf: &mut [u8]) -> io::Result<usize> {
    read_draining(buf, socket2::SockRef::from(stream), |read| stream.try_io(Interest::READABLE, read))
}

/// Whether the platform's readiness is edge-triggered (epoll, kqueue), which
/// clearing readiness after a short read relies on; tokio's own reads make the
/// same check.
const EDGE_TRIGGERED: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos"
));

/// Reads what the socket holds now into `buf`, through `try_io` (tokio's
/// readiness). A read that leaves part of `buf` unfilled emptied the receive
/// queue, so it clears the read readiness as a would-block does: the next
/// read waits for the next readable edge rather than costing a `recvfrom`
/// that can only say "would block" (one such call per message received, and
/// per connect, before this). tokio's own `AsyncRead` does the same. Nothing
/// is missed: tokio clears only the readiness it saw before the read, and
/// bytes that arrive after it raise a newer one.
fn read_draining(
    buf: &mut [u8],
    sock: socket2::SockRef<'_>,
    try_io: impl FnOnce(&mut dyn FnMut() -> io::Result<usize>) -> io::Result<usize>,
) -> io::Result<usize> {
    let len = buf.len();
    let mut drained = None;
    let read = try_io(&mut || {
        let n = (&*sock).read(buf)?;
        if EDGE_TRIGGERED && 0 < n && n < len {
            drained = Some(n);
            // Reported as a would-block so that `try_io` clears the readiness.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match drained {
        Some(n) => Ok(n),
        None => read,
    }
}
