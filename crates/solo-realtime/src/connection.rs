//! One connection's shared state and its write path.
//!
//! Who owns the socket: the connection's task reads it and runs commands; the
//! write side is shared. Whoever has something to send (the hub's fan-out, the
//! ticker's ping, the task's own replies) takes the connection's outbound lock
//! and, when nothing is waiting before it, writes the ready frame straight into
//! the socket without blocking (`send(2)`). Only what the socket does not
//! take at once is kept, in order, in the connection's backlog, and the task is
//! woken to write it when the socket becomes writable. An idle or keeping-up
//! connection therefore costs one non-blocking write per delivery: no queue, no
//! task wake, no copy.
//!
//! Backpressure is decided here: a backlog longer than the queue capacity
//! (`SOLO_WS_QUEUE_CAPACITY` frames), or one that has not moved for
//! [`WRITE_STALL_MS`] (checked by the hub's ticker), closes the connection
//! with 3008 (slow consumer) instead of growing memory.
//!
//! Offsets are decided here too: a publication is written only if it is its
//! channel's next offset; a repeat is dropped, a gap closes with 3010 so the
//! client recovers from history. While a subscription is being set up its
//! publications are held, and released in order once the subscribe reply is out.
//!
//! (About 515 lines before its unit tests, which share this file's private
//! state: the write side (backlog, corking, offsets, 3008 and 3010) is one
//! lock's worth of invariants, kept in one place.)

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use futures::task::AtomicWaker;
use smallvec::SmallVec;
use solo_domain::UserId;

use crate::protobuf;
use crate::protocol::{ClientInfo, Disconnect, Format};
use crate::socket::Socket;
use crate::websocket;

pub type ConnId = u64;

/// A ready-to-write frame, shared between recipients.
pub type Frame = Bytes;

/// Publications held for a subscription being set up before the client is
/// considered too slow.
const MAX_HELD: usize = 4096;
/// A backlog that has not moved for this long means the client is not reading.
pub const WRITE_STALL_MS: i64 = 10_000;
/// Frames handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// The protocol's server ping: an empty JSON object in a text frame.
static PING: &[u8] = b"\x81\x02{}";
/// The same in protobuf: an empty `Reply`, length-delimited, in a binary frame.
static PROTOBUF_PING: &[u8] = b"\x82\x01\x00";

/// `json`, a reply or push the server built, as a frame in `format`: a text
/// frame as it is, or a binary frame of its protobuf transcoding. (Should a
/// reply not transcode, which would be a defect, the frame is empty: a client
/// reads no reply in it.)
pub fn frame_in(format: Format, json: &[u8]) -> Frame {
    match format {
        Format::Json => websocket::text_frame(json),
        Format::Protobuf => match protobuf::transcode(json) {
            Ok(bytes) => websocket::binary_frame(&bytes),
            Err(e) => {
                tracing::error!(error = %e, "not sent to a protobuf connection");
                websocket::binary_frame(&[])
            }
        },
    }
}

/// Who a connection belongs to, once `connect` succeeded.
#[derive(Debug, Clone)]
pub struct ConnAuth {
    /// The user id, shared by every subscription's presence entry (and every
    /// connection of the user) rather than copied into each; see [`ConnAuth::user_id`].
    pub user: Arc<str>,
    /// Shared with every subscription's client info rather than copied.
    pub info: Arc<serde_json::Value>,
    /// The credential the connection token came from (`pat_…` or `session:<hash>`).
    pub source: Arc<str>,
    pub expires_at_ms: i64,
}

impl ConnAuth {
    /// The user id as the store's type, made when asked (a credential check,
    /// a permission check): connections keep only the shared text.
    pub fn user_id(&self) -> UserId {
        UserId::from_trusted(self.user.to_string())
    }
}

enum ChannelState {
    /// Being set up: publications are held until the subscribe reply is written.
    Pending(Vec<(u64, Frame)>),
    /// Live: the last offset written.
    Live(u64),
}

/// What the write side knows, behind one lock.
#[derive(Default)]
struct Outbound {
    /// Each subscribed channel's state. A connection holds a handful of
    /// channels, so a short list beats hashing the channel name per publication.
    /// The first is kept inline: most connections hold one, and a fan-out
    /// then finds its state in the connection's own cache lines instead of
    /// missing the cache on a separate allocation per subscriber (and the
    /// connection saves that allocation).
    channels: SmallVec<[(Arc<str>, ChannelState); 1]>,
    /// Frames the socket has not taken yet, in order; the first may be the
    /// unwritten rest of a frame (`head_partial`).
    backlog: VecDeque<Frame>,
    head_partial: bool,
    /// Frames queued by a corked fan-out, to be written together by [`Connection::uncork`].
    corked: bool,
    /// When the backlog last moved (ms), while it is not empty.
    stalled_since_ms: i64,
    /// The task has stopped writing: later frames are dropped.
    finished: bool,
}

impl Outbound {
    fn channel(&mut self, channel: &str) -> Option<&mut ChannelState> {
        self.channels.iter_mut().find(|(name, _)| &**name == channel).map(|(_, state)| state)
    }

    fn set_channel(&mut self, channel: Arc<str>, state: ChannelState) -> Option<ChannelState> {
        match self.channel(&channel) {
            Some(slot) => Some(std::mem::replace(slot, state)),
            None => {
                // Most connections hold one or two channels: no room to spare.
                self.channels.reserve_exact(1);
                self.channels.push((channel, state));
                None
            }
        }
    }

    fn remove_channel(&mut self, channel: &str) {
        self.channels.retain(|(name, _)| &**name != channel);
    }
}

/// Whether the backlog is now empty, or the socket would block.
#[derive(Debug, PartialEq, Eq)]
pub enum Flushed {
    All,
    Blocked,
}

/// Shared state of one connection.
///
/// `repr(C)` keeps the fields a fan-out touches for every subscriber (the
/// write side with its first channel's state, the socket, the closing flag)
/// first and together, in the first three cache lines' worth of bytes (154 in
/// a release build); with the compiler's own order they were spread over the
/// whole struct and a separate allocation, and the first touch of each was a
/// cache miss repeated 10,000 times per publication to a large channel (see
/// `hot_fields_share_the_first_cache_lines`).
#[repr(C)]
pub struct Connection {
    out: Mutex<Outbound>,
    socket: Socket,
    closing: AtomicBool,
    /// The protocol format it speaks: every frame written to it is in it.
    pub format: Format,
    /// Set, and the task woken, when the write side asks the task for
    /// something: a backlog to write, or closing. (A flag and a waker slot
    /// rather than a `Notify`: the task waits on it without a waiter future of
    /// its own, which kept a hundred bytes per idle connection.)
    woken: AtomicBool,
    close_reason: OnceLock<Disconnect>,
    pub id: ConnId,
    /// Kept as 16 bytes (in each subscription's presence entry too) and
    /// written as text only where a client or Redis sees it.
    pub client_id: uuid::Uuid,
    queue_limit: usize,
    task: AtomicWaker,
    pub(crate) opened_at_ms: i64,
    auth: Mutex<Option<ConnAuth>>,
    pub(crate) next_ping_at_ms: AtomicI64,
    /// When the outstanding ping was sent; 0 when none is outstanding.
    pub(crate) ping_sent_at_ms: AtomicI64,
    /// The channels this connection is subscribed to in the hub, so
    /// per-connection questions never scan every channel of the node. A short
    /// list: a connection holds a handful (at most 128).
    pub(crate) channels: Mutex<Vec<Arc<str>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.id).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Connection {
    pub(crate) fn new(
        id: ConnId,
        socket: Socket,
        format: Format,
        queue_limit: usize,
        now_ms: i64,
        first_ping_at_ms: i64,
    ) -> Self {
        Self {
            id,
            // From the thread's random generator: `new_v4` asks the kernel each time.
            client_id: uuid::Builder::from_random_bytes(rand::random()).into_uuid(),
            format,
            socket,
            out: Mutex::new(Outbound::default()),
            queue_limit: queue_limit.max(8),
            woken: AtomicBool::new(false),
            task: AtomicWaker::new(),
            closing: AtomicBool::new(false),
            close_reason: OnceLock::new(),
            opened_at_ms: now_ms,
            auth: Mutex::new(None),
            next_ping_at_ms: AtomicI64::new(first_ping_at_ms),
            ping_sent_at_ms: AtomicI64::new(0),
            channels: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Closes the connection with `reason` (the first reason given wins).
    pub fn close(&self, reason: Disconnect) {
        let _ = self.close_reason.set(reason);
        self.end();
    }

    /// Ends the connection without a reason of its own (the client left).
    pub fn end(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake();
    }

    /// Reads the cache lines a publication's write to this connection starts
    /// with (the write side's lock word and the closing flag) and nothing
    /// more; see the hub's fan-out.
    pub(crate) fn touch(&self) -> bool {
        self.out.is_poisoned() | self.closing.load(Ordering::Relaxed)
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn close_reason(&self) -> Option<Disconnect> {
        self.close_reason.get().copied()
    }

    pub fn auth(&self) -> Option<ConnAuth> {
        lock(&self.auth).clone()
    }

    /// When the connection's token expires, once it is authenticated (the
    /// hub's tick asks every connection each second: nothing is cloned).
    pub(crate) fn auth_expires_at_ms(&self) -> Option<i64> {
        lock(&self.auth).as_ref().map(|auth| auth.expires_at_ms)
    }

    /// The connection's presence entry, once it is authenticated.
    pub fn client_info(&self) -> Option<ClientInfo> {
        let auth = lock(&self.auth);
        let auth = auth.as_ref()?;
        Some(ClientInfo { user: auth.user.clone(), client: self.client_id, conn_info: Some(auth.info.clone()) })
    }

    pub fn set_auth(&self, auth: ConnAuth) {
        *lock(&self.auth) = Some(auth);
    }

    /// A pong arrived; false when no ping was outstanding (a protocol error).
    pub fn pong(&self) -> bool {
        self.ping_sent_at_ms.swap(0, Ordering::AcqRel) != 0
    }

    /// Asks the connection's task to look at the connection (its backlog, or closing).
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Ready once the write side asked the task for something since the last
    /// time this was ready (a backlog to write, or closing).
    pub(crate) fn poll_woken(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.task.register(cx.waker());
        if self.woken.swap(false, Ordering::AcqRel) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    /// Whether frames wait for the socket to become writable.
    pub(crate) fn has_backlog(&self) -> bool {
        !lock(&self.out).backlog.is_empty()
    }

    /// Runs `step` on the write side; a failure closes the connection.
    fn with_out(&self, step: impl FnOnce(&Self, &mut Outbound) -> Result<(), Disconnect>) {
        if self.is_closing() {
            return;
        }
        let result = {
            let mut out = lock(&self.out);
            if out.finished {
                return;
            }
            step(self, &mut out)
        };
        if let Err(reason) = result {
            self.close(reason);
        }
    }

    /// Writes `frame` now if nothing waits before it and the socket takes it;
    /// keeps what it does not take. Corked: only queues it.
    /// Borrows the frame: a fan-out's frame is shared by every subscriber, and
    /// most writes take it whole, so it is cloned only when some of it must wait.
    fn send_locked(&self, out: &mut Outbound, frame: &Frame) -> Result<(), Disconnect> {
        if !out.backlog.is_empty() || out.corked {
            if out.backlog.len() >= self.queue_limit {
                return Err(Disconnect::SlowConsumer);
            }
            if out.backlog.is_empty() {
                // The stall clock starts with the backlog, not at some older instant.
                out.stalled_since_ms = solo_domain::time::now_ms();
            }
            out.backlog.push_back(frame.clone());
            return Ok(());
        }
        match self.socket.try_send(frame) {
            Ok(n) if n == frame.len() => return Ok(()),
            Ok(n) => {
                out.backlog.push_back(frame.slice(n..));
                out.head_partial = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                out.backlog.push_back(frame.clone());
                out.head_partial = false;
            }
            Err(_) => return Err(Disconnect::WriteError),
        }
        out.stalled_since_ms = solo_domain::time::now_ms();
        self.wake();
        Ok(())
    }

    /// Writes as much of the backlog as the socket takes now.
    fn flush_locked(&self, out: &mut Outbound) -> io::Result<Flushed> {
        while !out.backlog.is_empty() {
            let written = {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut count = 0;
                for (slot, frame) in slices.iter_mut().zip(out.backlog.iter()) {
                    *slot = IoSlice::new(frame);
                    count += 1;
                }
                match self.socket.try_send_vectored(&slices[..count]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                    Err(e) => return Err(e),
                }
            };
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            out.stalled_since_ms = solo_domain::time::now_ms();
            let mut left = written;
            while left > 0 {
                let Some(front) = out.backlog.front_mut() else { break };
                if left >= front.len() {
                    left -= front.len();
                    out.backlog.pop_front();
                    out.head_partial = false;
                } else {
                    *front = front.slice(left..);
                    out.head_partial = true;
                    left = 0;
                }
            }
        }
        // A burst's backlog gives its memory back.
        out.backlog = VecDeque::new();
        Ok(Flushed::All)
    }

    /// Writes the backlog as far as the socket takes it (the task, when woken
    /// or when the socket became writable).
    pub(crate) fn flush(&self) {
        self.flush_after(|_| {});
    }

    /// Under the outbound lock, runs `first`, then writes what the backlog holds;
    /// a failed write closes the connection.
    fn flush_after(&self, first: impl FnOnce(&mut Outbound)) -> Flushed {
        let result = {
            let mut out = lock(&self.out);
            first(&mut out);
            if out.finished || out.backlog.is_empty() {
                return Flushed::All;
            }
            self.flush_locked(&mut out)
        };
        result.unwrap_or_else(|_| {
            self.close(Disconnect::WriteError);
            Flushed::All
        })
    }

    /// Sends a reply or push.
    pub fn send(&self, frame: Frame) {
        self.with_out(|conn, out| conn.send_locked(out, &frame));
    }

    /// `json`, a reply or push the server built, as a frame in this connection's format.
    pub fn frame(&self, json: &[u8]) -> Frame {
        frame_in(self.format, json)
    }

    /// Sends the protocol's ping.
    pub(crate) fn ping(&self) {
        self.send(Bytes::from_static(match self.format {
            Format::Json => PING,
            Format::Protobuf => PROTOBUF_PING,
        }));
    }

    /// Delivers a publication of `channel` at `offset`, in offset order.
    pub fn publish(&self, channel: &str, offset: u64, frame: &Frame) {
        self.with_out(|conn, out| conn.publish_locked(out, channel, offset, frame));
    }

    fn publish_locked(&self, out: &mut Outbound, channel: &str, offset: u64, frame: &Frame) -> Result<(), Disconnect> {
        match out.channel(channel) {
            None => Ok(()),
            Some(ChannelState::Pending(held)) => {
                if held.len() >= MAX_HELD {
                    return Err(Disconnect::SlowConsumer);
                }
                held.push((offset, frame.clone()));
                Ok(())
            }
            Some(ChannelState::Live(last)) => {
                if offset == *last + 1 {
                    *last = offset;
                    self.send_locked(out, frame)
                } else if offset > *last + 1 {
                    Err(Disconnect::InsufficientState)
                } else {
                    // A repeat (the dispatcher published it again): already written.
                    Ok(())
                }
            }
        }
    }

    /// Corks the connection for a fan-out batch: frames are queued, not written,
    /// until [`Connection::uncork`]. Returns false when it is corked already or
    /// already has a backlog (the task writes that), so the hub uncorks each
    /// connection once.
    pub(crate) fn cork(&self) -> bool {
        Self::cork_locked(&mut lock(&self.out))
    }

    fn cork_locked(out: &mut Outbound) -> bool {
        if out.corked || out.finished || !out.backlog.is_empty() {
            return false;
        }
        out.corked = true;
        true
    }

    /// Corks the connection (see [`Connection::cork`]) and queues a publication,
    /// under one lock; true when this corked it, so the hub uncorks it once.
    pub(crate) fn publish_corked(&self, channel: &str, offset: u64, frame: &Frame) -> bool {
        let mut corked = false;
        self.with_out(|conn, out| {
            corked = Self::cork_locked(out);
            conn.publish_locked(out, channel, offset, frame)
        });
        corked
    }

    /// Writes what a corked fan-out queued, in as few writes as the socket
    /// allows; what it does not take is left to the task. (The stall clock
    /// already runs from the first frame queued.)
    pub(crate) fn uncork(&self) {
        if self.flush_after(|out| out.corked = false) == Flushed::Blocked {
            self.wake();
        }
    }

    /// A subscription is being set up: hold its publications until it is ready.
    pub fn hold(&self, channel: Arc<str>) {
        self.with_out(|_, out| {
            out.set_channel(channel, ChannelState::Pending(Vec::new()));
            Ok(())
        });
    }

    /// Subscriptions are ready: sends `reply`, then goes live on each channel
    /// from the given offset, releasing what was held.
    pub fn go_live(&self, positions: Vec<(Arc<str>, u64)>, reply: Frame) {
        self.with_out(|conn, out| {
            conn.send_locked(out, &reply)?;
            for (channel, offset) in positions {
                let held = match out.set_channel(channel.clone(), ChannelState::Live(offset)) {
                    Some(ChannelState::Pending(held)) => held,
                    _ => Vec::new(),
                };
                for (offset, frame) in held {
                    conn.publish_locked(out, &channel, offset, &frame)?;
                }
            }
            Ok(())
        });
    }

    /// Setting up a subscription failed: drops what was held.
    pub(crate) fn abandon(&self, channel: &str) {
        self.with_out(|_, out| {
            out.remove_channel(channel);
            Ok(())
        });
    }

    /// The subscription ended: sends `frame` if any and drops later publications.
    pub fn unsubscribed(&self, channel: &str, frame: Option<Frame>) {
        self.with_out(|conn, out| {
            out.remove_channel(channel);
            match frame {
                Some(frame) => conn.send_locked(out, &frame),
                None => Ok(()),
            }
        });
    }

    /// Whether the backlog has not moved for [`WRITE_STALL_MS`].
    /// A corked connection is not stalled: its frames wait for the flusher or
    /// for its own commands to finish, not for the socket.
    pub(crate) fn stalled(&self, now_ms: i64) -> bool {
        let out = lock(&self.out);
        !out.corked && !out.backlog.is_empty() && now_ms - out.stalled_since_ms > WRITE_STALL_MS
    }

    /// Stops the write side and returns what must still go out before the
    /// close frame: the unwritten rest of a frame already begun (anything else
    /// queued is dropped, as the client is going away).
    pub(crate) fn finish(&self) -> Option<Frame> {
        let mut out = lock(&self.out);
        out.finished = true;
        out.channels = SmallVec::new();
        let backlog = std::mem::take(&mut out.backlog);
        if out.head_partial {
            backlog.into_iter().next()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::websocket::text_frame;

    /// A connection on one end of a loopback TCP pair, and the client's end.
    async fn pair(queue_limit: usize) -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (Connection::new(1, server.into(), Format::Json, queue_limit, 0, i64::MAX), client)
    }

    fn text(s: &str) -> Frame {
        text_frame(s.as_bytes())
    }

    #[test]
    fn hot_fields_share_the_first_cache_lines() {
        use std::mem::{offset_of, size_of};
        // What a fan-out reads and writes for each subscriber (the first
        // channel's state included) comes before everything else and ends
        // within three cache lines' worth of bytes (154 in a release build;
        // debug builds of the lock and socket types are a little larger).
        let hot_end = [
            offset_of!(Connection, out) + size_of::<Mutex<Outbound>>(),
            offset_of!(Connection, socket) + size_of::<Socket>(),
            offset_of!(Connection, closing) + size_of::<AtomicBool>(),
            offset_of!(Connection, format) + size_of::<Format>(),
        ];
        let end = hot_end.into_iter().max().unwrap_or(usize::MAX);
        let first_cold = [
            offset_of!(Connection, woken),
            offset_of!(Connection, close_reason),
            offset_of!(Connection, id),
            offset_of!(Connection, task),
            offset_of!(Connection, auth),
            offset_of!(Connection, channels),
        ];
        assert!(first_cold.iter().all(|&cold| cold >= end), "a cold field sits among the hot ones");
        assert!(end <= 3 * 64, "hot fields end at byte {end}");
    }

    /// Reads `count` text frames (unmasked, as the server writes them).
    async fn read_texts(client: &mut TcpStream, count: usize) -> Vec<String> {
        let mut texts = Vec::new();
        while texts.len() < count {
            let mut header = [0u8; 2];
            client.read_exact(&mut header).await.expect("header");
            assert_eq!(header[0], 0x81, "a whole text frame");
            let len = match header[1] {
                126 => {
                    let mut ext = [0u8; 2];
                    client.read_exact(&mut ext).await.expect("length");
                    usize::from(u16::from_be_bytes(ext))
                }
                short => usize::from(short),
            };
            let mut payload = vec![0u8; len];
            client.read_exact(&mut payload).await.expect("payload");
            texts.push(String::from_utf8(payload).expect("utf-8"));
        }
        texts
    }

    #[tokio::test]
    async fn publications_follow_offsets_repeats_are_dropped_and_a_gap_closes_3010() {
        let (conn, mut client) = pair(64).await;
        let channel: Arc<str> = Arc::from("mission:m_1");
        conn.hold(channel.clone());
        // Published while the subscription is being set up: held, released after the reply.
        conn.publish(&channel, 5, &text("p5"));
        conn.go_live(vec![(channel.clone(), 4)], text("subscribed"));
        conn.publish(&channel, 5, &text("p5 again"));
        conn.publish(&channel, 6, &text("p6"));
        conn.publish("workspace:w_1", 1, &text("not subscribed"));
        assert_eq!(read_texts(&mut client, 3).await, ["subscribed", "p5", "p6"]);
        assert!(!conn.is_closing());
        conn.publish(&channel, 8, &text("p8"));
        assert_eq!(conn.close_reason(), Some(Disconnect::InsufficientState), "offset 7 was missed");
    }

    #[tokio::test]
    async fn an_unsubscribed_channel_delivers_nothing_more() {
        let (conn, mut client) = pair(64).await;
        let channel: Arc<str> = Arc::from("mission:m_1");
        conn.hold(channel.clone());
        conn.go_live(vec![(channel.clone(), 0)], text("subscribed"));
        conn.unsubscribed(&channel, Some(text("unsubscribed")));
        conn.publish(&channel, 1, &text("p1"));
        conn.send(text("after"));
        assert_eq!(read_texts(&mut client, 3).await, ["subscribed", "unsubscribed", "after"]);
    }

    #[tokio::test]
    async fn corked_frames_leave_together_in_order() {
        let (conn, mut client) = pair(64).await;
        assert!(conn.cork());
        assert!(!conn.cork(), "corked once");
        conn.send(text("a"));
        conn.send(text("b"));
        assert!(conn.has_backlog(), "nothing written while corked");
        conn.uncork();
        assert!(!conn.has_backlog());
        assert_eq!(read_texts(&mut client, 2).await, ["a", "b"]);
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_is_closed_3008_and_its_backlog_is_bounded() {
        let (conn, _client) = pair(8).await;
        let big = text(&"x".repeat(60_000));
        // The kernel's buffers take some; past them at most 8 frames wait.
        for _ in 0..10_000 {
            conn.send(big.clone());
            if conn.is_closing() {
                break;
            }
        }
        assert_eq!(conn.close_reason(), Some(Disconnect::SlowConsumer));
        let rest = conn.finish();
        assert!(rest.is_none_or(|rest| rest.len() < big.len()), "only the rest of a frame begun is kept");
        assert!(!conn.has_backlog(), "the rest is dropped");
    }

    #[tokio::test]
    async fn frames_waiting_for_the_flusher_are_not_a_stall() {
        let (conn, _client) = pair(64).await;
        assert!(conn.cork());
        conn.send(text("queued"));
        assert!(!conn.stalled(solo_domain::time::now_ms() + WRITE_STALL_MS * 10), "corked, not stalled");
        conn.uncork();
        assert!(!conn.has_backlog());
    }

    #[tokio::test]
    async fn a_backlog_that_does_not_move_is_stalled() {
        let (conn, _client) = pair(1024).await;
        let big = text(&"x".repeat(60_000));
        while !conn.has_backlog() {
            conn.send(big.clone());
        }
        let now = solo_domain::time::now_ms();
        assert!(!conn.stalled(now), "a fresh backlog");
        assert!(conn.stalled(now + WRITE_STALL_MS + 1));
    }
}
