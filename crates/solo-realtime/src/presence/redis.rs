//! Cluster presence in Redis.
//!
//! Per channel, a hash maps `{node}/{client}` to the client's info and a sorted
//! set gives each entry its expiry time. The node that owns a connection keeps
//! its entries alive: it writes joins and leaves as they happen and, every third
//! of the TTL, reconciles Redis with its hub (refreshing what is live, removing
//! what it wrote but no longer has). Readers drop expired entries atomically
//! before answering, so a node killed without cleanup stops counting after at
//! most one TTL. Keys carry the channel as a Redis Cluster hash tag, so a
//! channel's hash and sorted set live in the same shard.
//!
//! Presence is best effort where Redis is down: subscribing still works (the
//! next reconcile writes what was missed) and presence queries fail with an
//! error rather than answering from one node's partial view.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use solo_domain::time::now_ms;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{LocalPresenceChange, Presence, PresenceError, PresenceKind, RemotePresenceChange};
use crate::bus::RedisConnection;
use crate::hub::Hub;
use crate::protocol::ClientInfo;
use uuid::Uuid;

const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Changes written to Redis in one round trip.
const BATCH: usize = 256;
/// Entries refreshed in one round trip during a reconcile.
const RECONCILE_CHUNK: usize = 1000;

/// Drops expired entries, then returns the live ones. KEYS: hash, sorted set; ARGV: now (ms).
const READ_SCRIPT: &str = r"
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #expired, 1000 do
  redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 999, #expired)))
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
";

#[derive(Debug, Clone)]
pub struct RedisPresenceOptions {
    /// How long an entry outlives its node's last refresh.
    pub ttl: Duration,
    /// This node's id (the owner part of every entry it writes).
    pub node: String,
    /// The cluster name, the prefix of every key.
    pub cluster: String,
}

pub struct RedisPresence {
    connection: Arc<RedisConnection>,
    options: RedisPresenceOptions,
    read_script: redis::Script,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence").field("options", &self.options).finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> PresenceError {
    PresenceError::Unavailable(e.to_string())
}

/// The pub/sub channel on which nodes announce joins and leaves to each other.
pub fn changes_channel(cluster: &str) -> String {
    format!("solo:{cluster}:presence-changes")
}

impl RedisPresence {
    /// Presence over `connection` (the node's shared command connection).
    pub fn new(connection: Arc<RedisConnection>, options: RedisPresenceOptions) -> Arc<Self> {
        Arc::new(Self { connection, options, read_script: redis::Script::new(READ_SCRIPT) })
    }

    fn hash_key(&self, channel: &str) -> String {
        format!("solo:{}:presence:{{{channel}}}", self.options.cluster)
    }

    fn expiry_key(&self, channel: &str) -> String {
        format!("solo:{}:presence-exp:{{{channel}}}", self.options.cluster)
    }

    fn field(&self, client: &Uuid) -> String {
        format!("{}/{client}", self.options.node)
    }

    async fn connection(&self) -> Result<ConnectionManager, PresenceError> {
        self.connection.get().await.map_err(PresenceError::Unavailable)
    }

    async fn run(&self, pipeline: &redis::Pipeline) -> Result<(), PresenceError> {
        let mut connection = self.connection().await?;
        tokio::time::timeout(CALL_TIMEOUT, pipeline.query_async::<()>(&mut connection))
            .await
            .map_err(|_| unavailable("timed out writing presence to Redis"))?
            .map_err(unavailable)
    }

    /// Adds the commands that (re)write one entry with a fresh expiry.
    fn put(&self, pipeline: &mut redis::Pipeline, channel: &str, info: &ClientInfo, expires_at_ms: i64) {
        let ttl_secs = self.options.ttl.as_secs().max(1) as i64;
        let value = serde_json::to_string(info).unwrap_or_default();
        let field = self.field(&info.client);
        let (hash, expiry) = (self.hash_key(channel), self.expiry_key(channel));
        pipeline.hset(&hash, &field, value).ignore();
        pipeline.zadd(&expiry, &field, expires_at_ms).ignore();
        pipeline.expire(&hash, ttl_secs).ignore();
        pipeline.expire(&expiry, ttl_secs).ignore();
    }

    fn delete(&self, pipeline: &mut redis::Pipeline, channel: &str, client: &Uuid) {
        let field = self.field(client);
        pipeline.hdel(self.hash_key(channel), &field).ignore();
        pipeline.zrem(self.expiry_key(channel), &field).ignore();
    }

    fn expires_at_ms(&self) -> i64 {
        now_ms() + self.options.ttl.as_millis() as i64
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn clients(&self, channel: &str) -> Result<Vec<ClientInfo>, PresenceError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.read_script.key(self.hash_key(channel));
        invocation.key(self.expiry_key(channel)).arg(now_ms());
        let entries: Vec<(String, String)> =
            tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| unavailable("timed out reading presence from Redis"))?
                .map_err(unavailable)?;
        Ok(entries
            .into_iter()
            .filter_map(|(field, value)| match serde_json::from_str::<ClientInfo>(&value) {
                Ok(info) => Some(info),
                Err(e) => {
                    tracing::warn!(%field, error = %e, "undecodable presence entry skipped");
                    None
                }
            })
            .collect())
    }

    /// Walks the channels' presence hashes (SCAN, so Redis is never blocked)
    /// and counts each one's live entries, dropping expired ones as `clients` does.
    async fn channels(&self) -> Result<Vec<(String, usize)>, PresenceError> {
        let prefix = format!("solo:{}:presence:{{", self.options.cluster);
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for c in prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        let mut connection = self.connection().await?;
        let mut names = HashSet::new();
        let mut cursor: u64 = 0;
        loop {
            let scan = redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).clone();
            let (next, keys): (u64, Vec<String>) =
                tokio::time::timeout(CALL_TIMEOUT, scan.query_async(&mut connection))
                    .await
                    .map_err(|_| unavailable("timed out listing presence in Redis"))?
                    .map_err(unavailable)?;
            names.extend(keys.iter().filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix('}').map(str::to_owned)));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let clients = self.clients(&name).await?.len();
            if clients > 0 {
                out.push((name, clients));
            }
        }
        Ok(out)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// An entry this node wrote: channel and client id.
type Written = (Arc<str>, Uuid);

/// Mirrors one node's hub into Redis until stopped, then removes its entries.
pub struct PresenceWriter {
    presence: Arc<RedisPresence>,
    hub: Arc<Hub>,
    changes: mpsc::Receiver<LocalPresenceChange>,
    written: HashSet<Written>,
}

impl PresenceWriter {
    pub fn new(presence: Arc<RedisPresence>, hub: Arc<Hub>, changes: mpsc::Receiver<LocalPresenceChange>) -> Self {
        Self { presence, hub, changes, written: HashSet::new() }
    }

    pub async fn run(mut self, stop: CancellationToken) {
        let period = (self.presence.options.ttl / 3).max(Duration::from_millis(200));
        let mut reconcile = tokio::time::interval(period);
        reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = reconcile.tick() => {
                    if let Err(e) = self.reconcile().await {
                        tracing::warn!(error = %e, "presence refresh failed; retrying at the next tick");
                    }
                }
                received = self.changes.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        break;
                    }
                    self.write_changes(&batch).await;
                    batch.clear();
                }
            }
        }
        // Leave no entries behind on a clean stop: the hub is empty by now.
        while let Ok(change) = self.changes.try_recv() {
            batch.push(change);
        }
        self.write_changes(&batch).await;
        if let Err(e) = self.reconcile().await {
            tracing::warn!(error = %e, "could not remove this node's presence; it expires by TTL");
        }
    }

    /// Writes joins and leaves (and tells the other nodes), in order.
    async fn write_changes(&mut self, changes: &[LocalPresenceChange]) {
        if changes.is_empty() {
            return;
        }
        let presence = &self.presence;
        let expires_at = presence.expires_at_ms();
        let announcements = changes_channel(&presence.options.cluster);
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        for change in changes {
            match change.kind {
                PresenceKind::Join => presence.put(&mut pipeline, &change.channel, &change.info, expires_at),
                PresenceKind::Leave => presence.delete(&mut pipeline, &change.channel, &change.info.client),
            }
            let remote = RemotePresenceChange {
                node: presence.options.node.clone(),
                channel: change.channel.to_string(),
                kind: change.kind,
                info: change.info.clone(),
            };
            if let Ok(payload) = serde_json::to_string(&remote) {
                pipeline.publish(&announcements, payload).ignore();
            }
        }
        let written = presence.run(&pipeline).await;
        if let Err(e) = &written {
            tracing::warn!(error = %e, changes = changes.len(), "presence changes not written; the next refresh repairs them");
        }
        for change in changes {
            let key = (change.channel.clone(), change.info.client);
            match change.kind {
                PresenceKind::Join => {
                    self.written.insert(key);
                }
                // A leave that failed stays recorded, so the next reconcile removes it.
                PresenceKind::Leave if written.is_ok() => {
                    self.written.remove(&key);
                }
                PresenceKind::Leave => {}
            }
        }
    }

    /// Makes Redis hold exactly this node's live subscribers, with fresh expiries.
    async fn reconcile(&mut self) -> Result<(), PresenceError> {
        let live = self.hub.local_presence();
        let live_keys: HashSet<Written> = live.iter().map(|(c, info)| (c.clone(), info.client)).collect();
        let stale: Vec<Written> = self.written.difference(&live_keys).cloned().collect();
        let presence = self.presence.clone();
        let expires_at = presence.expires_at_ms();
        for chunk in stale.chunks(RECONCILE_CHUNK) {
            let mut pipeline = redis::pipe();
            for (channel, client) in chunk {
                presence.delete(&mut pipeline, channel, client);
            }
            presence.run(&pipeline).await?;
            for key in chunk {
                self.written.remove(key);
            }
        }
        for chunk in live.chunks(RECONCILE_CHUNK) {
            let mut pipeline = redis::pipe();
            pipeline.atomic();
            for (channel, info) in chunk {
                presence.put(&mut pipeline, channel, info, expires_at);
            }
            presence.run(&pipeline).await?;
            self.written.extend(chunk.iter().map(|(c, info)| (c.clone(), info.client)));
        }
        Ok(())
    }
}
