//! Solo Realtime's engine: everything between a committed event and the
//! sockets of the clients that should see it, and nothing about HTTP routes.
//! The server (`solo-server`) accepts connections and hands each upgraded
//! socket to [`Engine::serve_websocket`]; it publishes committed events through
//! the [`bus::Bus`], whose receiver on every node is the [`hub::Hub`].
//!
//! - [`protocol`]: the Centrifugo client protocol v2: commands (JSON and protobuf), JSON replies, codes.
//! - [`protobuf`]: the protobuf format's replies, transcoded from the JSON ones (publications encoded directly).
//! - [`websocket`]: the WebSocket wire format, with frames built once per publication.
//! - [`connection`]: one connection's state and its write path (direct writes, backlog, 3008).
//! - [`socket`]: the byte stream under a connection (a TCP socket, or a local socket pair's end).
//! - [`transport`]: the task that serves one connection (WebSocket frames on its socket).
//! - [`stream`]: SSE and HTTP-streaming, bidirectional by emulation or unidirectional.
//! - [`session`]: one connection's commands (connect, subscribe and recovery, history, presence).
//! - [`history`]: reading a channel's history (for `history` and the server API).
//! - [`control`]: the server API's orders about connections, applied on every node.
//! - [`hub`]: this node's connections and subscriptions, fan-out, the shared ticker.
//! - [`recent`]: every channel's latest publications, for recovery from memory.
//! - [`token`]: connection JWTs.
//! - [`access`]: who may connect and read which channel, with a short-lived cache.
//! - [`bus`]: the `Bus` seam between nodes (in-process, or Redis pub/sub).
//! - [`presence`]: the `Presence` seam: who is subscribed where (the hub, or Redis).
//! - [`limits`]: the per-connection command budget.
//! - [`metrics`]: the engine's Prometheus metrics.
//! - [`traces`]: spans in an event's trace, for export over OTLP.

pub mod access;
pub mod bus;
pub mod connection;
pub mod control;
pub mod history;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod presence;
pub mod protobuf;
pub mod protocol;
pub mod recent;
pub mod session;
pub mod socket;
pub mod stream;
pub mod token;
mod token_subscriptions;
pub mod traces;
pub mod transport;
pub mod websocket;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use solo_domain::time::now_ms;
use solo_domain::{Channel, ChannelError, UserId};
use solo_store::{Store, StoreResult};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::access::AccessCache;
use crate::bus::Bus;
use crate::hub::{Hub, HubTiming};
use crate::metrics::RealtimeMetrics;
use crate::presence::{Presence, PresenceWriter, RedisPresence};
use crate::protocol::Disconnect;
use crate::recent::RecentPublications;
use crate::token::ConnectionTokens;

/// Joins and leaves waiting for the cluster presence writer; beyond this they
/// are dropped and repaired by its next refresh.
const PRESENCE_QUEUE: usize = 65_536;

/// The engine's settings (the server reads them from its configuration).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Frames a connection may have waiting for its socket before it is
    /// closed as a slow consumer (3008).
    pub queue_capacity: usize,
    pub timing: HubTiming,
    /// Most publications a recovery returns; past it the client reloads.
    pub recovery_max_publications: u64,
    /// Memory for the latest publications of every channel (recovery from memory).
    pub recovery_cache_bytes: usize,
    pub max_connections_per_user: usize,
    /// Largest message a client may send.
    pub max_message_bytes: usize,
    pub commands_per_sec: u32,
    /// How long the store's answers about credentials and memberships are trusted.
    pub access_cache_ttl_ms: u64,
    /// Namespaces of integrators' channels (`chat` for `chat:lobby`): published
    /// by the server API, read with subscription tokens.
    pub integration_namespaces: Vec<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            timing: HubTiming::default(),
            recovery_max_publications: 300,
            recovery_cache_bytes: 32 * 1024 * 1024,
            max_connections_per_user: 100,
            max_message_bytes: 64 * 1024,
            commands_per_sec: 100,
            access_cache_ttl_ms: 5_000,
            integration_namespaces: Vec::new(),
        }
    }
}

/// One node's realtime engine.
pub struct Engine {
    config: EngineConfig,
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    presence: Arc<dyn Presence>,
    tokens: ConnectionTokens,
    metrics: Arc<RealtimeMetrics>,
    node_id: String,
    access: AccessCache,
    /// The connection info of tokens, so the many connections of one user
    /// (tabs, reconnects) share one copy.
    infos: SharedValues<serde_json::Value>,
    /// Likewise the credential (`pat_…`, `session:…`) and user id they came with.
    sources: SharedValues<str>,
    users: SharedValues<str>,
    /// This node's bidirectional HTTP streams, for the emulation endpoint.
    emulated: stream::EmulatedSessions,
}

/// Values that many connections hold alike, kept as one copy per distinct
/// value while any connection holds it. Looked up by the value's hash, so a
/// connect costs one lookup however many users are connected; entries whose
/// value no connection holds any more are swept as the table grows.
struct SharedValues<T: ?Sized> {
    table: Mutex<SharedTable<T>>,
    keys: RandomState,
    /// Feeds a value to a hasher (equal values must feed the same bytes).
    feed: fn(&T, &mut dyn Hasher),
}

struct SharedTable<T: ?Sized> {
    /// The copies filed under each hash (rarely more than one).
    by_hash: HashMap<u64, Vec<Weak<T>>>,
    /// Sweep the dead entries when the table grows past this.
    sweep_at: usize,
}

/// The table is swept no more often than every this many new entries.
const SHARED_SWEEP_MIN: usize = 256;

impl<T: ?Sized + PartialEq> SharedValues<T> {
    fn new(feed: fn(&T, &mut dyn Hasher)) -> Self {
        let table = SharedTable { by_hash: HashMap::new(), sweep_at: SHARED_SWEEP_MIN };
        Self { table: Mutex::new(table), keys: RandomState::new(), feed }
    }

    /// The shared copy equal to `value`, or `value` itself, now shared.
    fn share(&self, value: Arc<T>) -> Arc<T> {
        let mut hasher = self.keys.build_hasher();
        (self.feed)(&value, &mut hasher);
        let hash = hasher.finish();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let copies = table.by_hash.entry(hash).or_default();
        copies.retain(|weak| weak.strong_count() > 0);
        if let Some(shared) = copies.iter().filter_map(Weak::upgrade).find(|shared| **shared == *value) {
            return shared;
        }
        copies.push(Arc::downgrade(&value));
        if table.by_hash.len() > table.sweep_at {
            table.by_hash.retain(|_, copies| copies.iter().any(|weak| weak.strong_count() > 0));
            table.sweep_at = (table.by_hash.len() * 2).max(SHARED_SWEEP_MIN);
        }
        value
    }
}

fn feed_str(text: &str, hasher: &mut dyn Hasher) {
    hasher.write(text.as_bytes());
}

/// A JSON value's text (object keys come sorted, so equal values write alike),
/// fed to the hasher without building the string.
fn feed_json(value: &serde_json::Value, hasher: &mut dyn Hasher) {
    struct Feed<'a>(&'a mut dyn Hasher);
    impl std::fmt::Write for Feed<'_> {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0.write(text.as_bytes());
            Ok(())
        }
    }
    let _ = std::fmt::Write::write_fmt(&mut Feed(hasher), format_args!("{value}"));
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine on `store`, receiving from `bus`. With `cluster_presence`,
    /// subscribers are mirrored into Redis by the returned writer, which must
    /// be run while the engine serves.
    pub fn new(
        config: EngineConfig,
        store: Arc<dyn Store>,
        bus: &dyn Bus,
        tokens: ConnectionTokens,
        metrics: Arc<RealtimeMetrics>,
        node_id: String,
        cluster_presence: Option<Arc<RedisPresence>>,
    ) -> (Arc<Self>, Option<PresenceWriter>) {
        let (changes_tx, changes_rx) = match cluster_presence {
            Some(_) => {
                let (tx, rx) = mpsc::channel(PRESENCE_QUEUE);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let recent = RecentPublications::new(
            usize::try_from(config.recovery_max_publications).unwrap_or(usize::MAX),
            config.recovery_cache_bytes,
        );
        let hub = Arc::new(Hub::new(config.queue_capacity, config.timing, metrics.clone(), changes_tx, recent));
        bus.subscribe(hub.clone());
        let (presence, writer): (Arc<dyn Presence>, _) = match (cluster_presence, changes_rx) {
            (Some(presence), Some(changes)) => {
                (presence.clone(), Some(PresenceWriter::new(presence, hub.clone(), changes)))
            }
            _ => (hub.clone(), None),
        };
        let access = AccessCache::new(config.access_cache_ttl_ms);
        let engine = Arc::new(Self {
            config,
            store,
            hub,
            presence,
            tokens,
            metrics,
            node_id,
            access,
            infos: SharedValues::new(feed_json),
            sources: SharedValues::new(feed_str),
            users: SharedValues::new(feed_str),
            emulated: stream::EmulatedSessions::default(),
        });
        bus.subscribe(Arc::new(control::Orders { engine: Arc::downgrade(&engine) }));
        (engine, writer)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Who is subscribed where, cluster-wide.
    pub fn presence(&self) -> &dyn Presence {
        self.presence.as_ref()
    }

    pub fn tokens(&self) -> &ConnectionTokens {
        &self.tokens
    }

    pub fn metrics(&self) -> &RealtimeMetrics {
        &self.metrics
    }

    /// This process's name in the cluster (shown to clients in `connect`).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn access(&self) -> &AccessCache {
        &self.access
    }

    /// `name` as a product channel, or as a channel of one of the configured
    /// integration namespaces; any other namespace is unknown.
    pub fn channel(&self, name: &str) -> Result<Channel, ChannelError> {
        match Channel::parse(name) {
            Err(ChannelError::UnknownNamespace(unknown)) => {
                let namespace = name.split_once(':').map_or("", |(namespace, _)| namespace);
                if self.config.integration_namespaces.iter().any(|configured| configured == namespace) {
                    Channel::integration(name)
                } else {
                    Err(ChannelError::UnknownNamespace(unknown))
                }
            }
            parsed => parsed,
        }
    }

    /// Whether the credential behind a connection token still stands.
    pub async fn credential_is_valid(&self, source: &Arc<str>, user: &UserId) -> StoreResult<bool> {
        self.access.credential_is_valid(self.store(), source, user).await
    }

    /// `info` as one shared copy per distinct value.
    fn shared_info(&self, info: serde_json::Value) -> Arc<serde_json::Value> {
        self.infos.share(Arc::new(info))
    }

    /// A connection's credential, shared with the other connections it opened.
    fn shared_source(&self, source: String) -> Arc<str> {
        self.sources.share(Arc::from(source))
    }

    /// A user's id as text, shared by that user's connections and subscriptions.
    fn shared_user(&self, user: &str) -> Arc<str> {
        self.users.share(Arc::from(user))
    }

    /// Closes every connection with `reason` (e.g. shutdown).
    pub fn close_all(&self, reason: Disconnect) {
        self.hub.close_all(reason);
    }

    /// Once a second until `shutdown`: pings, pong and connect deadlines, token
    /// expiry, stalled writes.
    pub async fn run_ticker(self: Arc<Self>, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.hub.tick(now_ms()),
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Writes the fan-out's corked frames until `shutdown` (see
    /// [`Hub::run_flusher`]); must outlive the last delivery (the dispatcher's
    /// final drain).
    pub async fn run_flusher(self: Arc<Self>, shutdown: CancellationToken) {
        self.hub.run_flusher(shutdown).await;
    }

    /// Access was taken away somewhere (a token revoked, a session ended, a
    /// member removed, perhaps on another node): forgets cached answers, then
    /// checks every live connection's credential and subscriptions again,
    /// closing (3500) or unsubscribing what no longer stands.
    pub async fn revalidate_all(&self) {
        self.access.clear();
        let hub = &self.hub;
        for conn in hub.connections() {
            let Some(auth) = conn.auth() else { continue };
            let user_id = auth.user_id();
            match self.credential_is_valid(&auth.source, &user_id).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(client = %conn.client_id, user_id = %user_id, "credential revoked: closing connection");
                    conn.close(Disconnect::InvalidToken);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "revalidation failed");
                    continue;
                }
            }
            for channel in hub.channels_of(&conn) {
                let Ok(parsed) = solo_domain::Channel::parse(&channel) else { continue };
                if let Ok(false) = self.access.may_read(self.store(), &user_id, &parsed).await {
                    if hub.end_subscription(&conn, &channel, control::SERVER_UNSUBSCRIBE, "permission revoked") {
                        tracing::info!(client = %conn.client_id, %channel, "permission revoked: unsubscribed");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_copy_and_gone_ones_are_swept() {
        let users: SharedValues<str> = SharedValues::new(feed_str);
        let first = users.share(Arc::from("u_1"));
        let again = users.share(Arc::from("u_1"));
        assert!(Arc::ptr_eq(&first, &again), "an equal value comes back as the same copy");
        assert!(!Arc::ptr_eq(&first, &users.share(Arc::from("u_2"))));

        // Values nobody holds any more leave the table as it grows.
        for n in 0..10 * SHARED_SWEEP_MIN {
            drop(users.share(Arc::from(format!("gone_{n}").as_str())));
        }
        let held = users.table.lock().expect("table").by_hash.len();
        assert!(held <= 2 * SHARED_SWEEP_MIN + 1, "{held} entries kept for 2 live values");
        assert!(Arc::ptr_eq(&first, &users.share(Arc::from("u_1"))), "a held value survives the sweeps");

        let infos: SharedValues<serde_json::Value> = SharedValues::new(feed_json);
        let a = infos.share(Arc::new(serde_json::json!({"name": "Ada", "id": 1})));
        let b = infos.share(Arc::new(serde_json::json!({"id": 1, "name": "Ada"})));
        assert!(Arc::ptr_eq(&a, &b), "the same JSON object, keys in another order");
    }
}
