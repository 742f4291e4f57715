//! One connection's commands: connect, subscribe (with recovery), unsubscribe,
//! presence, history, refresh, ping. Commands of a connection run one at a
//! time, in order; replies go out through the connection's write path.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use solo_domain::time::now_ms;
use solo_domain::{Channel, UserId};
use solo_store::StreamPosition;

use crate::connection::{ConnAuth, Connection};
use crate::history::{self, publications_json};
use crate::limits::{Admission, CommandLimiter};
use crate::presence::distinct_users;
use crate::protocol::{
    self, error_code, ClientInfo, Command, Disconnect, Format, Method, SubscribeRequest, FLAG_REJECT_UNRECOVERED,
};
use crate::token::TokenError;
use crate::Engine;

/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 128;

/// The outcome of one command: keep going, or close with a reason.
pub(crate) type Step = Result<(), Disconnect>;

/// The command side of one connection.
pub(crate) struct Session {
    engine: Arc<Engine>,
    conn: Arc<Connection>,
    connected: bool,
    commands: CommandLimiter,
}

impl Session {
    pub(crate) fn new(engine: Arc<Engine>, conn: Arc<Connection>) -> Self {
        let commands = CommandLimiter::new(engine.config().commands_per_sec);
        Self { engine, conn, connected: false, commands }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn user_id(&self) -> Option<UserId> {
        self.conn.auth().map(|a| a.user_id())
    }

    /// Runs the commands of one message: a text frame of a JSON connection, a
    /// binary frame of a protobuf one. The other kind is a protocol violation.
    pub(crate) async fn handle_message(&mut self, message: crate::websocket::Message) -> Step {
        use crate::websocket::Message;
        match (self.conn.format, message) {
            (Format::Json, Message::Text(text)) => self.run(protocol::commands(&text)).await,
            (Format::Protobuf, Message::Binary(bytes)) => self.run(protocol::protobuf_commands(&bytes)).await,
            _ => Err(Disconnect::BadRequest),
        }
    }

    async fn run(&mut self, commands: impl Iterator<Item = Result<Command, Disconnect>>) -> Step {
        for command in commands {
            let command = command?;
            // Pongs answer the server and are never limited.
            if !command.is_pong() {
                match self.commands.admit() {
                    Admission::Run => {}
                    Admission::Refuse if command.id != 0 => {
                        self.error(command.id, error_code::TOO_MANY_REQUESTS).await?;
                        continue;
                    }
                    Admission::Refuse => continue,
                    Admission::Close => return Err(Disconnect::TooManyRequests),
                }
            }
            self.handle(command).await?;
        }
        Ok(())
    }

    async fn reply(&self, bytes: Vec<u8>) -> Step {
        self.conn.send(self.conn.frame(&bytes));
        Ok(())
    }

    async fn error(&self, id: u32, code: u32) -> Step {
        let temporary = matches!(code, error_code::INTERNAL | error_code::TOO_MANY_REQUESTS);
        self.reply(protocol::error_reply(id, code, error_code::message(code), temporary)).await
    }

    async fn handle(&mut self, command: Command) -> Step {
        let Command { id, method } = command;
        match method {
            Method::Pong => {
                if id != 0 || !self.connected {
                    return Err(Disconnect::BadRequest);
                }
                // One with no ping outstanding is a protocol violation.
                if self.conn.pong() {
                    Ok(())
                } else {
                    Err(Disconnect::BadRequest)
                }
            }
            Method::Connect(request) => {
                if self.connected || id == 0 {
                    return Err(Disconnect::BadRequest);
                }
                self.connect(id, request).await
            }
            _ if !self.connected => Err(Disconnect::BadRequest),
            Method::Send => Ok(()),
            _ if id == 0 => Err(Disconnect::BadRequest),
            Method::Subscribe(request) => self.subscribe(id, request).await,
            Method::Unsubscribe(request) => {
                let removed = self.engine.hub().unsubscribe(&self.conn, &request.channel);
                let reply = self.conn.frame(&protocol::reply(id, "unsubscribe", &json!({})));
                if removed {
                    self.conn.unsubscribed(&request.channel, Some(reply));
                } else {
                    self.conn.send(reply);
                }
                Ok(())
            }
            // Every channel is server-owned: clients read, the API writes.
            Method::Publish(request) => match self.engine.channel(&request.channel) {
                Ok(_) => self.error(id, error_code::PERMISSION_DENIED).await,
                Err(_) => self.error(id, error_code::UNKNOWN_CHANNEL).await,
            },
            Method::Presence(request) => {
                let clients = match self.presence_of(&request.channel).await {
                    Ok(clients) => clients,
                    Err(code) => return self.error(id, code).await,
                };
                let presence: serde_json::Map<String, serde_json::Value> =
                    clients.iter().map(|c| (c.client.to_string(), json!(c))).collect();
                self.reply(protocol::reply(id, "presence", &json!({ "presence": presence }))).await
            }
            Method::PresenceStats(request) => {
                let clients = match self.presence_of(&request.channel).await {
                    Ok(clients) => clients,
                    Err(code) => return self.error(id, code).await,
                };
                let stats = json!({ "num_clients": clients.len(), "num_users": distinct_users(&clients) });
                self.reply(protocol::reply(id, "presence_stats", &stats)).await
            }
            Method::History(request) => self.history(id, request).await,
            Method::Refresh(request) => self.refresh(id, &request.token).await,
            Method::Ping => self.reply(protocol::reply(id, "ping", &json!({}))).await,
            Method::SubRefresh(request) => self.sub_refresh(id, request).await,
            // Nothing is registered under it.
            Method::Rpc(_) => self.error(id, error_code::METHOD_NOT_FOUND).await,
        }
    }

    /// Everyone on `channel` across the cluster, if the caller may read it.
    async fn presence_of(&self, channel: &str) -> Result<Vec<ClientInfo>, u32> {
        self.authorize(channel).await?;
        self.engine.presence().clients(channel).await.map_err(|e| {
            tracing::warn!(error = %e, "presence query failed");
            error_code::INTERNAL
        })
    }

    async fn connect(&mut self, id: u32, request: protocol::ConnectRequest) -> Step {
        let claims = match self.engine.tokens().verify(&request.token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return self.error(id, error_code::TOKEN_EXPIRED).await,
            Err(TokenError::Invalid) => return Err(Disconnect::InvalidToken),
        };
        let user_id = UserId::parse(&claims.sub).map_err(|_| Disconnect::InvalidToken)?;
        let source = self.engine.shared_source(claims.src);
        let seen = self.engine.access().generation();
        // The credential still standing means its user exists (the store's keys say so).
        match self.engine.credential_is_valid(&source, &user_id).await {
            Ok(true) => {}
            Ok(false) => return Err(Disconnect::InvalidToken),
            Err(_) => return self.error(id, error_code::INTERNAL).await,
        }
        let auth = ConnAuth {
            user: self.engine.shared_user(user_id.as_str()),
            info: self.engine.shared_info(claims.info),
            source: source.clone(),
            expires_at_ms: claims.exp * 1000,
        };
        if !self.engine.hub().admit(&self.conn, auth, self.engine.config().max_connections_per_user) {
            return Err(Disconnect::ConnectionLimit);
        }
        // Access taken away meanwhile: the revalidator may have passed this
        // connection by while it was not yet admitted, so check again.
        if self.engine.access().generation() != seen
            && !self.engine.credential_is_valid(&source, &user_id).await.map_err(|_| Disconnect::ServerError)?
        {
            return Err(Disconnect::InvalidToken);
        }
        self.connected = true;

        let mut subs = BTreeMap::new();
        let mut positions = Vec::new();
        if request.subs.len() > MAX_SUBSCRIPTIONS {
            return Err(Disconnect::ChannelLimit);
        }
        for (channel, mut sub) in request.subs {
            sub.channel = channel.clone();
            match self.prepare_subscription(&sub).await {
                Ok((result, position)) => {
                    subs.insert(channel, result);
                    positions.push(position);
                }
                Err(SubscribeError::Reply(code)) => {
                    // Connect-time subscriptions are all or nothing, as in the protocol.
                    for (channel, _) in &positions {
                        self.engine.hub().unsubscribe(&self.conn, channel);
                        self.conn.abandon(channel);
                    }
                    return self.error(id, code).await;
                }
                Err(SubscribeError::Close(reason)) => return Err(reason),
            }
        }
        let result = ConnectResult {
            client: self.conn.client_id,
            version: VERSION,
            expires: true,
            ttl: (claims.exp - now_ms() / 1000).max(0),
            ping: self.engine.hub().timing().ping_interval_ms / 1000,
            pong: true,
            node: self.engine.node_id(),
            subs,
        };
        tracing::debug!(client = %self.conn.client_id, %user_id, "connected");
        self.conn.go_live(positions, self.conn.frame(&protocol::reply(id, "connect", &result)));
        Ok(())
    }

    async fn refresh(&mut self, id: u32, token: &str) -> Step {
        let claims = match self.engine.tokens().verify(token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return self.error(id, error_code::TOKEN_EXPIRED).await,
            Err(TokenError::Invalid) => return Err(Disconnect::InvalidToken),
        };
        let Some(mut auth) = self.conn.auth() else { return Err(Disconnect::BadRequest) };
        if claims.sub != *auth.user {
            return Err(Disconnect::InvalidToken);
        }
        auth.expires_at_ms = claims.exp * 1000;
        auth.source = Arc::from(claims.src);
        self.conn.set_auth(auth);
        let ttl = (claims.exp - now_ms() / 1000).max(0);
        let result = json!({ "client": self.conn.client_id, "version": VERSION, "expires": true, "ttl": ttl });
        self.reply(protocol::reply(id, "refresh", &result)).await
    }

    /// Checks that the channel exists and the user may read it; the error code
    /// otherwise. An integration channel is read through the subscription its
    /// token allowed, and only while that lasts.
    async fn authorize(&self, channel: &str) -> Result<Channel, u32> {
        let parsed = self.engine.channel(channel).map_err(|_| error_code::UNKNOWN_CHANNEL)?;
        if let Channel::Integration(_) = parsed {
            return if self.engine.hub().is_subscribed(&self.conn, channel) {
                Ok(parsed)
            } else {
                Err(error_code::PERMISSION_DENIED)
            };
        }
        let user = self.user_id().ok_or(error_code::UNAUTHORIZED)?;
        match self.engine.access().may_read(self.engine.store(), &user, &parsed).await {
            Ok(true) => Ok(parsed),
            Ok(false) => Err(error_code::PERMISSION_DENIED),
            Err(e) => {
                tracing::warn!(error = %e, "permission check failed");
                Err(error_code::INTERNAL)
            }
        }
    }

    /// A subscribe's permission, and until when it holds: a product channel by
    /// the store's rules (as long as they stand); an integration channel by its
    /// subscription token (until the token expires, unless refreshed).
    async fn authorize_subscription(&self, request: &SubscribeRequest) -> Result<(Channel, Option<i64>), u32> {
        match self.engine.channel(&request.channel) {
            Ok(channel @ Channel::Integration(_)) => {
                let until = self.subscription_token_until(&request.channel, &request.token)?;
                Ok((channel, Some(until)))
            }
            Ok(_) => self.authorize(&request.channel).await.map(|channel| (channel, None)),
            Err(_) => Err(error_code::UNKNOWN_CHANNEL),
        }
    }

    /// A new subscription token for a subscription a token allowed: it lasts
    /// until the new token's expiry.
    async fn sub_refresh(&self, id: u32, request: protocol::SubRefreshRequest) -> Step {
        let hub = self.engine.hub();
        if self.conn.auth().is_none() {
            return Err(Disconnect::BadRequest);
        }
        if !matches!(self.engine.channel(&request.channel), Ok(Channel::Integration(_)))
            || !hub.is_subscribed(&self.conn, &request.channel)
        {
            return self.error(id, error_code::PERMISSION_DENIED).await;
        }
        match self.subscription_token_until(&request.channel, &request.token) {
            Ok(until) => {
                hub.expire_subscription_at(&self.conn, hub.channel_name(&request.channel), until);
                let ttl = ((until - now_ms()) / 1000).max(0);
                self.reply(protocol::reply(id, "sub_refresh", &json!({ "expires": true, "ttl": ttl }))).await
            }
            Err(code) => self.error(id, code).await,
        }
    }

    /// Until when (ms) a subscription token lets this connection's user read
    /// `channel`; the reply error otherwise (109 expired, asking for a new one;
    /// 103 for any other token).
    fn subscription_token_until(&self, channel: &str, token: &str) -> Result<i64, u32> {
        let auth = self.conn.auth().ok_or(error_code::UNAUTHORIZED)?;
        match self.engine.tokens().verify_subscription(token, channel, &auth.user) {
            Ok(claims) => Ok(claims.exp.saturating_mul(1000)),
            Err(TokenError::Expired) => Err(error_code::TOKEN_EXPIRED),
            Err(TokenError::Invalid) => Err(error_code::PERMISSION_DENIED),
        }
    }

    async fn subscribe(&mut self, id: u32, request: SubscribeRequest) -> Step {
        match self.prepare_subscription(&request).await {
            Ok((result, position)) => {
                self.conn.go_live(vec![position], self.conn.frame(&protocol::reply(id, "subscribe", &result)));
                Ok(())
            }
            Err(SubscribeError::Reply(code)) => self.error(id, code).await,
            Err(SubscribeError::Close(reason)) => Err(reason),
        }
    }

    /// Authorizes, registers and positions a subscription, recovering missed
    /// publications when asked. The caller sends the reply with the position,
    /// which makes the subscription live in the writer.
    async fn prepare_subscription(
        &mut self,
        request: &SubscribeRequest,
    ) -> Result<(SubscribeResult, (Arc<str>, u64)), SubscribeError> {
        let hub = self.engine.hub().clone();
        let channel_name = hub.channel_name(&request.channel);
        let seen = self.engine.access().generation();
        let (channel, until) = self.authorize_subscription(request).await.map_err(SubscribeError::Reply)?;
        if hub.is_subscribed(&self.conn, &request.channel) {
            return Err(SubscribeError::Reply(error_code::ALREADY_SUBSCRIBED));
        }
        if hub.subscription_count(&self.conn) >= MAX_SUBSCRIPTIONS {
            return Err(SubscribeError::Close(Disconnect::ChannelLimit));
        }
        if self.conn.auth().is_none() {
            return Err(SubscribeError::Close(Disconnect::BadRequest));
        }
        // Hold publications from now on, then read the position: whatever is
        // published meanwhile is either in history or held, never lost.
        self.conn.hold(channel_name.clone());
        hub.subscribe(&self.conn, &channel_name, request.join_leave);
        let built = match self.recheck_access(seen, &channel, &request.channel).await {
            Ok(()) => self.position_and_recover(&channel, request).await,
            Err(code) => Err(code),
        };
        match built {
            // The revalidator may also have unsubscribed it while it was positioned.
            Ok(_) if !hub.is_subscribed(&self.conn, &request.channel) => {
                self.conn.abandon(&channel_name);
                Err(SubscribeError::Reply(error_code::PERMISSION_DENIED))
            }
            Ok((mut result, offset)) => {
                if let Some(until) = until {
                    hub.expire_subscription_at(&self.conn, channel_name.clone(), until);
                    result.expires = Some(true);
                    result.ttl = Some(((until - now_ms()) / 1000).max(0));
                }
                Ok((result, (channel_name, offset)))
            }
            Err(code) => {
                hub.unsubscribe(&self.conn, &request.channel);
                self.conn.abandon(&channel_name);
                Err(SubscribeError::Reply(code))
            }
        }
    }

    /// Access was taken away while this connection was being authorized, and
    /// the revalidator may have gone over it before it registered: decide again.
    /// (A subscription token's permission does not depend on the store.)
    async fn recheck_access(&self, seen: u64, parsed: &Channel, channel: &str) -> Result<(), u32> {
        if self.engine.access().generation() == seen || matches!(parsed, Channel::Integration(_)) {
            return Ok(());
        }
        self.authorize(channel).await.map(|_| ())
    }

    async fn position_and_recover(
        &self,
        channel: &Channel,
        request: &SubscribeRequest,
    ) -> Result<(SubscribeResult, u64), u32> {
        let cap = self.engine.config().recovery_max_publications;
        if request.recover {
            // Most recoveries ask for the last few publications, which this node holds.
            let recent = self.engine.hub().recent().since(&request.channel, &request.epoch, request.offset, cap);
            if let Some(recent) = recent {
                self.count_recovery(true);
                self.engine.metrics().recoveries_from_memory.inc();
                let mut result = SubscribeResult::at(Arc::from(recent.epoch.as_str()), recent.top);
                result.was_recovering = Some(true);
                result.recovered = Some(true);
                if !recent.items.is_empty() {
                    result.publications = Some(publications_json(recent.items.iter().map(|(o, e)| (*o, &**e))));
                }
                return Ok((result, recent.top));
            }
        }
        let hub = self.engine.hub();
        if !request.recover {
            // Every subscriber after the first follows the position the hub keeps.
            if let Some((epoch, offset)) = hub.position(&request.channel) {
                return Ok((SubscribeResult::at(epoch, offset), offset));
            }
        }
        let store = self.engine.store();
        let position = store.channel_position(channel).await.map_err(|_| error_code::INTERNAL)?;
        hub.note_position(&request.channel, &position.epoch, position.offset);
        let mut result = SubscribeResult::at(Arc::from(position.epoch.as_str()), position.offset);
        if !request.recover {
            return Ok((result, position.offset));
        }
        result.was_recovering = Some(true);
        let mut recovered = false;
        let mut publications = Vec::new();
        if let Some(missed) = missed_within_window(&request.epoch, request.offset, &position, cap) {
            let history = store
                .channel_history(channel, request.offset, missed as i64)
                .await
                .map_err(|_| error_code::INTERNAL)?;
            if follows_without_gap(history.iter().map(|h| h.offset), request.offset, missed) {
                recovered = true;
                publications = history;
            }
        }
        self.count_recovery(recovered);
        if !recovered && request.flag & FLAG_REJECT_UNRECOVERED != 0 {
            return Err(error_code::UNRECOVERABLE_POSITION);
        }
        result.recovered = Some(recovered);
        if !publications.is_empty() {
            result.publications = Some(publications_json(publications.iter().map(|h| (h.offset, h.envelope.as_str()))));
        }
        Ok((result, position.offset))
    }

    fn count_recovery(&self, recovered: bool) {
        let labels = crate::metrics::RecoveredLabels { recovered: if recovered { "true" } else { "false" } };
        self.engine.metrics().recoveries.get_or_create(&labels).inc();
    }

    async fn history(&self, id: u32, request: protocol::HistoryRequest) -> Step {
        let channel = match self.authorize(&request.channel).await {
            Ok(channel) => channel,
            Err(code) => return self.error(id, code).await,
        };
        match history::read(&self.engine, &channel, &request).await {
            Ok(result) => self.reply(protocol::reply(id, "history", &result)).await,
            Err(code) => self.error(id, code).await,
        }
    }
}

/// The server's version, as `connect` and `refresh` report it.
const VERSION: &str = concat!("solo ", env!("CARGO_PKG_VERSION"));

/// A connect's reply. Typed rather than built as a JSON tree: a reconnect
/// storm writes thousands a second, and a tree costs an allocation per key.
#[derive(Serialize)]
struct ConnectResult<'a> {
    client: uuid::Uuid,
    version: &'static str,
    expires: bool,
    ttl: i64,
    ping: i64,
    pong: bool,
    node: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    subs: BTreeMap<String, SubscribeResult>,
}

/// A subscription's reply (and each of a connect's `subs`), typed for the
/// same reason as [`ConnectResult`].
#[derive(Debug, Serialize)]
pub(crate) struct SubscribeResult {
    recoverable: bool,
    positioned: bool,
    epoch: Arc<str>,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    was_recovering: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    publications: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

impl SubscribeResult {
    /// Positioned at `offset` of the stream `epoch`, nothing recovered.
    fn at(epoch: Arc<str>, offset: u64) -> Self {
        Self {
            recoverable: true,
            positioned: true,
            epoch,
            offset,
            was_recovering: None,
            recovered: None,
            publications: None,
            expires: None,
            ttl: None,
        }
    }
}

enum SubscribeError {
    Reply(u32),
    Close(Disconnect),
}

/// How many publications a client at (`epoch`, `offset`) missed, when history
/// can bring it to `position`: the stream is the same (its epoch did not
/// change), the client is not ahead of it, and it missed at most `cap`. None
/// means the client cannot be recovered (it gets `recovered: false`, or 112).
pub(crate) fn missed_within_window(epoch: &str, offset: u64, position: &StreamPosition, cap: u64) -> Option<u64> {
    if epoch != position.epoch || offset > position.offset {
        return None;
    }
    let missed = position.offset - offset;
    (missed <= cap).then_some(missed)
}

/// Whether `offsets` are exactly the `missed` offsets after `after`, in order:
/// history trimmed by retention, or a hole in it, is no recovery.
pub(crate) fn follows_without_gap(offsets: impl Iterator<Item = u64>, after: u64, missed: u64) -> bool {
    let mut count = 0;
    for (expected, offset) in (after + 1..).zip(offsets) {
        if offset != expected {
            return false;
        }
        count += 1;
    }
    count == missed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: &str, offset: u64) -> StreamPosition {
        StreamPosition { epoch: epoch.to_owned(), offset }
    }

    #[test]
    fn a_client_is_recoverable_only_on_the_same_stream_not_ahead_and_within_the_window() {
        let top = at("e1", 10);
        assert_eq!(missed_within_window("e1", 7, &top, 100), Some(3));
        assert_eq!(missed_within_window("e1", 10, &top, 100), Some(0), "up to date: nothing missed");
        assert_eq!(missed_within_window("e0", 7, &top, 100), None, "the epoch changed: a new stream");
        assert_eq!(missed_within_window("e1", 11, &top, 100), None, "ahead of the stream");
        assert_eq!(missed_within_window("e1", 0, &top, 9), None, "missed more than the window");
        assert_eq!(missed_within_window("e1", 1, &top, 9), Some(9), "exactly the window");
    }

    #[test]
    fn history_recovers_only_when_it_has_every_missed_offset_in_order() {
        assert!(follows_without_gap([8, 9, 10].into_iter(), 7, 3));
        assert!(follows_without_gap(std::iter::empty(), 10, 0));
        assert!(!follows_without_gap([9, 10].into_iter(), 7, 3), "trimmed: 8 is gone");
        assert!(!follows_without_gap([8, 10].into_iter(), 7, 3), "a hole");
        assert!(!follows_without_gap([8, 9].into_iter(), 7, 3), "short");
        assert!(!follows_without_gap([9, 8, 10].into_iter(), 7, 3), "out of order");
    }
}
