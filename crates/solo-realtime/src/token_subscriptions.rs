//! Subscriptions that a subscription token allowed (integration channels),
//! and when each ends unless the client refreshes it (`sub_refresh`). Few
//! connections hold one, so they are kept here rather than in every
//! connection's state, and the hub's ticker looks only at these.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::connection::{ConnId, Connection};

/// When each (connection, channel) subscription ends.
type Ends = HashMap<(ConnId, Arc<str>), (Weak<Connection>, i64)>;

#[derive(Default)]
pub(crate) struct TokenSubscriptions {
    until: Mutex<Ends>,
}

impl TokenSubscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ends> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The subscription of `conn` to `channel` lasts until `until_ms` (a new
    /// token moves it).
    pub(crate) fn set(&self, conn: &Arc<Connection>, channel: Arc<str>, until_ms: i64) {
        self.lock().insert((conn.id, channel), (Arc::downgrade(conn), until_ms));
    }

    /// Takes those that ended before `now_ms` and whose connections are still
    /// open (the others are forgotten).
    pub(crate) fn take_ended(&self, now_ms: i64) -> Vec<(Arc<Connection>, Arc<str>)> {
        let mut until = self.lock();
        if until.is_empty() {
            return Vec::new();
        }
        let mut ended = Vec::new();
        until.retain(|(_, channel), (conn, at)| {
            if *at >= now_ms {
                return conn.strong_count() > 0;
            }
            if let Some(conn) = conn.upgrade() {
                ended.push((conn, channel.clone()));
            }
            false
        });
        ended
    }
}
