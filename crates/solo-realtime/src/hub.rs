//! The hub: this node's live connections and their subscriptions.
//!
//! It receives committed events from the bus and fans each one out: the
//! WebSocket frame of a publication (header included) is built once per channel
//! and the same bytes ([`Frame`]) are written to every subscriber's socket (see
//! [`crate::connection`] for the write path and its backpressure). A batch of
//! several publications is corked: each subscriber's frames of the batch (and
//! of the batches after it in the same turn of the runtime) go out in one
//! write. A lone publication is written at once: corking it would only add a
//! queue and a second pass over the subscribers. Locks are std mutexes held for short, synchronous sections only,
//! never across an `.await`.
//!
//! Timers are shared, not per connection: one [`Hub::tick`] per second sends
//! pings, enforces pong and connect deadlines, and closes connections whose
//! token expired without a refresh.
//!
//! (About 700 lines of code before its unit tests: the fan-out, its corking
//! and coalescing, and the shared timers would each stand as a module of its
//! own if it grows further.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use indexmap::IndexMap;
use solo_domain::time::now_ms;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::bus::{BusMessage, BusSink};
use crate::connection::frame_in;
pub use crate::connection::{ConnAuth, ConnId, Connection, Frame};
use crate::metrics::RealtimeMetrics;
use crate::presence::{LocalPresenceChange, Presence, PresenceError, PresenceKind, RemotePresenceChange};
use crate::protobuf;
use crate::protocol::{self, ClientInfo, Disconnect, Format};
use crate::recent::RecentPublications;
use crate::socket::Socket;
use crate::token_subscriptions::TokenSubscriptions;
use crate::websocket;

/// A connection's place in a channel. Its presence entry (user, client id,
/// connection info) is read from the connection when asked for, not kept here:
/// every subscription of every connection holds one of these.
struct Subscriber {
    conn: Arc<Connection>,
    /// The connection's, kept here so a fan-out picks the frame without
    /// reading the connection first.
    format: Format,
    join_leave: bool,
}

#[derive(Default)]
struct ChannelSubscribers {
    /// In the order they subscribed (a removal moves the last one into the
    /// gap), so a fan-out walks a dense array instead of a hash table's
    /// scattered slots, and reaches the sockets roughly in the order the
    /// kernel made them: its per-socket structures (file table slots, socket
    /// and TCP state) are then touched in allocation order, which costs the
    /// kernel's send path less than a random walk over 10,000 sockets.
    by_conn: IndexMap<ConnId, Subscriber>,
    /// Subscribers that asked for join and leave pushes, so a subscribe into a
    /// large channel where nobody listens does not look at every subscriber.
    listeners: usize,
    /// The channel's latest position (epoch, offset) this node knows of while it
    /// has subscribers: from the store when the first one subscribed, then from
    /// every publication delivered. New subscribers are positioned from it
    /// without reading the store.
    position: Mutex<Option<(Arc<str>, u64)>>,
}

impl ChannelSubscribers {
    /// Moves the known position forward to (`epoch`, `offset`); a new epoch replaces it.
    fn advance(&self, epoch: &str, offset: u64) {
        let mut position = lock(&self.position);
        match position.as_mut() {
            Some((known, top)) if **known == *epoch => *top = (*top).max(offset),
            _ => *position = Some((Arc::from(epoch), offset)),
        }
    }
}

/// Timing of pings and deadlines.
#[derive(Debug, Clone, Copy)]
pub struct HubTiming {
    pub ping_interval_ms: i64,
    pub pong_timeout_ms: i64,
    pub connect_timeout_ms: i64,
    pub refresh_grace_ms: i64,
    /// How long fan-outs that follow a write within this window wait to be
    /// written together (0: never); see [`Hub::run_flusher`].
    pub write_coalesce_ms: u64,
}

impl Default for HubTiming {
    fn default() -> Self {
        Self {
            ping_interval_ms: 25_000,
            pong_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            refresh_grace_ms: 25_000,
            write_coalesce_ms: 5,
        }
    }
}

pub struct Hub {
    connections: Mutex<HashMap<ConnId, Arc<Connection>>>,
    /// Connections corked by fan-outs since the flusher last ran.
    corked: Mutex<Vec<Arc<Connection>>>,
    /// Wakes the flusher.
    flush: Notify,
    /// When fan-outs last reached the sockets, in microseconds since `started`:
    /// a fan-out within [`HubTiming::write_coalesce_ms`] of it is corked.
    last_write_us: AtomicU64,
    started: std::time::Instant,
    /// A large channel's fan-out waits among the corked ones: only then does
    /// the flusher wait for the window (small channels' batches never do).
    large_corked: AtomicBool,
    channels: RwLock<HashMap<Arc<str>, ChannelSubscribers>>,
    next_id: AtomicU64,
    queue_capacity: usize,
    timing: HubTiming,
    metrics: Arc<RealtimeMetrics>,
    /// In cluster mode, where joins and leaves go to be mirrored into Redis.
    presence_changes: Option<mpsc::Sender<LocalPresenceChange>>,
    /// Authenticated connections per user on this node.
    per_user: Mutex<HashMap<Arc<str>, usize>>,
    /// Every channel's latest publications, for clients that recover.
    recent: RecentPublications,
    /// Subscriptions a subscription token allowed, until it ends.
    token_subscriptions: TokenSubscriptions,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

/// A snapshot of a channel's presence on this node.
#[derive(Debug, Default)]
pub struct PresenceSnapshot {
    pub clients: Vec<ClientInfo>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One message's frame in each format, built when a recipient first needs it.
#[derive(Default)]
struct PerFormat {
    json: Option<Frame>,
    protobuf: Option<Frame>,
}

impl PerFormat {
    fn get(&mut self, format: Format, build: impl FnOnce() -> Frame) -> &Frame {
        match format {
            Format::Json => self.json.get_or_insert_with(build),
            Format::Protobuf => self.protobuf.get_or_insert_with(build),
        }
    }
}

/// Pushes a `join` or `leave` to the channel's subscribers that asked for them.
/// The frame is built only when someone listens, so subscribing stays cheap in
/// a reconnect storm.
fn announce(subs: &ChannelSubscribers, channel: &str, kind: PresenceKind, info: &ClientInfo) {
    if subs.listeners == 0 {
        return;
    }
    let listeners = subs.by_conn.values().filter(|s| s.join_leave);
    let push = protocol::push(channel, kind.push_name(), &serde_json::json!({ "info": info }));
    let mut frames = PerFormat::default();
    for other in listeners {
        let format = other.conn.format;
        other.conn.send(frames.get(format, || frame_in(format, &push)).clone());
    }
}

impl Hub {
    /// A hub; `presence_changes` receives every join and leave (cluster mode).
    pub fn new(
        queue_capacity: usize,
        timing: HubTiming,
        metrics: Arc<RealtimeMetrics>,
        presence_changes: Option<mpsc::Sender<LocalPresenceChange>>,
        recent: RecentPublications,
    ) -> Self {
        Self {
            connections: Mutex::new(HashMap::new()),
            corked: Mutex::new(Vec::new()),
            flush: Notify::new(),
            last_write_us: AtomicU64::new(0),
            large_corked: AtomicBool::new(false),
            started: std::time::Instant::now(),
            channels: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(8),
            timing,
            metrics,
            presence_changes,
            per_user: Mutex::new(HashMap::new()),
            recent,
            token_subscriptions: TokenSubscriptions::default(),
        }
    }

    /// The latest publications of each channel (see [`RecentPublications`]).
    pub fn recent(&self) -> &RecentPublications {
        &self.recent
    }

    /// Authenticates a connection unless its user already holds `limit`
    /// connections on this node. A connection is counted once, however often it
    /// refreshes its token afterwards.
    pub fn admit(&self, conn: &Connection, auth: ConnAuth, limit: usize) -> bool {
        let mut per_user = lock(&self.per_user);
        let held = per_user.entry(auth.user.clone()).or_insert(0);
        if *held >= limit {
            return false;
        }
        *held += 1;
        conn.set_auth(auth);
        true
    }

    /// Hands a join or leave to the cluster presence writer. Never blocks: when
    /// its queue is full the change is dropped and the writer's next reconcile
    /// (which compares Redis with this hub) repairs it.
    fn report(&self, kind: PresenceKind, channel: &Arc<str>, info: &ClientInfo) {
        let Some(changes) = &self.presence_changes else { return };
        let change = LocalPresenceChange { kind, channel: channel.clone(), info: info.clone() };
        if changes.try_send(change).is_err() {
            self.metrics.presence_changes_dropped.inc();
        }
    }

    pub fn timing(&self) -> HubTiming {
        self.timing
    }

    /// Registers a new (not yet authenticated) connection on `socket`.
    pub fn open(&self, socket: Socket, format: Format) -> Arc<Connection> {
        let now = now_ms();
        // Spread first pings over the interval so reconnect storms do not ping in lockstep.
        let jitter = (rand::random::<u64>() % (self.timing.ping_interval_ms.max(1) as u64 / 2 + 1)) as i64;
        let first_ping = now + self.timing.ping_interval_ms / 2 + jitter;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Connection::new(id, socket, format, self.queue_capacity, now, first_ping));
        lock(&self.connections).insert(conn.id, conn.clone());
        self.metrics.connections.inc();
        conn
    }

    /// Forgets a connection and all its subscriptions (sending leave pushes).
    pub fn remove(&self, conn: &Connection) {
        if lock(&self.connections).remove(&conn.id).is_none() {
            return;
        }
        self.metrics.connections.dec();
        if let Some(auth) = conn.auth() {
            let mut per_user = lock(&self.per_user);
            if let Some(held) = per_user.get_mut(&*auth.user) {
                *held = held.saturating_sub(1);
                if *held == 0 {
                    per_user.remove(&*auth.user);
                }
            }
        }
        for channel in self.channels_of(conn) {
            self.unsubscribe(conn, &channel);
        }
    }

    /// Adds an authenticated connection as a subscriber; announces the join to
    /// subscribers that asked for join/leave.
    pub fn subscribe(&self, conn: &Arc<Connection>, channel: &Arc<str>, join_leave: bool) {
        let mut channels = write(&self.channels);
        let subs = channels.entry(channel.clone()).or_default();
        if let Some(info) = conn.client_info() {
            announce(subs, channel, PresenceKind::Join, &info);
            self.report(PresenceKind::Join, channel, &info);
        }
        match subs.by_conn.insert(conn.id, Subscriber { conn: conn.clone(), format: conn.format, join_leave }) {
            None => {
                self.metrics.subscriptions.inc();
            }
            Some(replaced) => subs.listeners -= usize::from(replaced.join_leave),
        }
        subs.listeners += usize::from(join_leave);
        let mut subscribed = lock(&conn.channels);
        if !subscribed.iter().any(|c| **c == **channel) {
            // Most connections hold one or two channels: no room to spare.
            subscribed.reserve_exact(1);
            subscribed.push(channel.clone());
        }
    }

    /// The channel's name as one shared copy: the hub's own while the channel
    /// has subscribers on this node, so its thousand subscribers do not each
    /// keep a copy in their write state.
    pub fn channel_name(&self, channel: &str) -> Arc<str> {
        match read(&self.channels).get_key_value(channel) {
            Some((name, _)) => name.clone(),
            None => Arc::from(channel),
        }
    }

    /// The latest position of `channel` known to this node, if it has
    /// subscribers (so it has been following the channel's publications).
    pub fn position(&self, channel: &str) -> Option<(Arc<str>, u64)> {
        read(&self.channels).get(channel).and_then(|subs| lock(&subs.position).clone())
    }

    /// A position read from the store after subscribing: kept unless a
    /// publication already moved the channel past it.
    pub fn note_position(&self, channel: &str, epoch: &str, offset: u64) {
        if let Some(subs) = read(&self.channels).get(channel) {
            subs.advance(epoch, offset);
        }
    }

    /// Removes a subscriber; returns whether it was subscribed.
    pub fn unsubscribe(&self, conn: &Connection, channel: &str) -> bool {
        let name = {
            let mut subscribed = lock(&conn.channels);
            match subscribed.iter().position(|c| **c == *channel) {
                Some(i) => subscribed.swap_remove(i),
                None => Arc::from(channel),
            }
        };
        let mut channels = write(&self.channels);
        let Some(subs) = channels.get_mut(channel) else { return false };
        let Some(gone) = subs.by_conn.swap_remove(&conn.id) else { return false };
        self.metrics.subscriptions.dec();
        subs.listeners -= usize::from(gone.join_leave);
        if let Some(info) = gone.conn.client_info() {
            announce(subs, channel, PresenceKind::Leave, &info);
            self.report(PresenceKind::Leave, &name, &info);
        }
        if subs.by_conn.is_empty() {
            channels.remove(channel);
        }
        true
    }

    pub fn is_subscribed(&self, conn: &Connection, channel: &str) -> bool {
        lock(&conn.channels).iter().any(|c| **c == *channel)
    }

    pub fn subscription_count(&self, conn: &Connection) -> usize {
        lock(&conn.channels).len()
    }

    /// The channels a connection is subscribed to.
    pub fn channels_of(&self, conn: &Connection) -> Vec<Arc<str>> {
        lock(&conn.channels).iter().cloned().collect()
    }

    pub fn presence(&self, channel: &str) -> PresenceSnapshot {
        let channels = read(&self.channels);
        PresenceSnapshot {
            clients: channels
                .get(channel)
                .map(|s| s.by_conn.values().filter_map(|s| s.conn.client_info()).collect())
                .unwrap_or_default(),
        }
    }

    /// Every subscription of this node with its client info (what cluster
    /// presence mirrors into Redis).
    pub fn local_presence(&self) -> Vec<(Arc<str>, ClientInfo)> {
        let channels = read(&self.channels);
        channels
            .iter()
            .flat_map(|(name, subs)| {
                subs.by_conn.values().filter_map(move |s| Some((name.clone(), s.conn.client_info()?)))
            })
            .collect()
    }

    /// Every channel with subscribers on this node, and how many.
    pub fn channel_counts(&self) -> Vec<(String, usize)> {
        read(&self.channels).iter().map(|(name, subs)| (name.to_string(), subs.by_conn.len())).collect()
    }

    /// Every live connection (a snapshot; no lock is held afterwards).
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        lock(&self.connections).values().cloned().collect()
    }

    /// Closes every connection with `reason` (e.g. shutdown).
    pub fn close_all(&self, reason: Disconnect) {
        for conn in self.connections() {
            conn.close(reason);
        }
    }

    pub fn connection_count(&self) -> usize {
        lock(&self.connections).len()
    }

    /// Distinct users with an authenticated connection on this node.
    pub fn user_count(&self) -> usize {
        lock(&self.per_user).len()
    }

    /// Pings, pong and connect deadlines, token expiry, stalled writes. Called
    /// once a second. What each connection needs is decided under the
    /// connections lock and done after it: most need nothing in a given
    /// second, and none is cloned for the look.
    pub fn tick(&self, now: i64) {
        let due: Vec<(Arc<Connection>, Due)> =
            lock(&self.connections).values().filter_map(|conn| Some((conn.clone(), self.due(conn, now)?))).collect();
        for (conn, due) in due {
            match due {
                Due::Close(Disconnect::SlowConsumer) => {
                    tracing::warn!(client = %conn.client_id, "slow consumer: nothing written for too long, closing");
                    conn.close(Disconnect::SlowConsumer);
                }
                Due::Close(reason) => conn.close(reason),
                Due::Ping => conn.ping(),
            }
        }
        // A subscription token's subscription not refreshed in time ends (the
        // SDK resubscribes with a new token, as for Centrifugo's 2501).
        for (conn, channel) in self.token_subscriptions.take_ended(now - self.timing.refresh_grace_ms) {
            if self.end_subscription(&conn, &channel, SUBSCRIPTION_EXPIRED, "subscription expired") {
                tracing::info!(client = %conn.client_id, %channel, "subscription token expired: unsubscribed");
            }
        }
    }

    /// What `conn` needs this second, if anything; a ping due is marked sent.
    fn due(&self, conn: &Connection, now: i64) -> Option<Due> {
        if conn.stalled(now) {
            return Some(Due::Close(Disconnect::SlowConsumer));
        }
        let Some(expires_at_ms) = conn.auth_expires_at_ms() else {
            return (now - conn.opened_at_ms > self.timing.connect_timeout_ms).then_some(Due::Close(Disconnect::Stale));
        };
        if now > expires_at_ms + self.timing.refresh_grace_ms {
            return Some(Due::Close(Disconnect::Expired));
        }
        let sent = conn.ping_sent_at_ms.load(Ordering::Acquire);
        if sent != 0 && now - sent > self.timing.pong_timeout_ms {
            return Some(Due::Close(Disconnect::NoPong));
        }
        if now < conn.next_ping_at_ms.load(Ordering::Acquire) {
            return None;
        }
        conn.next_ping_at_ms.store(now + self.timing.ping_interval_ms, Ordering::Release);
        if sent == 0 {
            conn.ping_sent_at_ms.store(now, Ordering::Release);
        }
        Some(Due::Ping)
    }

    /// Ends a subscription the server took away and tells the client with the
    /// unsubscribe push `code` (no later publication of it reaches the
    /// connection); false when it was not subscribed.
    pub fn end_subscription(&self, conn: &Connection, channel: &str, code: u16, reason: &str) -> bool {
        if !self.unsubscribe(conn, channel) {
            return false;
        }
        let push = protocol::push(channel, "unsubscribe", &serde_json::json!({ "code": code, "reason": reason }));
        conn.unsubscribed(channel, Some(conn.frame(&push)));
        true
    }

    /// The subscription of `conn` to `channel`, which a subscription token
    /// allowed, ends at `until_ms` unless a new token moves it.
    pub fn expire_subscription_at(&self, conn: &Arc<Connection>, channel: Arc<str>, until_ms: i64) {
        self.token_subscriptions.set(conn, channel, until_ms);
    }
}

/// The unsubscribe push code of a subscription whose token expired (the client resubscribes).
pub const SUBSCRIPTION_EXPIRED: u16 = 2501;

/// What the tick does to a connection this second.
enum Due {
    Close(Disconnect),
    Ping,
}

/// How many subscribers' connections a fan-out reads ahead of writing to them.
/// Each subscriber's first touch of its connection is a cache miss (10,000
/// connections do not stay in the cache between publications), and the lock
/// taken for the write waits for it. Reading a group's connections first,
/// with no lock in between, lets the processor fetch the group's lines at
/// once: one wait per group instead of one per subscriber.
const TOUCH_AHEAD: usize = 16;

/// Channels with fewer subscribers are written at once even within a
/// coalescing window ([`HubTiming::write_coalesce_ms`]): a window saves a
/// channel one write per subscriber, which below this is a few system calls,
/// not worth a personal channel's push waiting.
const COALESCE_MIN_SUBSCRIBERS: usize = 100;

impl Hub {
    /// Writes what fan-outs corked: each connection's frames in one write.
    /// False when nothing was corked.
    pub fn flush_corked(&self) -> bool {
        let corked = std::mem::take(&mut *lock(&self.corked));
        let any = !corked.is_empty();
        for conn in corked {
            conn.uncork();
        }
        any
    }

    /// Microseconds since the hub started, never 0 (0 means "no write yet").
    fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1
    }

    fn note_write(&self) {
        self.last_write_us.store(self.now_us(), Ordering::Relaxed);
    }

    /// How long a fan-out now waits to be written with those after it: the
    /// rest of the coalescing window that the last write opened, if any.
    fn coalesce_wait(&self) -> Option<std::time::Duration> {
        let window = self.timing.write_coalesce_ms.saturating_mul(1000);
        let last = self.last_write_us.load(Ordering::Relaxed);
        if window == 0 || last == 0 {
            return None;
        }
        let (due, now) = (last.saturating_add(window), self.now_us());
        (due > now).then(|| std::time::Duration::from_micros(due - now))
    }

    /// Writes corked fan-outs until `shutdown` (then once more). Woken by a
    /// fan-out, it first lets every other ready task run (more publications
    /// being committed and delivered, requests being answered), so under load
    /// the publications of a whole turn of the runtime leave in one write per
    /// connection, as an event loop corks its sockets until the end of an
    /// iteration; at rest it runs at once.
    ///
    /// With a coalescing window ([`HubTiming::write_coalesce_ms`]), a fan-out
    /// to a large channel ([`COALESCE_MIN_SUBSCRIBERS`]) that comes within the
    /// window after the last large write is corked too and written when the
    /// window ends, with every fan-out that came meanwhile: under a steady
    /// stream of publications each subscriber gets one write (one system call
    /// here, one wake-up and read in the client) per window instead of one per
    /// publication, for at most a window's delay. A publication after a quiet
    /// spell, or to a small channel, is still written at once, and a batch that
    /// corks only small channels never waits for a window.
    pub async fn run_flusher(&self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = self.flush.notified() => {}
                () = shutdown.cancelled() => break,
            }
            let large = self.large_corked.swap(false, Ordering::Relaxed);
            if let Some(wait) = self.coalesce_wait().filter(|_| large) {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => break,
                }
            }
            tokio::task::yield_now().await;
            if self.flush_corked() && large {
                self.note_write();
            }
        }
        self.flush_corked();
    }

    /// Fans one publication of `message` on `route` out to this node's
    /// subscribers; with `corked`, corks each on first sight and collects them
    /// there, otherwise writes at once (a connection corked by an earlier batch
    /// still queues it behind what it holds).
    fn fan_out(
        &self,
        subs: &ChannelSubscribers,
        message: &BusMessage,
        route: &solo_store::Route,
        mut corked: Option<&mut Vec<Arc<Connection>>>,
    ) {
        let Some(bytes) = protocol::publication_push(
            &route.channel,
            &message.envelope,
            route.offset,
            &message.event_type,
            &message.trace_id,
        ) else {
            tracing::error!(trace_id = %message.trace_id, "stored envelope is not JSON; not delivered");
            return;
        };
        // Most subscribers speak JSON; the protobuf frame is built for the first that does not.
        let mut frames = PerFormat { json: Some(websocket::text_frame(&bytes)), protobuf: None };
        let mut ahead = subs.by_conn.values();
        for (n, sub) in subs.by_conn.values().enumerate() {
            if n % TOUCH_AHEAD == 0 {
                for next in ahead.by_ref().take(TOUCH_AHEAD) {
                    std::hint::black_box(next.conn.touch());
                }
            }
            let frame = frames.get(sub.format, || {
                websocket::binary_frame(&protobuf::publication_push(
                    &route.channel,
                    &message.envelope,
                    route.offset,
                    &message.event_type,
                    &message.trace_id,
                ))
            });
            match corked.as_deref_mut() {
                Some(corked) => {
                    if sub.conn.publish_corked(&route.channel, route.offset, frame) {
                        corked.push(sub.conn.clone());
                    }
                }
                None => sub.conn.publish(&route.channel, route.offset, frame),
            }
        }
        // Added up once per publication rather than one atomic add per recipient.
        self.metrics.publications_delivered.inc_by(subs.by_conn.len() as u64);
    }
}

impl BusSink for Hub {
    fn deliver(&self, message: &BusMessage) {
        self.deliver_batch(std::slice::from_ref(message));
    }

    /// Queues the batch's frames on every subscriber, corked, when there are
    /// several; the flusher writes them (see [`Hub::run_flusher`]).
    fn deliver_batch(&self, messages: &[BusMessage]) {
        let channels = read(&self.channels);
        let several = messages.iter().map(|m| m.routes.len()).sum::<usize>() > 1;
        let coalescing = self.coalesce_wait().is_some();
        let mut corked = Vec::new();
        let mut wrote_large = false;
        let mut corked_large = false;
        for message in messages {
            // A span per event when spans are exported (SOLO_OTLP_ENDPOINT), in the event's trace.
            let span = if solo_domain::spans::exported() {
                let span = tracing::info_span!(
                    "realtime.delivery",
                    event_type = %message.event_type,
                    recipients = tracing::field::Empty
                );
                crate::traces::join(&span, &message.trace_id, None);
                span
            } else {
                tracing::Span::none()
            };
            let _in_span = span.enter();
            let mut recipients = 0;
            for route in &message.routes {
                // Recorded before the fan-out below: a client that registers after
                // this point finds it here, one that registered before receives it live.
                self.recent.record(&route.channel, &route.epoch, route.offset, &message.envelope);
                let Some(subs) = channels.get(route.channel.as_str()) else { continue };
                subs.advance(&route.epoch, route.offset);
                recipients += subs.by_conn.len();
                let large = subs.by_conn.len() >= COALESCE_MIN_SUBSCRIBERS;
                let cork = several || (large && coalescing);
                wrote_large |= large && !cork;
                corked_large |= large && cork;
                self.fan_out(subs, message, route, cork.then_some(&mut corked));
            }
            // As a signed integer: the exporter sends unsigned ones as text.
            span.record("recipients", i64::try_from(recipients).unwrap_or(i64::MAX));
        }
        drop(channels);
        if wrote_large {
            self.note_write();
        }
        if !corked.is_empty() {
            lock(&self.corked).append(&mut corked);
            if corked_large {
                self.large_corked.store(true, Ordering::Relaxed);
            }
            self.flush.notify_one();
        }
    }

    /// A subscriber of another node joined or left: tell local listeners.
    fn presence_changed(&self, change: &RemotePresenceChange) {
        let channels = read(&self.channels);
        if let Some(subs) = channels.get(change.channel.as_str()) {
            announce(subs, &change.channel, change.kind, &change.info);
        }
    }

    /// The bus may have lost publications: every client reconnects (3010) and
    /// recovers from the store's history.
    fn resync(&self) {
        self.recent.clear();
        for subs in read(&self.channels).values() {
            *lock(&subs.position) = None;
        }
        self.close_all(Disconnect::InsufficientState);
    }
}

/// Presence of a single node: its hub knows everyone. (A cluster asks Redis.)
#[async_trait::async_trait]
impl Presence for Hub {
    async fn clients(&self, channel: &str) -> Result<Vec<ClientInfo>, PresenceError> {
        Ok(self.presence(channel).clients)
    }

    async fn channels(&self) -> Result<Vec<(String, usize)>, PresenceError> {
        Ok(self.channel_counts())
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use solo_domain::UserId;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    fn hub() -> Hub {
        hub_coalescing(HubTiming::default().write_coalesce_ms)
    }

    fn hub_coalescing(write_coalesce_ms: u64) -> Hub {
        Hub::new(
            64,
            HubTiming { write_coalesce_ms, ..HubTiming::default() },
            Arc::new(RealtimeMetrics::default()),
            None,
            RecentPublications::new(16, 1 << 20),
        )
    }

    /// `count` connections live on `channel` from offset 0, with their clients.
    async fn subscribers(hub: &Hub, channel: &Arc<str>, count: usize) -> Vec<(Arc<Connection>, TcpStream)> {
        let mut opened = Vec::with_capacity(count);
        for _ in 0..count {
            let (conn, client) = open(hub).await;
            hub.subscribe(&conn, channel, false);
            conn.go_live(vec![(channel.clone(), 0)], websocket::text_frame(b"{}"));
            opened.push((conn, client));
        }
        opened
    }

    fn publication(channel: &str, offset: u64) -> BusMessage {
        BusMessage {
            event_type: "test.event".into(),
            trace_id: "trace".into(),
            envelope: Arc::from(format!(r#"{{"n":{offset}}}"#)),
            routes: vec![solo_store::Route { channel: channel.into(), offset, epoch: "e1".into() }],
        }
    }

    /// Reads from `client` until every one of `expected` has arrived, in that order.
    async fn read_in_order(client: &mut TcpStream, expected: &[&str]) {
        use tokio::io::AsyncReadExt;
        let mut seen = String::new();
        let mut chunk = [0u8; 4096];
        loop {
            let mut at = 0;
            let all = expected.iter().all(|want| match seen[at..].find(want) {
                Some(found) => {
                    at += found + want.len();
                    true
                }
                None => false,
            });
            if all {
                return;
            }
            let n = client.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before {expected:?} arrived; got {seen}");
            seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }

    #[tokio::test]
    async fn a_large_channel_s_publications_within_the_window_wait_and_leave_together() {
        // A window far longer than the test: only the explicit flush below writes.
        let hub = hub_coalescing(600_000);
        let large: Arc<str> = Arc::from("mission:large");
        let mut clients = subscribers(&hub, &large, COALESCE_MIN_SUBSCRIBERS).await;
        let small: Arc<str> = Arc::from("notifications:one");
        let mut lone = subscribers(&hub, &small, 1).await;

        hub.deliver(&publication(&large, 1));
        assert!(clients.iter().all(|(conn, _)| !conn.has_backlog()), "the first is written at once");
        hub.deliver(&publication(&large, 2));
        assert!(clients.iter().all(|(conn, _)| conn.has_backlog()), "the next one waits for the window");
        hub.deliver(&publication(&small, 1));
        assert!(!lone[0].0.has_backlog(), "a small channel is not held back");
        read_in_order(&mut lone[0].1, &[r#""n":1"#]).await;

        assert!(hub.flush_corked());
        assert!(clients.iter().all(|(conn, _)| !conn.has_backlog()));
        for (_, client) in clients.iter_mut().take(3) {
            read_in_order(client, &[r#""n":1"#, r#""n":2"#]).await;
        }
    }

    #[tokio::test]
    async fn a_batch_of_small_channels_does_not_wait_for_a_large_channel_s_window() {
        let hub = Arc::new(hub_coalescing(600_000));
        let large: Arc<str> = Arc::from("mission:large");
        let _large_clients = subscribers(&hub, &large, COALESCE_MIN_SUBSCRIBERS).await;
        let small: Arc<str> = Arc::from("notifications:one");
        let mut lone = subscribers(&hub, &small, 1).await;
        let stop = CancellationToken::new();
        let flusher = tokio::spawn({
            let (hub, stop) = (hub.clone(), stop.clone());
            async move { hub.run_flusher(stop).await }
        });
        // Written at once, this opens a window of ten minutes.
        hub.deliver(&publication(&large, 1));
        // Two publications in one batch: corked, and written by the flusher.
        hub.deliver_batch(&[publication(&small, 1), publication(&small, 2)]);
        let read = read_in_order(&mut lone[0].1, &[r#""n":1"#, r#""n":2"#]);
        tokio::time::timeout(std::time::Duration::from_secs(60), read)
            .await
            .expect("the small channel's batch waited for the large channel's window");
        stop.cancel();
        flusher.await.expect("flusher");
    }

    #[tokio::test]
    async fn without_a_window_every_lone_publication_is_written_at_once() {
        let hub = hub_coalescing(0);
        let large: Arc<str> = Arc::from("mission:large");
        let clients = subscribers(&hub, &large, COALESCE_MIN_SUBSCRIBERS).await;
        for offset in 1..=3 {
            hub.deliver(&publication(&large, offset));
            assert!(clients.iter().all(|(conn, _)| !conn.has_backlog()), "publication {offset}");
        }
    }

    #[tokio::test]
    async fn the_flusher_writes_what_waited_once_the_window_ends() {
        let hub = Arc::new(hub_coalescing(20));
        let large: Arc<str> = Arc::from("mission:large");
        let mut clients = subscribers(&hub, &large, COALESCE_MIN_SUBSCRIBERS).await;
        let stop = CancellationToken::new();
        let flusher = tokio::spawn({
            let (hub, stop) = (hub.clone(), stop.clone());
            async move { hub.run_flusher(stop).await }
        });
        for offset in 1..=3 {
            hub.deliver(&publication(&large, offset));
        }
        for (_, client) in clients.iter_mut() {
            read_in_order(client, &[r#""n":1"#, r#""n":2"#, r#""n":3"#]).await;
        }
        stop.cancel();
        flusher.await.expect("flusher");
    }

    /// A connection registered on `hub`; the client's end is returned to keep it open.
    async fn open(hub: &Hub) -> (Arc<Connection>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (hub.open(server.into(), Format::Json), client)
    }

    fn auth(user: &UserId) -> ConnAuth {
        ConnAuth {
            user: Arc::from(user.as_str()),
            info: Arc::new(serde_json::json!({})),
            source: Arc::from("pat_test"),
            expires_at_ms: i64::MAX,
        }
    }

    #[tokio::test]
    async fn a_user_holds_at_most_the_limit_of_connections_and_a_closed_one_frees_its_place() {
        let hub = hub();
        let (ada, bo) = (UserId::generate(), UserId::generate());
        let (first, _c1) = open(&hub).await;
        let (second, _c2) = open(&hub).await;
        let (third, _c3) = open(&hub).await;
        assert!(hub.admit(&first, auth(&ada), 2));
        assert!(hub.admit(&second, auth(&ada), 2));
        assert!(!hub.admit(&third, auth(&ada), 2), "a third connection of the same user is refused");
        assert!(third.auth().is_none(), "a refused connection stays unauthenticated");
        assert!(hub.admit(&third, auth(&bo), 2), "the limit is per user");

        // Removing a connection (twice is harmless) gives its user the place back.
        hub.remove(&first);
        hub.remove(&first);
        let (fourth, _c4) = open(&hub).await;
        assert!(hub.admit(&fourth, auth(&ada), 2));
        let (fifth, _c5) = open(&hub).await;
        assert!(!hub.admit(&fifth, auth(&ada), 2), "removing one connection frees one place, not more");
    }

    #[tokio::test]
    async fn removing_a_connection_unsubscribes_it_everywhere() {
        let hub = hub();
        let user = UserId::generate();
        let (conn, _client) = open(&hub).await;
        assert!(hub.admit(&conn, auth(&user), 10));
        for channel in ["mission:a", "mission:b"] {
            hub.subscribe(&conn, &Arc::from(channel), false);
        }
        assert_eq!(hub.subscription_count(&conn), 2);
        assert_eq!(hub.presence("mission:a").clients.len(), 1);
        hub.note_position("mission:a", "e1", 5);
        assert_eq!(hub.position("mission:a"), Some((Arc::from("e1"), 5)));
        hub.remove(&conn);
        assert_eq!(hub.connection_count(), 0);
        assert!(hub.presence("mission:a").clients.is_empty() && hub.presence("mission:b").clients.is_empty());
        assert!(hub.position("mission:a").is_none(), "no position is kept for a channel nobody follows");
    }
}
