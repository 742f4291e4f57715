//! The hub: this node's live connections and their subscriptions.
//!
//! It receives committed events from the bus and fans each one out: the push
//! frame of a publication is serialized once per channel and the same bytes
//! (`Arc<str>`) are queued to every subscriber. Every connection has a bounded
//! queue (its [`Mailbox`]); a subscriber whose queue is full is closed with 3008
//! (slow consumer) instead of growing memory. Locks are std mutexes held for
//! short, synchronous sections only, never across an `.await`.
//!
//! Timers are shared, not per connection: one [`Hub::tick`] per second sends
//! pings, enforces pong and connect deadlines, and closes connections whose
//! token expired without a refresh.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use solo_domain::time::now_ms;
use solo_domain::UserId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::mailbox::{Mailbox, PushError};
use super::protocol::{self, ClientInfo, Disconnect};
use super::recent::RecentPublications;
use crate::bus::{BusMessage, BusSink};
use crate::metrics::Metrics;
use crate::presence::{LocalPresenceChange, PresenceKind, RemotePresenceChange};

pub type ConnId = u64;
/// A frame (or one line of a batched frame), shared between recipients.
pub type Frame = Arc<str>;

/// What a connection's writer is asked to do, in order.
#[derive(Debug)]
pub enum Outgoing {
    /// A reply or push, written as is.
    Frame(Frame),
    /// A publication on a channel; written only if it is the next offset.
    Pub { channel: Arc<str>, offset: u64, frame: Frame },
    /// A subscription is being set up: hold its publications until it is ready.
    SubscribeStart { channel: Arc<str> },
    /// Subscriptions are ready: write `frame` (the reply), then go live on each
    /// channel from the given offset, releasing what was held.
    SubscribeReady { positions: Vec<(Arc<str>, u64)>, frame: Frame },
    /// Setting up failed: drop what was held (the error reply follows as a frame).
    SubscribeFailed { channel: Arc<str> },
    /// The subscription ended: write `frame` if any and drop later publications.
    Unsubscribed { channel: Arc<str>, frame: Option<Frame> },
    /// A server ping (`{}`).
    Ping,
}

/// Who a connection belongs to, once `connect` succeeded.
#[derive(Debug, Clone)]
pub struct ConnAuth {
    pub user_id: UserId,
    /// Shared with every subscription's [`ClientInfo`] rather than copied.
    pub info: Arc<serde_json::Value>,
    /// The credential the connection token came from (`pat_…` or `session:<hash>`).
    pub source: String,
    pub expires_at_ms: i64,
}

/// Shared state of one connection.
#[derive(Debug)]
pub struct Connection {
    pub id: ConnId,
    pub client_id: String,
    mailbox: Mailbox,
    closed: CancellationToken,
    /// Set with `closed`; read on hot paths, where the token's lock would cost.
    closing: AtomicBool,
    close_reason: OnceLock<Disconnect>,
    opened_at_ms: i64,
    auth: Mutex<Option<ConnAuth>>,
    next_ping_at_ms: AtomicI64,
    /// When the outstanding ping was sent; 0 when none is outstanding.
    ping_sent_at_ms: AtomicI64,
    /// The channels this connection is subscribed to, so per-connection questions
    /// never scan every channel of the node.
    channels: Mutex<HashSet<Arc<str>>>,
}

impl Connection {
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// Queues `message` for the writer; a full queue closes the connection as a
    /// slow consumer (a closed one is already going away).
    pub fn push_or_close(&self, message: Outgoing) {
        if self.mailbox.push(message) == Err(PushError::Full) {
            self.close(Disconnect::SlowConsumer);
        }
    }

    /// Closes the connection with `reason` (the first reason given wins).
    pub fn close(&self, reason: Disconnect) {
        let _ = self.close_reason.set(reason);
        self.end();
    }

    /// Ends the connection without a reason of its own (the client left).
    pub fn end(&self) {
        self.closing.store(true, Ordering::Release);
        self.closed.cancel();
        // The writer waits on its mailbox only: wake it to see the flag.
        self.mailbox.wake();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    pub fn close_reason(&self) -> Option<Disconnect> {
        self.close_reason.get().copied()
    }

    pub fn auth(&self) -> Option<ConnAuth> {
        self.auth.lock().map(|a| a.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn set_auth(&self, auth: ConnAuth) {
        match self.auth.lock() {
            Ok(mut slot) => *slot = Some(auth),
            Err(p) => *p.into_inner() = Some(auth),
        }
    }

    /// A pong arrived; false when no ping was outstanding (a protocol error).
    pub fn pong(&self) -> bool {
        self.ping_sent_at_ms.swap(0, Ordering::AcqRel) != 0
    }
}

struct Subscriber {
    conn: Arc<Connection>,
    join_leave: bool,
    info: ClientInfo,
}

#[derive(Default)]
struct ChannelSubscribers {
    by_conn: HashMap<ConnId, Subscriber>,
}

/// Timing of pings and deadlines.
#[derive(Debug, Clone, Copy)]
pub struct HubTiming {
    pub ping_interval_ms: i64,
    pub pong_timeout_ms: i64,
    pub connect_timeout_ms: i64,
    pub refresh_grace_ms: i64,
}

impl Default for HubTiming {
    fn default() -> Self {
        Self { ping_interval_ms: 25_000, pong_timeout_ms: 10_000, connect_timeout_ms: 10_000, refresh_grace_ms: 25_000 }
    }
}

pub struct Hub {
    connections: Mutex<HashMap<ConnId, Arc<Connection>>>,
    channels: RwLock<HashMap<Arc<str>, ChannelSubscribers>>,
    next_id: AtomicU64,
    queue_capacity: usize,
    timing: HubTiming,
    metrics: Arc<Metrics>,
    /// In cluster mode, where joins and leaves go to be mirrored into Redis.
    presence_changes: Option<mpsc::Sender<LocalPresenceChange>>,
    /// Authenticated connections per user on this node.
    per_user: Mutex<HashMap<UserId, usize>>,
    /// Every channel's latest publications, for clients that recover.
    recent: RecentPublications,
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

/// Pushes a `join` or `leave` to the channel's subscribers that asked for them.
/// The frame is built only when someone listens, so subscribing stays cheap in
/// a reconnect storm.
fn announce(subs: &ChannelSubscribers, channel: &str, kind: PresenceKind, info: &ClientInfo) {
    let mut listeners = subs.by_conn.values().filter(|s| s.join_leave).peekable();
    if listeners.peek().is_none() {
        return;
    }
    let push = protocol::push(channel, kind.push_name(), &serde_json::json!({ "info": info }));
    let frame: Frame = Arc::from(String::from_utf8_lossy(&push).as_ref());
    for other in listeners {
        other.conn.push_or_close(Outgoing::Frame(frame.clone()));
    }
}

impl Hub {
    /// A hub; `presence_changes` receives every join and leave (cluster mode).
    pub fn new(
        queue_capacity: usize,
        timing: HubTiming,
        metrics: Arc<Metrics>,
        presence_changes: Option<mpsc::Sender<LocalPresenceChange>>,
        recent: RecentPublications,
    ) -> Self {
        Self {
            connections: Mutex::new(HashMap::new()),
            channels: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(8),
            timing,
            metrics,
            presence_changes,
            per_user: Mutex::new(HashMap::new()),
            recent,
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
        let held = per_user.entry(auth.user_id.clone()).or_insert(0);
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

    /// Registers a new (not yet authenticated) connection.
    pub fn open(&self) -> Arc<Connection> {
        let now = now_ms();
        // Spread first pings over the interval so reconnect storms do not ping in lockstep.
        let jitter = (rand::random::<u64>() % (self.timing.ping_interval_ms.max(1) as u64 / 2 + 1)) as i64;
        let conn = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            client_id: uuid::Uuid::new_v4().to_string(),
            mailbox: Mailbox::new(self.queue_capacity),
            closed: CancellationToken::new(),
            closing: AtomicBool::new(false),
            close_reason: OnceLock::new(),
            opened_at_ms: now,
            auth: Mutex::new(None),
            next_ping_at_ms: AtomicI64::new(now + self.timing.ping_interval_ms / 2 + jitter),
            ping_sent_at_ms: AtomicI64::new(0),
            channels: Mutex::new(HashSet::new()),
        });
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
            if let Some(held) = per_user.get_mut(&auth.user_id) {
                *held = held.saturating_sub(1);
                if *held == 0 {
                    per_user.remove(&auth.user_id);
                }
            }
        }
        for channel in self.channels_of(conn) {
            self.unsubscribe(conn, &channel);
        }
    }

    /// Adds a subscriber; announces the join to subscribers that asked for join/leave.
    pub fn subscribe(&self, conn: &Arc<Connection>, channel: &Arc<str>, join_leave: bool, info: ClientInfo) {
        let mut channels = write(&self.channels);
        let subs = channels.entry(channel.clone()).or_default();
        announce(subs, channel, PresenceKind::Join, &info);
        self.report(PresenceKind::Join, channel, &info);
        if subs.by_conn.insert(conn.id, Subscriber { conn: conn.clone(), join_leave, info }).is_none() {
            self.metrics.subscriptions.inc();
        }
        lock(&conn.channels).insert(channel.clone());
    }

    /// Removes a subscriber; returns whether it was subscribed.
    pub fn unsubscribe(&self, conn: &Connection, channel: &str) -> bool {
        let name = lock(&conn.channels).take(channel).unwrap_or_else(|| Arc::from(channel));
        let mut channels = write(&self.channels);
        let Some(subs) = channels.get_mut(channel) else { return false };
        let Some(gone) = subs.by_conn.remove(&conn.id) else { return false };
        self.metrics.subscriptions.dec();
        announce(subs, channel, PresenceKind::Leave, &gone.info);
        self.report(PresenceKind::Leave, &name, &gone.info);
        if subs.by_conn.is_empty() {
            channels.remove(channel);
        }
        true
    }

    pub fn is_subscribed(&self, conn: &Connection, channel: &str) -> bool {
        lock(&conn.channels).contains(channel)
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
                .map(|s| s.by_conn.values().map(|s| s.info.clone()).collect())
                .unwrap_or_default(),
        }
    }

    /// Every subscription of this node with its client info (what cluster
    /// presence mirrors into Redis).
    pub fn local_presence(&self) -> Vec<(Arc<str>, ClientInfo)> {
        let channels = read(&self.channels);
        channels
            .iter()
            .flat_map(|(name, subs)| subs.by_conn.values().map(move |s| (name.clone(), s.info.clone())))
            .collect()
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

    /// Pings, pong and connect deadlines, token expiry. Called once a second.
    pub fn tick(&self, now: i64) {
        for conn in self.connections() {
            let auth = conn.auth();
            let Some(auth) = auth else {
                if now - conn.opened_at_ms > self.timing.connect_timeout_ms {
                    conn.close(Disconnect::Stale);
                }
                continue;
            };
            if now > auth.expires_at_ms + self.timing.refresh_grace_ms {
                conn.close(Disconnect::Expired);
                continue;
            }
            let sent = conn.ping_sent_at_ms.load(Ordering::Acquire);
            if sent != 0 && now - sent > self.timing.pong_timeout_ms {
                conn.close(Disconnect::NoPong);
                continue;
            }
            if now >= conn.next_ping_at_ms.load(Ordering::Acquire) {
                conn.next_ping_at_ms.store(now + self.timing.ping_interval_ms, Ordering::Release);
                if sent == 0 {
                    conn.ping_sent_at_ms.store(now, Ordering::Release);
                }
                conn.push_or_close(Outgoing::Ping);
            }
        }
    }
}

impl BusSink for Hub {
    fn deliver(&self, message: &BusMessage) {
        let channels = read(&self.channels);
        for route in &message.routes {
            // Recorded before the fan-out below: a client that registers after
            // this point finds it here, one that registered before receives it live.
            self.recent.record(&route.channel, &route.epoch, route.offset, &message.envelope);
            let Some(subs) = channels.get(route.channel.as_str()) else { continue };
            if subs.by_conn.is_empty() {
                continue;
            }
            let Some(bytes) = protocol::publication_push(
                &route.channel,
                &message.envelope,
                route.offset,
                &message.event_type,
                &message.trace_id,
            ) else {
                tracing::error!(trace_id = %message.trace_id, "stored envelope is not JSON; not delivered");
                continue;
            };
            let frame: Frame = Arc::from(String::from_utf8_lossy(&bytes).as_ref());
            let channel: Arc<str> = Arc::from(route.channel.as_str());
            // Added up once per publication rather than one atomic add per recipient.
            let mut delivered = 0;
            for sub in subs.by_conn.values() {
                let outgoing = Outgoing::Pub { channel: channel.clone(), offset: route.offset, frame: frame.clone() };
                match sub.conn.mailbox.push(outgoing) {
                    Ok(()) => delivered += 1,
                    Err(PushError::Full) => {
                        self.metrics.slow_consumer_closes.inc();
                        tracing::warn!(client = %sub.conn.client_id, channel = %route.channel, "slow consumer: queue full, closing");
                        sub.conn.close(Disconnect::SlowConsumer);
                    }
                    Err(PushError::Closed) => {}
                }
            }
            self.metrics.publications_delivered.inc_by(delivered);
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
        self.close_all(Disconnect::InsufficientState);
    }
}
