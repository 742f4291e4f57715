//! The server API's orders about connections (see [`crate::bus::Control`]):
//! every node receives each one through the bus and applies it to its own
//! connections, so a backend's `disconnect` or `unsubscribe` reaches a user
//! wherever they are connected. Emulated commands of HTTP streams travel the
//! same way to the node that holds the stream.

use std::sync::{Arc, Weak};

use serde_json::json;
use solo_domain::time::now_ms;

use crate::bus::{BusMessage, BusSink, Control};
use crate::connection::Connection;
use crate::protocol::{self, Disconnect};
use crate::session::MAX_SUBSCRIPTIONS;
use crate::Engine;

/// The unsubscribe push code of a subscription the server ended (terminal for it).
pub const SERVER_UNSUBSCRIBE: u16 = 2000;

/// The engine's receiver of orders on the bus. It holds the engine weakly: the
/// bus outlives nothing, and an engine being dropped has nothing to apply.
pub(crate) struct Orders {
    pub(crate) engine: Weak<Engine>,
}

impl BusSink for Orders {
    /// Publications go to the hub, not here.
    fn deliver(&self, _message: &BusMessage) {}

    fn control(&self, order: &Control) {
        if let Some(engine) = self.engine.upgrade() {
            engine.apply(order);
        }
    }
}

impl Engine {
    /// Applies an order to this node's connections. Never blocks: a
    /// subscription, which needs the channel's position, is set up on a task.
    pub fn apply(self: &Arc<Self>, order: &Control) {
        match order {
            Control::Disconnect { user, client, keep, code } => {
                let reason = match *code {
                    3503 => Disconnect::ForceDisconnect,
                    code => Disconnect::Custom(code),
                };
                for conn in self.connections_of(user, client.as_ref()) {
                    if !keep.contains(&conn.client_id) {
                        tracing::info!(client = %conn.client_id, user_id = %user, code, "disconnected by the server API");
                        conn.close(reason);
                    }
                }
            }
            Control::Unsubscribe { user, channel, client } => {
                for conn in self.connections_of(user, client.as_ref()) {
                    if self.hub().end_subscription(&conn, channel, SERVER_UNSUBSCRIBE, "server unsubscribe") {
                        tracing::info!(client = %conn.client_id, %channel, "unsubscribed by the server API");
                    }
                }
            }
            Control::Subscribe { user, channel, client } => {
                for conn in self.connections_of(user, client.as_ref()) {
                    tokio::spawn(self.clone().subscribe_server_side(conn, channel.clone()));
                }
            }
            Control::Refresh { user, client, expired, expire_at_ms } => {
                for conn in self.connections_of(user, client.as_ref()) {
                    self.refresh_server_side(&conn, *expired, *expire_at_ms);
                }
            }
            Control::HistoryRemoved { channel } => self.hub().recent().forget(channel),
            Control::Emulate { node, session, data } if *node == self.node_id => {
                let engine = self.clone();
                let (session, data) = (session.clone(), data.clone());
                tokio::spawn(async move {
                    if let Err(e) = engine.emulate(&session, &data).await {
                        tracing::debug!(error = %e, "emulated commands from another node not delivered");
                    }
                });
            }
            Control::Emulate { .. } => {}
        }
    }

    /// This node's authenticated connections of `user` (only `client`, when given).
    fn connections_of(&self, user: &str, client: Option<&uuid::Uuid>) -> Vec<Arc<Connection>> {
        self.hub()
            .connections()
            .into_iter()
            .filter(|conn| client.is_none_or(|c| *c == conn.client_id))
            .filter(|conn| conn.auth().is_some_and(|auth| *auth.user == *user))
            .collect()
    }

    /// Subscribes a connection as the server decided (Centrifugo's server-side
    /// subscription): registered like a client's own, positioned, then announced
    /// with a `subscribe` push that carries the position, so the client can
    /// recover it after a reconnect. Publications that arrive meanwhile are held
    /// and released after the push, as for a client's subscribe.
    async fn subscribe_server_side(self: Arc<Self>, conn: Arc<Connection>, channel: String) {
        let hub = self.hub().clone();
        if conn.is_closing() || hub.is_subscribed(&conn, &channel) || hub.subscription_count(&conn) >= MAX_SUBSCRIPTIONS
        {
            return;
        }
        let Ok(parsed) = self.channel(&channel) else { return };
        let name = hub.channel_name(&channel);
        conn.hold(name.clone());
        hub.subscribe(&conn, &name, false);
        let position = match hub.position(&channel) {
            Some((epoch, offset)) => Ok((epoch.to_string(), offset)),
            None => self.store().channel_position(&parsed).await.map(|p| {
                hub.note_position(&channel, &p.epoch, p.offset);
                (p.epoch, p.offset)
            }),
        };
        match position {
            Ok((epoch, offset)) if hub.is_subscribed(&conn, &channel) => {
                let body = json!({ "recoverable": true, "positioned": true, "epoch": epoch, "offset": offset });
                let push = protocol::push(&channel, "subscribe", &body);
                conn.go_live(vec![(name, offset)], conn.frame(&push));
                tracing::info!(client = %conn.client_id, %channel, "subscribed by the server API");
            }
            // Unsubscribed meanwhile (revoked, or another order).
            Ok(_) => conn.abandon(&name),
            Err(e) => {
                tracing::warn!(error = %e, %channel, "server-side subscription failed: no position");
                hub.unsubscribe(&conn, &channel);
                conn.abandon(&name);
            }
        }
    }

    /// Moves a connection's expiry (and tells the client, with a `refresh`
    /// push), or closes it as expired.
    fn refresh_server_side(&self, conn: &Connection, expired: bool, expire_at_ms: Option<i64>) {
        if expired {
            conn.close(Disconnect::Expired);
            return;
        }
        let Some(mut auth) = conn.auth() else { return };
        // No expiry: far enough that the ticker's deadline arithmetic cannot overflow.
        auth.expires_at_ms = expire_at_ms.unwrap_or(i64::MAX / 2);
        conn.set_auth(auth);
        let body = match expire_at_ms {
            Some(at) => json!({ "expires": true, "ttl": ((at - now_ms()) / 1000).max(0) }),
            None => json!({ "expires": false }),
        };
        let push = serde_json::to_vec(&json!({ "push": { "refresh": body } })).unwrap_or_default();
        conn.send(conn.frame(&push));
    }
}
