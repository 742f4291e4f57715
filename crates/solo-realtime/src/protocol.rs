//! The Centrifugo client protocol v2, the subset Solo speaks, in both of its
//! formats.
//!
//! JSON: commands arrive as newline-separated JSON objects in text frames;
//! field names are the protobuf schema's snake_case names. Protobuf: commands
//! arrive as length-delimited `Command` messages in binary frames (see
//! [`crate::protobuf`] for the replies). Each request type below is both a
//! serde and a prost message, with the schema's field numbers, so both formats
//! decode into the same [`Command`]. Fields we do not implement are ignored,
//! never an error. JSON replies and pushes are built here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The format a connection speaks, chosen when it opens (a WebSocket's
/// `centrifuge-protobuf` subprotocol or `?format=protobuf`; an HTTP stream's
/// `application/octet-stream` body) and kept for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    Protobuf,
}

/// Reply error codes (`{"error": {"code": …}}`).
pub mod error_code {
    pub const INTERNAL: u32 = 100;
    pub const UNAUTHORIZED: u32 = 101;
    pub const UNKNOWN_CHANNEL: u32 = 102;
    pub const PERMISSION_DENIED: u32 = 103;
    pub const METHOD_NOT_FOUND: u32 = 104;
    pub const ALREADY_SUBSCRIBED: u32 = 105;
    pub const LIMIT_EXCEEDED: u32 = 106;
    pub const BAD_REQUEST: u32 = 107;
    pub const NOT_AVAILABLE: u32 = 108;
    pub const TOKEN_EXPIRED: u32 = 109;
    pub const EXPIRED: u32 = 110;
    pub const TOO_MANY_REQUESTS: u32 = 111;
    pub const UNRECOVERABLE_POSITION: u32 = 112;

    /// The message sent with each code: one table for every reply error.
    pub fn message(code: u32) -> &'static str {
        match code {
            UNAUTHORIZED => "unauthorized",
            UNKNOWN_CHANNEL => "unknown channel",
            PERMISSION_DENIED => "permission denied",
            METHOD_NOT_FOUND => "method not found",
            ALREADY_SUBSCRIBED => "already subscribed",
            LIMIT_EXCEEDED => "limit exceeded",
            BAD_REQUEST => "bad request",
            NOT_AVAILABLE => "not available",
            TOKEN_EXPIRED => "token expired",
            EXPIRED => "expired",
            TOO_MANY_REQUESTS => "too many requests",
            UNRECOVERABLE_POSITION => "unrecoverable position",
            _ => "internal server error",
        }
    }
}

/// A reason to close a connection, with its WebSocket close code. Codes below
/// 3500 tell the client to reconnect; 3500 and above are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    Shutdown,
    ServerError,
    Expired,
    SlowConsumer,
    WriteError,
    InsufficientState,
    NoPong,
    InvalidToken,
    BadRequest,
    Stale,
    ForceDisconnect,
    ChannelLimit,
    ConnectionLimit,
    TooManyRequests,
    MessageTooBig,
    /// A code the server API's `disconnect` chose (3000–4999; from 3500 the
    /// client does not reconnect). Its reason text is not kept per connection.
    Custom(u16),
}

impl Disconnect {
    pub fn code(self) -> u16 {
        match self {
            Disconnect::Shutdown => 3001,
            Disconnect::ServerError => 3004,
            Disconnect::Expired => 3005,
            Disconnect::SlowConsumer => 3008,
            Disconnect::WriteError => 3009,
            Disconnect::InsufficientState => 3010,
            Disconnect::NoPong => 3012,
            Disconnect::InvalidToken => 3500,
            Disconnect::BadRequest => 3501,
            Disconnect::Stale => 3502,
            Disconnect::ForceDisconnect => 3503,
            Disconnect::ChannelLimit => 3505,
            Disconnect::ConnectionLimit => 3504,
            Disconnect::TooManyRequests => 3013,
            Disconnect::MessageTooBig => 1009,
            Disconnect::Custom(code) => code,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Disconnect::Shutdown => "shutdown",
            Disconnect::ServerError => "internal server error",
            Disconnect::Expired => "expired",
            Disconnect::SlowConsumer => "slow",
            Disconnect::WriteError => "write error",
            Disconnect::InsufficientState => "insufficient state",
            Disconnect::NoPong => "no pong",
            Disconnect::InvalidToken => "invalid token",
            Disconnect::BadRequest => "bad request",
            Disconnect::Stale => "stale",
            Disconnect::ForceDisconnect => "force disconnect",
            Disconnect::ChannelLimit => "channel limit",
            Disconnect::ConnectionLimit => "connection limit",
            Disconnect::TooManyRequests => "too many requests",
            Disconnect::MessageTooBig => "message size limit exceeded",
            Disconnect::Custom(_) => "disconnect",
        }
    }
}

/// One command from a client, decoded once: its id and what it asks for.
#[derive(Debug)]
pub struct Command {
    /// 0 for a command that wants no reply (`send`, a pong).
    pub id: u32,
    pub method: Method,
}

/// What a command asks for: exactly one method, or none (`{}`, a pong).
#[derive(Debug)]
pub enum Method {
    /// `{}`: the answer to a server ping.
    Pong,
    Connect(ConnectRequest),
    Subscribe(SubscribeRequest),
    Unsubscribe(ChannelRequest),
    Publish(ChannelRequest),
    Presence(ChannelRequest),
    PresenceStats(ChannelRequest),
    History(HistoryRequest),
    Ping,
    /// An asynchronous message to the server; nothing handles them.
    Send,
    Rpc(RpcRequest),
    Refresh(RefreshRequest),
    SubRefresh(SubRefreshRequest),
}

/// A command as it arrives: one optional field per method. Only
/// [`Command::decode`] and [`Command::decode_protobuf`] look at it.
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
struct WireCommand {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(message, optional, tag = "4")]
    connect: Option<ConnectRequest>,
    #[prost(message, optional, tag = "5")]
    subscribe: Option<SubscribeRequest>,
    #[prost(message, optional, tag = "6")]
    unsubscribe: Option<ChannelRequest>,
    #[prost(message, optional, tag = "7")]
    publish: Option<ChannelRequest>,
    #[prost(message, optional, tag = "8")]
    presence: Option<ChannelRequest>,
    #[prost(message, optional, tag = "9")]
    presence_stats: Option<ChannelRequest>,
    #[prost(message, optional, tag = "10")]
    history: Option<HistoryRequest>,
    #[prost(message, optional, tag = "11")]
    ping: Option<Empty>,
    #[prost(message, optional, tag = "12")]
    send: Option<Empty>,
    #[prost(message, optional, tag = "13")]
    rpc: Option<RpcRequest>,
    #[prost(message, optional, tag = "14")]
    refresh: Option<RefreshRequest>,
    #[prost(message, optional, tag = "15")]
    sub_refresh: Option<SubRefreshRequest>,
}

/// A message with nothing Solo reads or writes in it: the `ping` and `send`
/// requests, and the results of `unsubscribe`, `publish` and `ping`.
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
pub struct Empty {}

impl Command {
    /// Decodes one line of a frame. A line that is not a command object, or
    /// names more than one method, is a protocol violation (3501).
    pub fn decode(line: &str) -> Result<Command, Disconnect> {
        let wire: WireCommand = serde_json::from_str(line).map_err(|_| Disconnect::BadRequest)?;
        wire.into_command()
    }

    /// Decodes the next length-delimited protobuf command off the front of
    /// `bytes`. One that does not decode, or names more than one method, is a
    /// protocol violation (3501).
    pub fn decode_protobuf(bytes: &mut &[u8]) -> Result<Command, Disconnect> {
        let wire =
            <WireCommand as prost::Message>::decode_length_delimited(bytes).map_err(|_| Disconnect::BadRequest)?;
        wire.into_command()
    }

    /// A pong: the one command the per-connection budget does not count.
    pub fn is_pong(&self) -> bool {
        matches!(self.method, Method::Pong)
    }
}

impl WireCommand {
    fn into_command(self) -> Result<Command, Disconnect> {
        let WireCommand {
            id,
            connect,
            subscribe,
            unsubscribe,
            publish,
            presence,
            presence_stats,
            history,
            ping,
            send,
            rpc,
            refresh,
            sub_refresh,
        } = self;
        let methods = [
            connect.map(Method::Connect),
            subscribe.map(Method::Subscribe),
            unsubscribe.map(Method::Unsubscribe),
            publish.map(Method::Publish),
            presence.map(Method::Presence),
            presence_stats.map(Method::PresenceStats),
            history.map(Method::History),
            ping.map(|_| Method::Ping),
            send.map(|_| Method::Send),
            rpc.map(Method::Rpc),
            refresh.map(Method::Refresh),
            sub_refresh.map(Method::SubRefresh),
        ];
        let mut set = methods.into_iter().flatten();
        let method = set.next().unwrap_or(Method::Pong);
        if set.next().is_some() {
            return Err(Disconnect::BadRequest);
        }
        Ok(Command { id, method })
    }
}

/// The commands of one text frame: one JSON object per line (the protocol's
/// batching), blank lines skipped. A line that is not a command ends the
/// connection with 3501; the commands before it stand.
pub fn commands(frame: &str) -> impl Iterator<Item = Result<Command, Disconnect>> + '_ {
    frame.split('\n').filter(|line| !line.trim().is_empty()).map(Command::decode)
}

/// The commands of one binary frame of a protobuf connection: length-delimited
/// `Command` messages, one after another. One that does not decode ends the
/// connection with 3501; the commands before it stand.
pub fn protobuf_commands(mut frame: &[u8]) -> impl Iterator<Item = Result<Command, Disconnect>> + '_ {
    let mut broken = false;
    std::iter::from_fn(move || {
        if frame.is_empty() || broken {
            return None;
        }
        let command = Command::decode_protobuf(&mut frame);
        broken = command.is_err();
        Some(command)
    })
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct ConnectRequest {
    #[prost(string, tag = "1")]
    pub token: String,
    #[prost(btree_map = "string, message", tag = "3")]
    pub subs: BTreeMap<String, SubscribeRequest>,
    #[prost(string, tag = "4")]
    pub name: String,
    #[prost(string, tag = "5")]
    pub version: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct SubscribeRequest {
    #[prost(string, tag = "1")]
    pub channel: String,
    /// A subscription token, for a channel of an integration namespace.
    #[prost(string, tag = "2")]
    pub token: String,
    #[prost(bool, tag = "3")]
    pub recover: bool,
    #[prost(string, tag = "6")]
    pub epoch: String,
    #[prost(uint64, tag = "7")]
    pub offset: u64,
    #[prost(bool, tag = "11")]
    pub join_leave: bool,
    #[prost(int64, tag = "14")]
    pub flag: i64,
}

/// Subscribe flag bit 2: answer error 112 instead of `recovered: false`.
pub const FLAG_REJECT_UNRECOVERED: i64 = 2;

/// Unsubscribe, publish, presence and presence stats: a channel is all Solo
/// reads of them.
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct ChannelRequest {
    #[prost(string, tag = "1")]
    pub channel: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct StreamPositionRequest {
    #[prost(uint64, tag = "1")]
    pub offset: u64,
    #[prost(string, tag = "2")]
    pub epoch: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct HistoryRequest {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(int32, tag = "7")]
    pub limit: i32,
    #[prost(message, optional, tag = "8")]
    pub since: Option<StreamPositionRequest>,
    #[prost(bool, tag = "9")]
    pub reverse: bool,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct RpcRequest {
    #[prost(string, tag = "2")]
    pub method: String,
}

/// A new subscription token for a subscription a token allowed.
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct SubRefreshRequest {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(string, tag = "2")]
    pub token: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct RefreshRequest {
    #[prost(string, tag = "1")]
    pub token: String,
}

/// A publication as sent to clients: the event envelope is embedded as raw JSON.
#[derive(Debug, Serialize)]
pub struct Publication<'a> {
    pub data: &'a RawValue,
    pub offset: u64,
    pub tags: Tags<'a>,
}

#[derive(Debug, Serialize)]
pub struct Tags<'a> {
    #[serde(rename = "type")]
    pub event_type: &'a str,
    #[serde(rename = "traceId")]
    pub trace_id: &'a str,
}

/// Client info as shown in presence and join/leave pushes (and kept in Redis
/// by cluster presence).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInfo {
    pub user: std::sync::Arc<str>,
    /// The connection's client id (a UUID: sent and stored as its text).
    pub client: uuid::Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_info: Option<std::sync::Arc<serde_json::Value>>,
}

/// `{"id": N, "<method>": result}`.
pub fn reply<T: Serialize>(id: u32, method: &str, result: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(id.to_string().as_bytes());
    out.extend_from_slice(b",\"");
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(b"\":");
    if serde_json::to_writer(&mut out, result).is_err() {
        return error_reply(id, error_code::INTERNAL, "internal server error", true);
    }
    out.push(b'}');
    out
}

/// `{"id": N, "error": {"code": C, "message": M, "temporary": T}}`.
pub fn error_reply(id: u32, code: u32, message: &str, temporary: bool) -> Vec<u8> {
    let error = serde_json::json!({ "code": code, "message": message, "temporary": temporary });
    let mut body = serde_json::json!({ "id": id, "error": error });
    if !temporary {
        if let Some(e) = body["error"].as_object_mut() {
            e.remove("temporary");
        }
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `{"push": {"channel": C, "<kind>": body}}`.
pub fn push<T: Serialize>(channel: &str, kind: &str, body: &T) -> Vec<u8> {
    let channel = serde_json::to_string(channel).unwrap_or_else(|_| "\"\"".to_owned());
    let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    format!("{{\"push\":{{\"channel\":{channel},\"{kind}\":{body}}}}}").into_bytes()
}

/// The push of one publication: built once per channel, shared by every subscriber.
pub fn publication_push(
    channel: &str,
    envelope: &str,
    offset: u64,
    event_type: &str,
    trace_id: &str,
) -> Option<Vec<u8>> {
    let data: &RawValue = serde_json::from_str(envelope).ok()?;
    Some(push(channel, "pub", &Publication { data, offset, tags: Tags { event_type, trace_id } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_ignore_unknown_fields() {
        let c = Command::decode(r#"{"id":1,"subscribe":{"channel":"mission:x","recover":true,"offset":5,"epoch":"ab","flag":3,"delta":"fossil","tf":{}}}"#).expect("parse");
        assert_eq!(c.id, 1);
        let Method::Subscribe(s) = c.method else { panic!("a subscribe: {c:?}") };
        assert!(s.recover && s.offset == 5 && s.flag == 3);
        let pong = Command::decode("{}").expect("pong");
        assert!(pong.is_pong() && pong.id == 0);
        assert!(matches!(Command::decode(r#"{"id":2,"ping":{}}"#).map(|c| c.method), Ok(Method::Ping)));
    }

    #[test]
    fn a_line_that_is_not_one_command_is_a_bad_request() {
        for line in [
            r#"{"id":1,"ping":{},"subscribe":{"channel":"c"}}"#,
            "[1,2]",
            "not json",
            r#"{"id":-1,"ping":{}}"#,
            r#"{"id":1,"subscribe":"c"}"#,
        ] {
            assert_eq!(Command::decode(line).err(), Some(Disconnect::BadRequest), "{line}");
        }
        let frame = "{\"id\":1,\"ping\":{}}\n\n{}\nnope";
        let decoded: Vec<bool> = commands(frame).map(|c| c.is_ok()).collect();
        assert_eq!(decoded, vec![true, true, false], "the commands before a bad line stand");
    }

    #[test]
    fn frames_have_the_protocol_shape() {
        let r = reply(3, "presence_stats", &serde_json::json!({"num_clients": 2, "num_users": 1}));
        let v: serde_json::Value = serde_json::from_slice(&r).expect("json");
        assert_eq!(v["id"], 3);
        assert_eq!(v["presence_stats"]["num_users"], 1);
        let p = publication_push("mission:m_1", r#"{"id":"e","version":2}"#, 7, "mission.stage_changed", "abc")
            .expect("push");
        let v: serde_json::Value = serde_json::from_slice(&p).expect("json");
        assert_eq!(v["push"]["channel"], "mission:m_1");
        assert_eq!(v["push"]["pub"]["offset"], 7);
        assert_eq!(v["push"]["pub"]["data"]["version"], 2);
        assert_eq!(v["push"]["pub"]["tags"]["type"], "mission.stage_changed");
        let e: serde_json::Value =
            serde_json::from_slice(&error_reply(4, 103, "permission denied", false)).expect("json");
        assert_eq!(e["error"]["code"], 103);
    }
}
