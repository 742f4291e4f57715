//! The `Presence` seam: who is subscribed to a channel, across the cluster.
//!
//! A single node answers from its own hub (`Hub` implements [`Presence`]). In cluster mode
//! every node mirrors its hub's subscribers into Redis ([`RedisPresence`]),
//! keyed by node and connection and expiring by TTL unless the owning node
//! refreshes them, so a node that dies without a word (SIGKILL, power loss)
//! leaves no ghost users once the TTL has passed. Join and leave pushes reach
//! the subscribers of every node through the same Redis.

mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::protocol::ClientInfo;

pub use self::redis::{changes_channel, PresenceWriter, RedisPresence, RedisPresenceOptions};

#[derive(Debug, Error)]
pub enum PresenceError {
    #[error("presence is unavailable: {0}")]
    Unavailable(String),
}

/// A subscriber arrived on (`Join`) or left (`Leave`) a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceKind {
    Join,
    Leave,
}

impl PresenceKind {
    /// The push name in the client protocol.
    pub fn push_name(self) -> &'static str {
        match self {
            PresenceKind::Join => "join",
            PresenceKind::Leave => "leave",
        }
    }
}

/// A change of this node's subscribers, as the hub reports it.
#[derive(Debug, Clone)]
pub struct LocalPresenceChange {
    pub kind: PresenceKind,
    pub channel: Arc<str>,
    pub info: ClientInfo,
}

/// A change announced to the other nodes of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemotePresenceChange {
    /// The node the subscriber is connected to (its own announcements are skipped).
    pub node: String,
    pub channel: String,
    pub kind: PresenceKind,
    pub info: ClientInfo,
}

#[async_trait]
pub trait Presence: Send + Sync {
    /// Every client subscribed to `channel`, on every node.
    async fn clients(&self, channel: &str) -> Result<Vec<ClientInfo>, PresenceError>;
    /// Every channel with a subscriber on some node, with its number of clients.
    async fn channels(&self) -> Result<Vec<(String, usize)>, PresenceError>;
    /// `local` or `redis`, for logs.
    fn kind(&self) -> &'static str;
}

/// Distinct users among `clients` (a user with two tabs counts once).
pub fn distinct_users(clients: &[ClientInfo]) -> usize {
    clients.iter().map(|c| &*c.user).collect::<std::collections::HashSet<_>>().len()
}
