//! The server API's methods. Publications go through the store like every
//! event (one transaction: history, offsets, outbox), so the dispatcher
//! delivers them to every node, in order, and clients recover them; orders
//! about connections go to every node over the bus.

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use solo_domain::event::ServerPublication;
use solo_domain::Channel;
use solo_realtime::bus::Control;
use solo_realtime::history;
use solo_realtime::presence::distinct_users;
use solo_realtime::protocol::{error_code, HistoryRequest};
use solo_store::{Route, StoreError, WriteContext};

use super::params::{self, parse};
use super::{MethodError, Outcome};
use crate::state::AppState;

/// Every method but `batch`.
const METHODS: &[&str] = &[
    "publish",
    "broadcast",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "refresh",
    "presence",
    "presence_stats",
    "history",
    "history_remove",
    "channels",
    "info",
];

pub(crate) fn is_method(name: &str) -> bool {
    METHODS.contains(&name)
}

/// Most channels one `broadcast` publishes to (one event, one offset in each).
const MAX_BROADCAST: usize = 1000;

/// The calls of one request.
pub(crate) struct Calls<'a> {
    pub state: &'a AppState,
    pub trace_id: &'a str,
}

fn internal(what: &str, e: impl std::fmt::Display) -> MethodError {
    tracing::warn!(error = %e, "server API: {what} failed");
    MethodError::new(error_code::INTERNAL, "internal server error")
}

fn store_failed(e: StoreError) -> MethodError {
    match e.unavailability() {
        Some(_) => {
            tracing::warn!(error = %e, "server API: the database is unavailable");
            MethodError::new(error_code::INTERNAL, "internal server error: the database is unavailable; retry")
        }
        None => internal("a store call", e),
    }
}

fn position(route: &Route) -> Value {
    json!({ "offset": route.offset, "epoch": route.epoch })
}

impl Calls<'_> {
    pub(crate) async fn call(&self, method: &str, params: Map<String, Value>) -> Outcome {
        match method {
            "publish" => self.publish(parse(params)?).await,
            "broadcast" => self.broadcast(parse(params)?).await,
            "subscribe" => self.subscribe(parse(params)?).await,
            "unsubscribe" => self.unsubscribe(parse(params)?).await,
            "disconnect" => self.disconnect(parse(params)?).await,
            "refresh" => self.refresh(parse(params)?).await,
            "presence" => self.presence(parse(params)?, false).await,
            "presence_stats" => self.presence(parse(params)?, true).await,
            "history" => self.history(parse(params)?).await,
            "history_remove" => self.history_remove(parse(params)?).await,
            "channels" => self.channels(parse(params)?).await,
            "info" => Ok(self.info()),
            _ => Err(MethodError::new(error_code::METHOD_NOT_FOUND, format!("method not found: `{method}`"))),
        }
    }

    /// `{"commands": [{"<method>": params}, …], "parallel": bool}`: each command
    /// runs in turn (`parallel` is accepted: running them one after the other
    /// keeps publications in the order given) and answers in its place.
    pub(crate) async fn batch(&self, params: Map<String, Value>) -> Result<Value, MethodError> {
        let commands = match params.get("commands") {
            Some(Value::Array(commands)) => commands,
            Some(_) => return Err(MethodError::bad_request("`commands` must be an array")),
            None => return Err(MethodError::bad_request("`commands` is required")),
        };
        let mut replies = Vec::with_capacity(commands.len());
        for command in commands {
            let reply = match command {
                Value::Object(command) if command.len() == 1 => match command.iter().next() {
                    Some((method, _)) if method == "batch" => {
                        Err(MethodError::bad_request("a batch cannot hold a batch"))
                    }
                    Some((method, Value::Object(params))) => {
                        self.call(method, params.clone()).await.map(|result| (method.clone(), result))
                    }
                    Some((method, _)) => {
                        Err(MethodError::bad_request(format_args!("the parameters of `{method}` must be an object")))
                    }
                    None => Err(MethodError::bad_request("each command is an object with exactly one method")),
                },
                _ => Err(MethodError::bad_request("each command is an object with exactly one method")),
            };
            replies.push(match reply {
                Ok((method, result)) => json!({ method: result }),
                Err(e) => json!({ "error": { "code": e.code, "message": e.message } }),
            });
        }
        Ok(json!({ "replies": replies }))
    }

    async fn publish(&self, p: params::Publish) -> Outcome {
        params::channel(self.state.engine(), &p.channel)?;
        let data = params::data(p.data, p.b64data.as_deref())?;
        let routes = self.commit(vec![p.channel], data, p.tags).await?;
        routes.first().map(position).ok_or_else(|| internal("publish", "no route"))
    }

    /// One event on every valid channel; each channel answers in its place,
    /// the unknown ones with 102.
    async fn broadcast(&self, p: params::Broadcast) -> Outcome {
        if p.channels.is_empty() {
            return Err(MethodError::bad_request("`channels` is required"));
        }
        if p.channels.len() > MAX_BROADCAST {
            return Err(MethodError::new(
                error_code::LIMIT_EXCEEDED,
                format!("limit exceeded: at most {MAX_BROADCAST} channels per broadcast"),
            ));
        }
        let data = params::data(p.data, p.b64data.as_deref())?;
        let mut seen = HashSet::new();
        let valid: Vec<String> = p
            .channels
            .iter()
            .filter(|name| params::channel(self.state.engine(), name).is_ok() && seen.insert(name.as_str()))
            .cloned()
            .collect();
        let routes = if valid.is_empty() { Vec::new() } else { self.commit(valid, data, p.tags).await? };
        let responses: Vec<Value> = p
            .channels
            .iter()
            .map(|name| match params::channel(self.state.engine(), name) {
                Err(e) => json!({ "error": { "code": e.code, "message": e.message } }),
                Ok(_) => match routes.iter().find(|r| r.channel == *name) {
                    Some(route) => json!({ "result": position(route) }),
                    None => json!({ "error": { "code": error_code::INTERNAL, "message": "internal server error" } }),
                },
            })
            .collect();
        Ok(json!({ "responses": responses }))
    }

    /// Commits one `server.published` event on `channels`.
    async fn commit(
        &self,
        channels: Vec<String>,
        data: Value,
        tags: std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Route>, MethodError> {
        let ctx = WriteContext::system(self.trace_id);
        let publication = ServerPublication { channels, data, tags };
        self.state.store().append_publication(&ctx, publication).await.map_err(store_failed)
    }

    async fn order(&self, order: Control) -> Outcome {
        self.state.bus().control(&order).await.map_err(|e| internal("sending an order to the nodes", e))?;
        Ok(json!({}))
    }

    /// A server-side subscription, for a user who may read the channel: the
    /// same rule as their own subscribe, so revalidation never undoes it.
    async fn subscribe(&self, p: params::UserChannel) -> Outcome {
        let channel = params::channel(self.state.engine(), &p.channel)?;
        let user = params::user(&p.user)?;
        let client = params::client(p.client.as_deref())?;
        let engine = self.state.engine();
        // An integration channel is the backend's own: it decides who follows it.
        let allowed = match channel {
            Channel::Integration(_) => Ok(true),
            _ => engine.access().may_read(engine.store(), &user, &channel).await,
        };
        match allowed {
            Ok(true) => {}
            Ok(false) => {
                return Err(MethodError::new(
                    error_code::PERMISSION_DENIED,
                    format!("permission denied: {} may not read {}", p.user, p.channel),
                ))
            }
            Err(e) => return Err(store_failed(e)),
        }
        self.order(Control::Subscribe { user: p.user, channel: p.channel, client }).await
    }

    async fn unsubscribe(&self, p: params::UserChannel) -> Outcome {
        params::channel(self.state.engine(), &p.channel)?;
        params::user(&p.user)?;
        let client = params::client(p.client.as_deref())?;
        self.order(Control::Unsubscribe { user: p.user, channel: p.channel, client }).await
    }

    async fn disconnect(&self, p: params::Disconnect) -> Outcome {
        params::user(&p.user)?;
        let client = params::client(p.client.as_deref())?;
        let code = params::close_code(p.disconnect.as_ref())?;
        let keep = p
            .whitelist
            .iter()
            .map(|id| params::client(Some(id)))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()?;
        self.order(Control::Disconnect { user: p.user, client, keep, code }).await
    }

    async fn refresh(&self, p: params::Refresh) -> Outcome {
        params::user(&p.user)?;
        let client = params::client(p.client.as_deref())?;
        let expire_at_ms = match p.expire_at {
            at if at <= 0 => None,
            at => Some(at.checked_mul(1000).ok_or_else(|| MethodError::bad_request("`expire_at` is out of range"))?),
        };
        self.order(Control::Refresh { user: p.user, client, expired: p.expired, expire_at_ms }).await
    }

    async fn presence(&self, p: params::ChannelOnly, stats: bool) -> Outcome {
        params::channel(self.state.engine(), &p.channel)?;
        let clients = self.state.presence().clients(&p.channel).await.map_err(|e| internal("a presence query", e))?;
        if stats {
            return Ok(json!({ "num_clients": clients.len(), "num_users": distinct_users(&clients) }));
        }
        let presence: Map<String, Value> = clients.iter().map(|c| (c.client.to_string(), json!(c))).collect();
        Ok(json!({ "presence": presence }))
    }

    async fn history(&self, request: HistoryRequest) -> Outcome {
        let channel = params::channel(self.state.engine(), &request.channel)?;
        history::read(self.state.engine(), &channel, &request).await.map_err(|code| match code {
            error_code::UNRECOVERABLE_POSITION => MethodError::new(
                code,
                "unrecoverable position: `since` is not a position of this stream (another epoch, or ahead of it)",
            ),
            code => MethodError::new(code, error_code::message(code)),
        })
    }

    async fn history_remove(&self, p: params::ChannelOnly) -> Outcome {
        let channel = params::channel(self.state.engine(), &p.channel)?;
        let removed = self.state.store().remove_history(&channel).await.map_err(store_failed)?;
        tracing::info!(channel = %p.channel, removed, "history removed by the server API");
        // Every node forgets what it kept in memory for recovery.
        self.order(Control::HistoryRemoved { channel: p.channel }).await
    }

    async fn channels(&self, p: params::Channels) -> Outcome {
        let all = self.state.presence().channels().await.map_err(|e| internal("listing channels", e))?;
        let channels: Map<String, Value> = all
            .into_iter()
            .filter(|(name, _)| params::matches_pattern(&p.pattern, name))
            .map(|(name, clients)| (name, json!({ "num_clients": clients })))
            .collect();
        Ok(json!({ "channels": channels }))
    }

    /// This node's figures (the node that answers; see docs/architecture/realtime.md).
    fn info(&self) -> Value {
        let hub = self.state.hub();
        let channels = hub.channel_counts();
        let node = self.state.node_id();
        json!({ "nodes": [{
            "uid": node,
            "name": node,
            "version": concat!("solo ", env!("CARGO_PKG_VERSION")),
            "num_clients": hub.connection_count(),
            "num_users": hub.user_count(),
            "num_channels": channels.len(),
            "num_subs": channels.iter().map(|(_, n)| n).sum::<usize>(),
            "uptime": self.state.uptime_secs(),
        }] })
    }
}
