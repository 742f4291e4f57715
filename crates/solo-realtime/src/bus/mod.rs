//! The `Bus` seam: how committed events reach every node's hub.
//!
//! Delivery guarantee: `publish` returning `Ok` means every node that is
//! subscribed at that moment will be handed the messages, in order. It is not
//! durable: a node that is down or partitioned misses them, and its clients
//! catch up from channel history in the store (offsets tell them what they
//! missed). The dispatcher retries a failed `publish` until it succeeds, so a
//! message may be delivered twice; receivers drop offsets they already passed.

mod redis;

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use solo_store::Route;
use thiserror::Error;

/// One committed event on its way to subscribers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BusMessage {
    pub event_type: String,
    pub trace_id: String,
    /// The envelope's JSON exactly as committed: serialized once, shared by every recipient.
    #[serde(with = "shared_str")]
    pub envelope: Arc<str>,
    /// The channels it is published on, with its offset in each.
    pub routes: Vec<Route>,
}

/// An order from the server API to every node, about connections that may be
/// on any of them (`disconnect`, `unsubscribe`, …). Each node applies it to
/// its own connections; like publications it is not durable: a node that is
/// partitioned when it is sent does not see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Control {
    /// Close the user's connections (only `client`, when given; never those in `keep`).
    Disconnect {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<uuid::Uuid>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keep: Vec<uuid::Uuid>,
        code: u16,
    },
    /// End the user's subscriptions to `channel` (push `unsubscribe`, code 2000).
    Unsubscribe {
        user: String,
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<uuid::Uuid>,
    },
    /// Subscribe the user's connections to `channel` (push `subscribe`); the
    /// sender checked that the user may read it.
    Subscribe {
        user: String,
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<uuid::Uuid>,
    },
    /// Move the expiry of the user's connections to `expire_at_ms` (none: they
    /// no longer expire), or, when `expired`, close them as expired (3005).
    Refresh {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<uuid::Uuid>,
        expired: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expire_at_ms: Option<i64>,
    },
    /// A channel's history was removed: forget what is kept of it in memory.
    HistoryRemoved { channel: String },
    /// Commands a client of an HTTP stream sent to the emulation endpoint of
    /// another node than its stream's (`node`), for that node to hand on
    /// (`data`: JSON text, or protobuf bytes, as the stream speaks).
    Emulate { node: String, session: String, data: Vec<u8> },
}

#[derive(Debug, Error)]
pub enum BusError {
    #[error("the bus is unavailable: {0}")]
    Unavailable(String),
}

pub use self::redis::{RedisBus, RedisConnection};

/// Receives messages published on the bus (the node's hub).
pub trait BusSink: Send + Sync {
    /// Called for every message, in publish order. Must not block.
    fn deliver(&self, message: &BusMessage);

    /// Several messages at once, in order (what the dispatcher published
    /// together), so a receiver can write each recipient's share in one go.
    fn deliver_batch(&self, messages: &[BusMessage]) {
        for message in messages {
            self.deliver(message);
        }
    }

    /// A subscriber of another node joined or left a channel (cluster mode).
    fn presence_changed(&self, _change: &crate::presence::RemotePresenceChange) {}

    /// The bus may have lost messages (its connection dropped and came back):
    /// everything subscribed must catch up from durable history.
    fn resync(&self) {}

    /// An order of the server API (see [`Control`]), on every node including
    /// the one that sent it. Must not block.
    fn control(&self, _order: &Control) {}
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes messages to every node. `Ok` means the bus accepted all of them.
    async fn publish(&self, messages: &[BusMessage]) -> Result<(), BusError>;
    /// Registers this node's receiver.
    fn subscribe(&self, sink: Arc<dyn BusSink>);
    /// Whether the bus is reachable (for `/readyz`).
    async fn ping(&self) -> Result<(), BusError>;
    /// `in-process` or `redis`, for logs and metrics.
    fn kind(&self) -> &'static str;
    /// Tells the cluster that this node committed events, so the node holding
    /// the dispatcher lease publishes them now rather than at its next poll.
    /// A single node's dispatcher is woken by its store; nothing to do.
    async fn nudge(&self) -> Result<(), BusError> {
        Ok(())
    }
    /// Signalled when another node nudged (cluster mode only).
    fn nudged(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
    /// Hands `order` to every node's sinks (this node's too). `Ok` means the
    /// bus accepted it.
    async fn control(&self, order: &Control) -> Result<(), BusError>;
}

/// The bus of a single node: publishing hands messages straight to the local sinks.
#[derive(Default)]
pub struct InProcessBus {
    sinks: RwLock<Vec<Arc<dyn BusSink>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, messages: &[BusMessage]) -> Result<(), BusError> {
        // Clone the sink list so no lock is held while sinks run.
        let sinks: Vec<Arc<dyn BusSink>> = match self.sinks.read() {
            Ok(sinks) => sinks.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for sink in &sinks {
            sink.deliver_batch(messages);
        }
        Ok(())
    }

    fn subscribe(&self, sink: Arc<dyn BusSink>) {
        match self.sinks.write() {
            Ok(mut sinks) => sinks.push(sink),
            Err(poisoned) => poisoned.into_inner().push(sink),
        }
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }

    async fn control(&self, order: &Control) -> Result<(), BusError> {
        let sinks: Vec<Arc<dyn BusSink>> = match self.sinks.read() {
            Ok(sinks) => sinks.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for sink in &sinks {
            sink.control(order);
        }
        Ok(())
    }
}

/// `Arc<str>` as a plain JSON string.
mod shared_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        Ok(Arc::from(String::deserialize(d)?))
    }
}
