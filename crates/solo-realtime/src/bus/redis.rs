//! The bus of a cluster: Redis pub/sub. Each committed event is published once
//! (by the node holding the dispatcher lease) and every node's subscriber hands
//! it to its hub. Every Redis call has a timeout; while Redis is unreachable
//! `publish` fails (the dispatcher keeps the events and retries), `/readyz`
//! says so, and nothing queues in memory. Pub/sub is not durable, so when the
//! subscription comes back after a loss the hub is told to resync: its clients
//! reconnect and recover from the store's history. The same subscription
//! carries the joins and leaves that cluster presence announces.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use super::{Bus, BusError, BusMessage, BusSink, Control};
use crate::presence::{changes_channel, RemotePresenceChange};

const CALL_TIMEOUT: Duration = Duration::from_secs(2);
const RESUBSCRIBE_BACKOFF: Duration = Duration::from_millis(500);

/// One node's command connection to Redis, opened on first use and shared by
/// the bus (publishing) and cluster presence; pub/sub needs its own.
pub struct RedisConnection {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
}

impl RedisConnection {
    pub fn open(url: &str) -> Result<Arc<Self>, redis::RedisError> {
        Ok(Arc::new(Self { client: redis::Client::open(url)?, manager: OnceCell::new() }))
    }

    /// The connection, connecting (with a timeout) if it is not yet.
    pub async fn get(&self) -> Result<ConnectionManager, String> {
        let manager =
            tokio::time::timeout(CALL_TIMEOUT, self.manager.get_or_try_init(|| self.client.get_connection_manager()))
                .await
                .map_err(|_| "timed out connecting to Redis".to_owned())?
                .map_err(|e| e.to_string())?;
        Ok(manager.clone())
    }
}

pub struct RedisBus {
    connection: Arc<RedisConnection>,
    channel: String,
    sinks: Arc<RwLock<Vec<Arc<dyn BusSink>>>>,
    /// Whether the subscription is live: a node that cannot hear the bus is not ready.
    subscribed: Arc<AtomicBool>,
    /// `solo:{cluster}:outbox`: nudges from nodes that committed events.
    outbox_channel: String,
    nudged: Arc<tokio::sync::Notify>,
    /// `solo:{cluster}:control`: orders of the server API for every node.
    control_channel: String,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus").field("channel", &self.channel).finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl RedisBus {
    /// A bus on the Redis at `url`, publishing on `solo:{cluster}:events`. `node`
    /// is this node's id: its own presence announcements are not handed back to it.
    /// Connects lazily, so a node starts (not ready) while Redis is down.
    pub fn new(url: &str, cluster: &str, node: &str) -> Result<Arc<Self>, BusError> {
        let bus = Arc::new(Self {
            connection: RedisConnection::open(url).map_err(unavailable)?,
            channel: format!("solo:{cluster}:events"),
            sinks: Arc::default(),
            subscribed: Arc::default(),
            outbox_channel: format!("solo:{cluster}:outbox"),
            nudged: Arc::default(),
            control_channel: format!("solo:{cluster}:control"),
        });
        let subscription = Subscription {
            client: bus.connection.client.clone(),
            events: bus.channel.clone(),
            presence: changes_channel(cluster),
            outbox: bus.outbox_channel.clone(),
            control: bus.control_channel.clone(),
            nudged: bus.nudged.clone(),
            node: node.to_owned(),
            sinks: bus.sinks.clone(),
            subscribed: bus.subscribed.clone(),
        };
        tokio::spawn(subscription.run());
        Ok(bus)
    }

    async fn publisher(&self) -> Result<ConnectionManager, BusError> {
        self.connection.get().await.map_err(BusError::Unavailable)
    }

    /// The command connection, for cluster presence to share.
    pub fn connection(&self) -> Arc<RedisConnection> {
        self.connection.clone()
    }
}

fn sinks_of(sinks: &RwLock<Vec<Arc<dyn BusSink>>>) -> Vec<Arc<dyn BusSink>> {
    sinks.read().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone())
}

/// The node's one pub/sub connection: committed events, presence changes,
/// outbox nudges and the server API's orders.
struct Subscription {
    client: redis::Client,
    events: String,
    presence: String,
    outbox: String,
    control: String,
    nudged: Arc<tokio::sync::Notify>,
    node: String,
    sinks: Arc<RwLock<Vec<Arc<dyn BusSink>>>>,
    subscribed: Arc<AtomicBool>,
}

impl Subscription {
    /// Keeps the subscription open, forever: hands each message to the sinks, and
    /// after any interruption resubscribes and asks the sinks to resync.
    async fn run(self) {
        let mut had_subscription = false;
        loop {
            let connected = tokio::time::timeout(CALL_TIMEOUT, async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&[&self.events, &self.presence, &self.outbox, &self.control]).await?;
                Ok::<_, redis::RedisError>(pubsub)
            })
            .await;
            let pubsub = match connected {
                Ok(Ok(pubsub)) => pubsub,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot subscribe to the Redis bus; retrying");
                    tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
                    continue;
                }
                Err(_) => {
                    tracing::warn!("subscribing to the Redis bus timed out; retrying");
                    tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
                    continue;
                }
            };
            self.subscribed.store(true, Ordering::Release);
            if had_subscription {
                tracing::warn!("Redis bus subscription restored: clients resync from history");
                for sink in sinks_of(&self.sinks) {
                    sink.resync();
                }
            }
            had_subscription = true;
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                self.handle(&message);
            }
            self.subscribed.store(false, Ordering::Release);
            tracing::warn!("Redis bus subscription lost; resubscribing");
            tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
        }
    }

    fn handle(&self, message: &redis::Msg) {
        if message.get_channel_name() == self.outbox {
            self.nudged.notify_one();
            return;
        }
        let Ok(payload) = message.get_payload::<String>() else { return };
        if message.get_channel_name() == self.control {
            match serde_json::from_str::<Control>(&payload) {
                Ok(order) => {
                    for sink in sinks_of(&self.sinks) {
                        sink.control(&order);
                    }
                }
                Err(e) => tracing::error!(error = %e, "undecodable order on the Redis bus"),
            }
            return;
        }
        if message.get_channel_name() == self.presence {
            match serde_json::from_str::<RemotePresenceChange>(&payload) {
                Ok(change) if change.node == self.node => {}
                Ok(change) => {
                    for sink in sinks_of(&self.sinks) {
                        sink.presence_changed(&change);
                    }
                }
                Err(e) => tracing::error!(error = %e, "undecodable presence change on the Redis bus"),
            }
            return;
        }
        match serde_json::from_str::<BusMessage>(&payload) {
            Ok(message) => {
                for sink in sinks_of(&self.sinks) {
                    sink.deliver(&message);
                }
            }
            Err(e) => tracing::error!(error = %e, "undecodable message on the Redis bus"),
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, messages: &[BusMessage]) -> Result<(), BusError> {
        let mut connection = self.publisher().await?;
        let mut pipeline = redis::pipe();
        for message in messages {
            let payload = serde_json::to_string(message).map_err(unavailable)?;
            pipeline.publish(&self.channel, payload).ignore();
        }
        tokio::time::timeout(CALL_TIMEOUT, pipeline.query_async::<()>(&mut connection))
            .await
            .map_err(|_| unavailable("timed out publishing to Redis"))?
            .map_err(unavailable)
    }

    fn subscribe(&self, sink: Arc<dyn BusSink>) {
        match self.sinks.write() {
            Ok(mut sinks) => sinks.push(sink),
            Err(poisoned) => poisoned.into_inner().push(sink),
        }
    }

    async fn ping(&self) -> Result<(), BusError> {
        if !self.subscribed.load(Ordering::Acquire) {
            return Err(unavailable("not subscribed to the Redis bus"));
        }
        let mut connection = self.publisher().await?;
        tokio::time::timeout(CALL_TIMEOUT, redis::cmd("PING").query_async::<String>(&mut connection))
            .await
            .map_err(|_| unavailable("timed out pinging Redis"))?
            .map(|_| ())
            .map_err(unavailable)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn nudge(&self) -> Result<(), BusError> {
        let mut connection = self.publisher().await?;
        tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("PUBLISH").arg(&self.outbox_channel).arg("").query_async::<()>(&mut connection),
        )
        .await
        .map_err(|_| unavailable("timed out nudging the dispatcher"))?
        .map_err(unavailable)
    }

    fn nudged(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.nudged.clone())
    }

    /// Published on the control channel, which every node (this one included)
    /// hears through its subscription.
    async fn control(&self, order: &Control) -> Result<(), BusError> {
        let payload = serde_json::to_string(order).map_err(unavailable)?;
        let mut connection = self.publisher().await?;
        tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("PUBLISH").arg(&self.control_channel).arg(payload).query_async::<()>(&mut connection),
        )
        .await
        .map_err(|_| unavailable("timed out sending an order to the cluster"))?
        .map_err(unavailable)
    }
}
