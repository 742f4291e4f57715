//! One WebSocket connection: a reader that runs commands in order, and a writer
//! that owns the socket's sending half, batches whatever is queued into one
//! frame, and enforces per-channel offset order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use solo_domain::time::now_ms;
use solo_domain::{Channel, UserId};

use super::hub::{ConnAuth, Connection, Frame, Outgoing};
use super::protocol::{self, error_code, ClientInfo, Command, Disconnect, SubscribeRequest, FLAG_REJECT_UNRECOVERED};
use super::token::TokenError;
use crate::access::may_read;
use crate::limits::{Admission, CommandLimiter};
use crate::presence::distinct_users;
use crate::state::AppState;

/// Largest frame written at once; more queued messages wait for the next frame.
/// Kept small because the WebSocket layer keeps a write buffer as large as the
/// largest frame it ever wrote, for the life of the connection.
const MAX_BATCH_BYTES: usize = 16 * 1024;

/// A write that takes longer than this means the client is not reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Publications held for a subscription being set up before the client is
/// considered too slow.
const MAX_HELD: usize = 4096;
/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 128;

fn frame(bytes: Vec<u8>) -> Frame {
    Arc::from(String::from_utf8_lossy(&bytes).as_ref())
}

enum ChannelState {
    /// Being set up: publications are held until the subscribe reply is written.
    Pending(Vec<(u64, Frame)>),
    /// Live: the last offset written.
    Live(u64),
}

/// The writer's view of each subscribed channel. A connection holds a handful
/// of channels, so a short list beats hashing the channel name once per
/// publication.
#[derive(Default)]
struct Channels(Vec<(Arc<str>, ChannelState)>);

impl Channels {
    fn get_mut(&mut self, channel: &str) -> Option<&mut ChannelState> {
        self.0.iter_mut().find(|(name, _)| &**name == channel).map(|(_, state)| state)
    }

    fn insert(&mut self, channel: Arc<str>, state: ChannelState) -> Option<ChannelState> {
        match self.get_mut(&channel) {
            Some(slot) => Some(std::mem::replace(slot, state)),
            None => {
                self.0.push((channel, state));
                None
            }
        }
    }

    fn remove(&mut self, channel: &str) {
        self.0.retain(|(name, _)| &**name != channel);
    }
}

/// Serves one upgraded WebSocket until it closes.
pub async fn serve(state: AppState, socket: WebSocket) {
    let hub = state.hub().clone();
    let conn = hub.open();
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, conn.clone()));
    // Log lines name the client (and user) as fields rather than through a
    // span: a span per connection costs about half a kilobyte while it lives.
    let commands = state.limits().command_limiter();
    let reader = Reader { state: state.clone(), conn: conn.clone(), connected: false, commands };
    tracing::debug!(client = %conn.client_id, "connection opened");
    reader.run(stream).await;
    hub.remove(&conn);
    if let Err(e) = writer.await {
        tracing::error!(error = %e, "connection writer panicked");
    }
    let reason = conn.close_reason();
    let user_id = conn.auth().map(|a| a.user_id);
    tracing::debug!(client = %conn.client_id, user_id = ?user_id, code = reason.map(|r| r.code()), "connection closed");
    if let Some(reason) = reason {
        state.metrics().disconnects.get_or_create(&crate::metrics::CodeLabels { code: reason.code() }).inc();
    }
}

async fn write_loop(mut sink: SplitSink<WebSocket, Message>, conn: Arc<Connection>) {
    let mut channels = Channels::default();
    let mut batch = String::new();
    let mut pending: VecDeque<Outgoing> = VecDeque::new();
    'writing: loop {
        // Closing sets the flag before it wakes the mailbox, so a close is never missed here.
        if conn.is_closing() {
            break;
        }
        if pending.is_empty() && conn.mailbox().take_all(&mut pending) == 0 {
            // Idle connections hold no queue memory (there are many of them).
            pending = VecDeque::new();
            conn.mailbox().wait().await;
            continue;
        }
        batch.clear();
        while let Some(message) = pending.pop_front() {
            if let Err(reason) = apply(message, &mut channels, &mut batch) {
                conn.close(reason);
                break 'writing;
            }
            if batch.len() >= MAX_BATCH_BYTES {
                break;
            }
        }
        if conn.is_closing() {
            break;
        }
        if batch.is_empty() {
            continue;
        }
        let text = Message::Text(Utf8Bytes::from(std::mem::take(&mut batch)));
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(text)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                conn.close(Disconnect::WriteError);
                break;
            }
            Err(_) => {
                conn.close(Disconnect::SlowConsumer);
                break;
            }
        }
    }
    // Senders waiting for room must not wait for a writer that is gone.
    conn.mailbox().close();
    if let Some(reason) = conn.close_reason() {
        let close =
            Message::Close(Some(CloseFrame { code: reason.code(), reason: Utf8Bytes::from_static(reason.reason()) }));
        let _ = tokio::time::timeout(Duration::from_secs(2), sink.send(close)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
}

fn append(batch: &mut String, frame: &str) {
    if !batch.is_empty() {
        batch.push('\n');
    }
    batch.push_str(frame);
}

/// Applies one queued message to the batch being built. A publication is
/// written only if it is the channel's next offset: repeats (a re-published
/// event) are dropped, and a gap means this client missed something, so it is
/// closed with 3010 to reconnect and recover from history.
fn apply(message: Outgoing, channels: &mut Channels, batch: &mut String) -> Result<(), Disconnect> {
    match message {
        Outgoing::Frame(frame) => append(batch, &frame),
        Outgoing::Ping => append(batch, "{}"),
        Outgoing::Pub { channel, offset, frame } => match channels.get_mut(&channel) {
            None => {}
            Some(ChannelState::Pending(held)) => {
                if held.len() >= MAX_HELD {
                    return Err(Disconnect::SlowConsumer);
                }
                held.push((offset, frame));
            }
            Some(ChannelState::Live(last)) => {
                if offset == *last + 1 {
                    *last = offset;
                    append(batch, &frame);
                } else if offset > *last + 1 {
                    return Err(Disconnect::InsufficientState);
                }
            }
        },
        Outgoing::SubscribeStart { channel } => {
            channels.insert(channel, ChannelState::Pending(Vec::new()));
        }
        Outgoing::SubscribeReady { positions, frame } => {
            append(batch, &frame);
            for (channel, offset) in positions {
                let held = match channels.insert(channel.clone(), ChannelState::Live(offset)) {
                    Some(ChannelState::Pending(held)) => held,
                    _ => Vec::new(),
                };
                for (offset, frame) in held {
                    apply(Outgoing::Pub { channel: channel.clone(), offset, frame }, channels, batch)?;
                }
            }
        }
        Outgoing::SubscribeFailed { channel } => {
            channels.remove(&channel);
        }
        Outgoing::Unsubscribed { channel, frame } => {
            channels.remove(&channel);
            if let Some(frame) = frame {
                append(batch, &frame);
            }
        }
    }
    Ok(())
}

struct Reader {
    state: AppState,
    conn: Arc<Connection>,
    connected: bool,
    commands: CommandLimiter,
}

/// The outcome of one command: keep going, or close with a reason.
type Step = Result<(), Disconnect>;

impl Reader {
    async fn run(mut self, mut stream: SplitStream<WebSocket>) {
        loop {
            let next = tokio::select! {
                biased;
                _ = self.conn.closed().cancelled() => return,
                next = stream.next() => next,
            };
            let step = match next {
                None | Some(Ok(Message::Close(_))) => {
                    self.conn.end();
                    return;
                }
                // Boxed: the command futures are several KB, and an idle connection's
                // task should only be as large as its wait for the next frame.
                Some(Ok(Message::Text(text))) => Box::pin(self.handle_frame(text.as_str())).await,
                Some(Ok(Message::Binary(_))) => Err(Disconnect::BadRequest),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                Some(Err(e)) => {
                    let too_big = std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| e.to_string())
                        .contains("too long")
                        || e.to_string().contains("Space limit exceeded")
                        || e.to_string().contains("too long");
                    if too_big {
                        Err(Disconnect::MessageTooBig)
                    } else {
                        self.conn.end();
                        return;
                    }
                }
            };
            if let Err(reason) = step {
                tracing::info!(
                    client = %self.conn.client_id,
                    user_id = ?self.user_id(),
                    code = reason.code(),
                    reason = reason.reason(),
                    "closing connection"
                );
                self.conn.close(reason);
                return;
            }
        }
    }

    async fn handle_frame(&mut self, text: &str) -> Step {
        for command in protocol::commands(text) {
            let command = command?;
            // Pongs answer the server and are never limited.
            if command.method_count() > 0 {
                match self.commands.admit() {
                    Admission::Run => {}
                    Admission::Refuse if command.id != 0 => {
                        self.error(command.id, error_code::TOO_MANY_REQUESTS, "too many requests").await?;
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

    async fn send(&self, message: Outgoing) -> Step {
        // Replies wait for room in the queue (backpressure on this client only).
        self.conn.mailbox().send(message).await.map_err(|_| Disconnect::WriteError)
    }

    async fn reply(&self, bytes: Vec<u8>) -> Step {
        self.send(Outgoing::Frame(frame(bytes))).await
    }

    async fn error(&self, id: u32, code: u32, message: &str) -> Step {
        let temporary = matches!(code, error_code::INTERNAL | error_code::TOO_MANY_REQUESTS);
        self.reply(protocol::error_reply(id, code, message, temporary)).await
    }

    async fn handle(&mut self, command: Command) -> Step {
        let methods = command.method_count();
        if methods == 0 {
            if command.id != 0 || !self.connected {
                return Err(Disconnect::BadRequest);
            }
            // A pong; one with no ping outstanding is a protocol violation.
            return if self.conn.pong() { Ok(()) } else { Err(Disconnect::BadRequest) };
        }
        if methods > 1 {
            return Err(Disconnect::BadRequest);
        }
        let id = command.id;
        if let Some(connect) = command.connect {
            if self.connected || id == 0 {
                return Err(Disconnect::BadRequest);
            }
            return self.connect(id, connect).await;
        }
        if !self.connected {
            return Err(Disconnect::BadRequest);
        }
        if command.send.is_some() {
            return Ok(());
        }
        if id == 0 {
            return Err(Disconnect::BadRequest);
        }
        if let Some(sub) = command.subscribe {
            return self.subscribe(id, sub).await;
        }
        if let Some(req) = command.unsubscribe {
            let removed = self.state.hub().unsubscribe(&self.conn, &req.channel);
            let reply = frame(protocol::reply(id, "unsubscribe", &json!({})));
            if removed {
                return self
                    .send(Outgoing::Unsubscribed { channel: Arc::from(req.channel.as_str()), frame: Some(reply) })
                    .await;
            }
            return self.send(Outgoing::Frame(reply)).await;
        }
        if let Some(req) = command.publish {
            // Every channel is server-owned: clients read, the API writes.
            return match Channel::parse(&req.channel) {
                Ok(_) => self.error(id, error_code::PERMISSION_DENIED, "permission denied").await,
                Err(_) => self.error(id, error_code::UNKNOWN_CHANNEL, "unknown channel").await,
            };
        }
        if let Some(req) = command.presence {
            let clients = match self.presence_of(&req.channel).await {
                Ok(clients) => clients,
                Err(code) => return self.error(id, code, message_of(code)).await,
            };
            let presence: serde_json::Map<String, serde_json::Value> =
                clients.iter().map(|c| (c.client.clone(), json!(c))).collect();
            return self.reply(protocol::reply(id, "presence", &json!({ "presence": presence }))).await;
        }
        if let Some(req) = command.presence_stats {
            let clients = match self.presence_of(&req.channel).await {
                Ok(clients) => clients,
                Err(code) => return self.error(id, code, message_of(code)).await,
            };
            let stats = json!({ "num_clients": clients.len(), "num_users": distinct_users(&clients) });
            return self.reply(protocol::reply(id, "presence_stats", &stats)).await;
        }
        if let Some(req) = command.history {
            return self.history(id, req).await;
        }
        if let Some(req) = command.refresh {
            return self.refresh(id, &req.token).await;
        }
        if command.ping.is_some() {
            return self.reply(protocol::reply(id, "ping", &json!({}))).await;
        }
        // rpc and sub_refresh: nothing is registered under them.
        self.error(id, error_code::METHOD_NOT_FOUND, "method not found").await
    }

    /// Everyone on `channel` across the cluster, if the caller may read it.
    async fn presence_of(&self, channel: &str) -> Result<Vec<ClientInfo>, u32> {
        self.authorize(channel).await?;
        self.state.presence().clients(channel).await.map_err(|e| {
            tracing::warn!(error = %e, "presence query failed");
            error_code::INTERNAL
        })
    }

    fn user_id(&self) -> Option<UserId> {
        self.conn.auth().map(|a| a.user_id)
    }

    async fn connect(&mut self, id: u32, request: protocol::ConnectRequest) -> Step {
        let claims = match self.state.tokens().verify(&request.token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return self.error(id, error_code::TOKEN_EXPIRED, "token expired").await,
            Err(TokenError::Invalid) => return Err(Disconnect::InvalidToken),
        };
        let user_id = UserId::parse(&claims.sub).map_err(|_| Disconnect::InvalidToken)?;
        let user = match self.state.store().user_by_id(&user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(Disconnect::InvalidToken),
            Err(_) => return self.error(id, error_code::INTERNAL, "internal server error").await,
        };
        if !super::source_is_valid(&self.state, &claims.src, &user_id).await.map_err(|_| Disconnect::ServerError)? {
            return Err(Disconnect::InvalidToken);
        }
        let auth = ConnAuth {
            user_id: user.id.clone(),
            info: Arc::new(claims.info.clone()),
            source: claims.src.clone(),
            expires_at_ms: claims.exp * 1000,
        };
        if !self.state.hub().admit(&self.conn, auth, self.state.settings().ws_max_connections_per_user) {
            return Err(Disconnect::ConnectionLimit);
        }
        self.connected = true;

        let mut subs = serde_json::Map::new();
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
                        self.state.hub().unsubscribe(&self.conn, channel);
                    }
                    return self.error(id, code, message_of(code)).await;
                }
                Err(SubscribeError::Close(reason)) => return Err(reason),
            }
        }
        let ttl = (claims.exp - now_ms() / 1000).max(0);
        let mut result = json!({
            "client": self.conn.client_id,
            "version": concat!("solo ", env!("CARGO_PKG_VERSION")),
            "expires": true,
            "ttl": ttl,
            "ping": self.state.hub().timing().ping_interval_ms / 1000,
            "pong": true,
            "node": self.state.node_id(),
        });
        if !subs.is_empty() {
            result["subs"] = serde_json::Value::Object(subs);
        }
        tracing::info!(client = %self.conn.client_id, user_id = %user.id, "connected");
        self.send(Outgoing::SubscribeReady { positions, frame: frame(protocol::reply(id, "connect", &result)) }).await
    }

    async fn refresh(&mut self, id: u32, token: &str) -> Step {
        let claims = match self.state.tokens().verify(token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return self.error(id, error_code::TOKEN_EXPIRED, "token expired").await,
            Err(TokenError::Invalid) => return Err(Disconnect::InvalidToken),
        };
        let Some(mut auth) = self.conn.auth() else { return Err(Disconnect::BadRequest) };
        if claims.sub != auth.user_id.as_str() {
            return Err(Disconnect::InvalidToken);
        }
        auth.expires_at_ms = claims.exp * 1000;
        auth.source = claims.src;
        self.conn.set_auth(auth);
        let ttl = (claims.exp - now_ms() / 1000).max(0);
        let result = json!({ "client": self.conn.client_id, "version": concat!("solo ", env!("CARGO_PKG_VERSION")), "expires": true, "ttl": ttl });
        self.reply(protocol::reply(id, "refresh", &result)).await
    }

    /// Checks that the channel exists and the user may read it; the error code otherwise.
    async fn authorize(&self, channel: &str) -> Result<Channel, u32> {
        let parsed = Channel::parse(channel).map_err(|_| error_code::UNKNOWN_CHANNEL)?;
        let user = self.user_id().ok_or(error_code::UNAUTHORIZED)?;
        match may_read(self.state.store(), &user, &parsed).await {
            Ok(true) => Ok(parsed),
            Ok(false) => Err(error_code::PERMISSION_DENIED),
            Err(e) => {
                tracing::warn!(error = %e, "permission check failed");
                Err(error_code::INTERNAL)
            }
        }
    }

    async fn subscribe(&mut self, id: u32, request: SubscribeRequest) -> Step {
        match self.prepare_subscription(&request).await {
            Ok((result, position)) => {
                self.send(Outgoing::SubscribeReady {
                    positions: vec![position],
                    frame: frame(protocol::reply(id, "subscribe", &result)),
                })
                .await
            }
            Err(SubscribeError::Reply(code)) => self.error(id, code, message_of(code)).await,
            Err(SubscribeError::Close(reason)) => Err(reason),
        }
    }

    /// Authorizes, registers and positions a subscription, recovering missed
    /// publications when asked. The caller sends the reply with the position,
    /// which makes the subscription live in the writer.
    async fn prepare_subscription(
        &mut self,
        request: &SubscribeRequest,
    ) -> Result<(serde_json::Value, (Arc<str>, u64)), SubscribeError> {
        let hub = self.state.hub().clone();
        let channel_name: Arc<str> = Arc::from(request.channel.as_str());
        let channel = self.authorize(&request.channel).await.map_err(SubscribeError::Reply)?;
        if hub.is_subscribed(&self.conn, &request.channel) {
            return Err(SubscribeError::Reply(error_code::ALREADY_SUBSCRIBED));
        }
        if hub.subscription_count(&self.conn) >= MAX_SUBSCRIPTIONS {
            return Err(SubscribeError::Close(Disconnect::ChannelLimit));
        }
        let auth = self.conn.auth().ok_or(SubscribeError::Close(Disconnect::BadRequest))?;
        // Hold publications from now on, then read the position: whatever is
        // published meanwhile is either in history or held, never lost.
        self.send(Outgoing::SubscribeStart { channel: channel_name.clone() }).await.map_err(SubscribeError::Close)?;
        let info = ClientInfo {
            user: auth.user_id.to_string(),
            client: self.conn.client_id.clone(),
            conn_info: Some(auth.info.clone()),
        };
        hub.subscribe(&self.conn, &channel_name, request.join_leave, info);
        let built = self.position_and_recover(&channel, request).await;
        match built {
            Ok((result, offset)) => Ok((result, (channel_name, offset))),
            Err(code) => {
                hub.unsubscribe(&self.conn, &request.channel);
                let _ = self.send(Outgoing::SubscribeFailed { channel: channel_name }).await;
                Err(SubscribeError::Reply(code))
            }
        }
    }

    async fn position_and_recover(
        &self,
        channel: &Channel,
        request: &SubscribeRequest,
    ) -> Result<(serde_json::Value, u64), u32> {
        let cap = self.state.settings().recovery_max_publications;
        if request.recover {
            // Most recoveries ask for the last few publications, which this node holds.
            let recent = self.state.hub().recent().since(&request.channel, &request.epoch, request.offset, cap);
            if let Some(recent) = recent {
                self.count_recovery(true);
                self.state.metrics().recoveries_from_memory.inc();
                let mut result = json!({
                    "recoverable": true, "positioned": true, "epoch": recent.epoch, "offset": recent.top,
                    "was_recovering": true, "recovered": true,
                });
                if !recent.items.is_empty() {
                    result["publications"] = publications_json(recent.items.iter().map(|(o, e)| (*o, &**e)));
                }
                return Ok((result, recent.top));
            }
        }
        let store = self.state.store();
        let position = store.channel_position(channel).await.map_err(|_| error_code::INTERNAL)?;
        let mut result =
            json!({ "recoverable": true, "positioned": true, "epoch": position.epoch, "offset": position.offset });
        if !request.recover {
            return Ok((result, position.offset));
        }
        result["was_recovering"] = json!(true);
        let missed = position.offset.saturating_sub(request.offset);
        let mut recovered = false;
        let mut publications = Vec::new();
        if request.epoch == position.epoch && request.offset <= position.offset && missed <= cap {
            let history = store
                .channel_history(channel, request.offset, missed as i64)
                .await
                .map_err(|_| error_code::INTERNAL)?;
            let complete = history.len() as u64 == missed
                && history.iter().enumerate().all(|(i, h)| h.offset == request.offset + 1 + i as u64);
            if complete {
                recovered = true;
                publications = history;
            }
        }
        self.count_recovery(recovered);
        if !recovered && request.flag & FLAG_REJECT_UNRECOVERED != 0 {
            return Err(error_code::UNRECOVERABLE_POSITION);
        }
        result["recovered"] = json!(recovered);
        if !publications.is_empty() {
            result["publications"] = publications_json(publications.iter().map(|h| (h.offset, h.envelope.as_str())));
        }
        Ok((result, position.offset))
    }

    fn count_recovery(&self, recovered: bool) {
        let labels = crate::metrics::RecoveredLabels { recovered: if recovered { "true" } else { "false" } };
        self.state.metrics().recoveries.get_or_create(&labels).inc();
    }

    async fn history(&self, id: u32, request: protocol::HistoryRequest) -> Step {
        let channel = match self.authorize(&request.channel).await {
            Ok(channel) => channel,
            Err(code) => return self.error(id, code, message_of(code)).await,
        };
        let store = self.state.store();
        let Ok(position) = store.channel_position(&channel).await else {
            return self.error(id, error_code::INTERNAL, "internal server error").await;
        };
        let limit = request.limit.clamp(0, 1000);
        let mut since = 0;
        if let Some(s) = &request.since {
            if s.epoch != position.epoch || s.offset > position.offset {
                return self.error(id, error_code::UNRECOVERABLE_POSITION, "unrecoverable position").await;
            }
            since = s.offset;
        }
        let mut items = Vec::new();
        if limit > 0 {
            let from = if request.reverse && request.since.is_none() {
                position.offset.saturating_sub(limit as u64)
            } else {
                since
            };
            match store.channel_history(&channel, from, limit).await {
                Ok(history) => items = history,
                Err(_) => return self.error(id, error_code::INTERNAL, "internal server error").await,
            }
            if request.reverse {
                items.reverse();
            }
        }
        let publications = publications_json(items.iter().map(|h| (h.offset, h.envelope.as_str())));
        let result = json!({ "publications": publications, "epoch": position.epoch, "offset": position.offset });
        self.reply(protocol::reply(id, "history", &result)).await
    }
}

/// Publications (offset, envelope JSON) in the protocol's shape.
fn publications_json<'a>(items: impl Iterator<Item = (u64, &'a str)>) -> serde_json::Value {
    let pubs: Vec<serde_json::Value> = items
        .filter_map(|(offset, envelope)| {
            let envelope: serde_json::Value = serde_json::from_str(envelope).ok()?;
            let tags = json!({ "type": envelope["type"], "traceId": envelope["traceId"] });
            Some(json!({ "data": envelope, "offset": offset, "tags": tags }))
        })
        .collect();
    serde_json::Value::Array(pubs)
}

enum SubscribeError {
    Reply(u32),
    Close(Disconnect),
}

fn message_of(code: u32) -> &'static str {
    match code {
        error_code::UNAUTHORIZED => "unauthorized",
        error_code::UNKNOWN_CHANNEL => "unknown channel",
        error_code::PERMISSION_DENIED => "permission denied",
        error_code::METHOD_NOT_FOUND => "method not found",
        error_code::ALREADY_SUBSCRIBED => "already subscribed",
        error_code::LIMIT_EXCEEDED => "limit exceeded",
        error_code::BAD_REQUEST => "bad request",
        error_code::TOKEN_EXPIRED => "token expired",
        error_code::UNRECOVERABLE_POSITION => "unrecoverable position",
        _ => "internal server error",
    }
}
