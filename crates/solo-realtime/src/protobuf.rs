//! The protobuf format of the Centrifugo client protocol: what the server
//! writes to a protobuf connection (`Reply` messages, length-delimited, in
//! binary frames; the commands it reads are in [`crate::protocol`]).
//!
//! Solo builds every reply and push as JSON first (one code path for both
//! formats) and a protobuf connection gets it transcoded: the JSON is read into
//! the messages below (each one a serde and a prost message, with the field
//! numbers of Centrifugo's `client.proto`) and encoded. The `bytes` fields that
//! carry JSON in the JSON format (a publication's `data`, a client's
//! `conn_info`) carry the same JSON text as bytes, as Centrifugo sends them.
//! The one message on the hot path, a publication's push, is encoded directly
//! ([`publication_push`]), once per channel, as its JSON frame is.

use std::collections::BTreeMap;

use prost::Message as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::protocol::Empty;

/// The server's ping: an empty `Reply`, length-delimited.
pub const PING: &[u8] = &[0];

/// Reads a JSON value of any kind as the bytes of its JSON text.
fn json_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let raw = <&RawValue>::deserialize(deserializer)?;
    Ok(raw.get().as_bytes().to_vec())
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct Reply {
    #[prost(uint32, tag = "1")]
    pub id: u32,
    #[prost(message, optional, tag = "2")]
    pub error: Option<Error>,
    #[prost(message, optional, tag = "4")]
    pub push: Option<Push>,
    #[prost(message, optional, tag = "5")]
    pub connect: Option<ConnectResult>,
    #[prost(message, optional, tag = "6")]
    pub subscribe: Option<SubscribeResult>,
    #[prost(message, optional, tag = "7")]
    pub unsubscribe: Option<Empty>,
    #[prost(message, optional, tag = "8")]
    pub publish: Option<Empty>,
    #[prost(message, optional, tag = "9")]
    pub presence: Option<PresenceResult>,
    #[prost(message, optional, tag = "10")]
    pub presence_stats: Option<PresenceStatsResult>,
    #[prost(message, optional, tag = "11")]
    pub history: Option<HistoryResult>,
    #[prost(message, optional, tag = "12")]
    pub ping: Option<Empty>,
    #[prost(message, optional, tag = "13")]
    pub rpc: Option<RpcResult>,
    #[prost(message, optional, tag = "14")]
    pub refresh: Option<RefreshResult>,
    #[prost(message, optional, tag = "15")]
    pub sub_refresh: Option<SubRefreshResult>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct Error {
    #[prost(uint32, tag = "1")]
    pub code: u32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(bool, tag = "3")]
    pub temporary: bool,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct Push {
    #[prost(string, tag = "2")]
    pub channel: String,
    #[serde(rename = "pub")]
    #[prost(message, optional, tag = "4")]
    pub publication: Option<Publication>,
    #[prost(message, optional, tag = "5")]
    pub join: Option<PresenceChange>,
    #[prost(message, optional, tag = "6")]
    pub leave: Option<PresenceChange>,
    #[prost(message, optional, tag = "7")]
    pub unsubscribe: Option<UnsubscribePush>,
    #[prost(message, optional, tag = "9")]
    pub subscribe: Option<SubscribePush>,
    #[prost(message, optional, tag = "11")]
    pub disconnect: Option<DisconnectPush>,
    #[prost(message, optional, tag = "12")]
    pub refresh: Option<RefreshPush>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct ClientInfo {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(string, tag = "2")]
    pub client: String,
    #[serde(deserialize_with = "json_bytes")]
    #[prost(bytes = "vec", tag = "3")]
    pub conn_info: Vec<u8>,
    #[serde(deserialize_with = "json_bytes")]
    #[prost(bytes = "vec", tag = "4")]
    pub chan_info: Vec<u8>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct Publication {
    /// The event envelope's JSON text.
    #[serde(deserialize_with = "json_bytes")]
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
    #[prost(uint64, tag = "6")]
    pub offset: u64,
    #[prost(btree_map = "string, string", tag = "7")]
    pub tags: BTreeMap<String, String>,
}

/// A `join` or `leave` push.
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct PresenceChange {
    #[prost(message, optional, tag = "1")]
    pub info: Option<ClientInfo>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct UnsubscribePush {
    #[prost(uint32, tag = "2")]
    pub code: u32,
    #[prost(string, tag = "3")]
    pub reason: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct SubscribePush {
    #[prost(bool, tag = "1")]
    pub recoverable: bool,
    #[prost(string, tag = "4")]
    pub epoch: String,
    #[prost(uint64, tag = "5")]
    pub offset: u64,
    #[prost(bool, tag = "6")]
    pub positioned: bool,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct DisconnectPush {
    #[prost(uint32, tag = "1")]
    pub code: u32,
    #[prost(string, tag = "2")]
    pub reason: String,
    #[prost(bool, tag = "3")]
    pub reconnect: bool,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct RefreshPush {
    #[prost(bool, tag = "1")]
    pub expires: bool,
    #[prost(uint32, tag = "2")]
    pub ttl: u32,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct ConnectResult {
    #[prost(string, tag = "1")]
    pub client: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(bool, tag = "3")]
    pub expires: bool,
    #[prost(uint32, tag = "4")]
    pub ttl: u32,
    #[prost(btree_map = "string, message", tag = "6")]
    pub subs: BTreeMap<String, SubscribeResult>,
    #[prost(uint32, tag = "7")]
    pub ping: u32,
    #[prost(bool, tag = "8")]
    pub pong: bool,
    #[prost(string, tag = "9")]
    pub session: String,
    #[prost(string, tag = "10")]
    pub node: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct SubscribeResult {
    #[prost(bool, tag = "1")]
    pub expires: bool,
    #[prost(uint32, tag = "2")]
    pub ttl: u32,
    #[prost(bool, tag = "3")]
    pub recoverable: bool,
    #[prost(string, tag = "6")]
    pub epoch: String,
    #[prost(message, repeated, tag = "7")]
    pub publications: Vec<Publication>,
    #[prost(bool, tag = "8")]
    pub recovered: bool,
    #[prost(uint64, tag = "9")]
    pub offset: u64,
    #[prost(bool, tag = "10")]
    pub positioned: bool,
    #[prost(bool, tag = "12")]
    pub was_recovering: bool,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct PresenceResult {
    #[prost(btree_map = "string, message", tag = "1")]
    pub presence: BTreeMap<String, ClientInfo>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct PresenceStatsResult {
    #[prost(uint32, tag = "1")]
    pub num_clients: u32,
    #[prost(uint32, tag = "2")]
    pub num_users: u32,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct HistoryResult {
    #[prost(message, repeated, tag = "1")]
    pub publications: Vec<Publication>,
    #[prost(string, tag = "2")]
    pub epoch: String,
    #[prost(uint64, tag = "3")]
    pub offset: u64,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct RpcResult {
    #[serde(deserialize_with = "json_bytes")]
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct RefreshResult {
    #[prost(string, tag = "1")]
    pub client: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(bool, tag = "3")]
    pub expires: bool,
    #[prost(uint32, tag = "4")]
    pub ttl: u32,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct SubRefreshResult {
    #[prost(bool, tag = "1")]
    pub expires: bool,
    #[prost(uint32, tag = "2")]
    pub ttl: u32,
}

/// What an HTTP-streaming client posts to the emulation endpoint in the
/// protobuf format: its commands (`data`, length-delimited `Command`s) and
/// the session they belong to.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EmulationRequest {
    #[prost(string, tag = "1")]
    pub node: String,
    #[prost(string, tag = "2")]
    pub session: String,
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
}

/// A JSON message the server built is not one the protobuf schema can carry.
#[derive(Debug, thiserror::Error)]
#[error("a reply could not be transcoded to protobuf: {0}")]
pub struct TranscodeError(#[from] serde_json::Error);

/// The protobuf form of a JSON message the server built: each of its
/// newline-separated replies as a length-delimited `Reply`.
pub fn transcode(json: &[u8]) -> Result<Vec<u8>, TranscodeError> {
    let mut out = Vec::with_capacity(json.len());
    for line in json.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        let reply: Reply = serde_json::from_slice(line)?;
        out.extend_from_slice(&reply.encode_length_delimited_to_vec());
    }
    Ok(out)
}

/// The push of one publication, length-delimited: built once per channel and
/// shared by every protobuf subscriber, as [`crate::protocol::publication_push`]
/// is by the JSON ones.
pub fn publication_push(channel: &str, envelope: &str, offset: u64, event_type: &str, trace_id: &str) -> Vec<u8> {
    let tags =
        BTreeMap::from([("traceId".to_owned(), trace_id.to_owned()), ("type".to_owned(), event_type.to_owned())]);
    let reply = Reply {
        push: Some(Push {
            channel: channel.to_owned(),
            publication: Some(Publication { data: envelope.as_bytes().to_vec(), offset, tags }),
            ..Push::default()
        }),
        ..Reply::default()
    };
    reply.encode_length_delimited_to_vec()
}

/// The disconnect push of a stream whose connection the server closed (an
/// HTTP stream has no close frame to carry it).
pub fn disconnect_push(code: u16, reason: &str, reconnect: bool) -> Vec<u8> {
    let disconnect = DisconnectPush { code: u32::from(code), reason: reason.to_owned(), reconnect };
    Reply { push: Some(Push { disconnect: Some(disconnect), ..Push::default() }), ..Reply::default() }
        .encode_length_delimited_to_vec()
}

/// Reads length-delimited replies off `bytes` (a client's view; tests and the
/// benchmark's clients use it).
pub fn decode_replies(mut bytes: &[u8]) -> Result<Vec<Reply>, prost::DecodeError> {
    let mut replies = Vec::new();
    while !bytes.is_empty() {
        replies.push(Reply::decode_length_delimited(&mut bytes)?);
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{self, Command, Method};

    fn one(bytes: &[u8]) -> Reply {
        let mut replies = decode_replies(bytes).expect("decodes");
        assert_eq!(replies.len(), 1);
        replies.remove(0)
    }

    #[test]
    fn the_publication_push_is_the_transcoded_json_push_byte_for_byte() {
        let envelope =
            r#"{"id":"e_1","version":2,"type":"mission.stage_changed","traceId":"abc","data":{"stage":"review"}}"#;
        let json =
            protocol::publication_push("mission:m_1", envelope, 7, "mission.stage_changed", "abc").expect("json");
        let direct = publication_push("mission:m_1", envelope, 7, "mission.stage_changed", "abc");
        assert_eq!(transcode(&json).expect("transcodes"), direct);
        let push = one(&direct).push.expect("a push");
        assert_eq!(push.channel, "mission:m_1");
        let publication = push.publication.expect("a publication");
        assert_eq!(publication.offset, 7);
        assert_eq!(publication.data, envelope.as_bytes(), "data is the envelope's JSON text");
        assert_eq!(publication.tags["type"], "mission.stage_changed");
    }

    #[test]
    fn replies_errors_and_pings_transcode() {
        let connect = br#"{"id":1,"connect":{"client":"c-1","version":"solo 0.1.0","expires":true,"ttl":60,"ping":25,"pong":true,"node":"n1","subs":{"mission:m":{"recoverable":true,"positioned":true,"epoch":"e","offset":3,"was_recovering":true,"recovered":true,"publications":[{"data":{"a":1},"offset":3,"tags":{"type":"t","traceId":"x"}}]}}}}"#;
        let reply = one(&transcode(connect).expect("connect"));
        let result = reply.connect.expect("a connect result");
        assert_eq!((reply.id, result.ttl, result.ping, result.node.as_str()), (1, 60, 25, "n1"));
        let sub = &result.subs["mission:m"];
        assert!(sub.recovered && sub.was_recovering && sub.positioned);
        assert_eq!(sub.publications[0].data, br#"{"a":1}"#);

        let error = protocol::error_reply(4, 103, "permission denied", false);
        let error = one(&transcode(&error).expect("error")).error.expect("an error");
        assert_eq!((error.code, error.message.as_str()), (103, "permission denied"));

        let presence =
            br#"{"id":2,"presence":{"presence":{"c-1":{"user":"u_1","client":"c-1","conn_info":{"name":"Ada"}}}}}"#;
        let presence = one(&transcode(presence).expect("presence")).presence.expect("presence");
        assert_eq!(presence.presence["c-1"].conn_info, br#"{"name":"Ada"}"#);

        assert_eq!(transcode(b"{}").expect("ping"), PING, "an empty reply is the ping");
        let two = transcode(b"{\"id\":1,\"ping\":{}}\n{\"id\":2,\"unsubscribe\":{}}").expect("two");
        assert_eq!(decode_replies(&two).expect("decodes").iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn protobuf_commands_decode_into_the_same_commands_as_json() {
        let mut subscribe =
            protocol::SubscribeRequest { channel: "mission:m".into(), recover: true, ..Default::default() };
        subscribe.offset = 5;
        subscribe.epoch = "e".into();
        let mut frame = Vec::new();
        for command in [
            encode_command(1, Some(subscribe.clone()), None),
            encode_command(0, None, None),
            encode_command(2, None, Some("mission:m")),
        ] {
            frame.extend_from_slice(&command);
        }
        let commands: Vec<Command> = protocol::protobuf_commands(&frame).collect::<Result<_, _>>().expect("decodes");
        assert!(matches!(&commands[0].method, Method::Subscribe(s) if s.recover && s.offset == 5 && s.epoch == "e"));
        assert!(commands[1].is_pong());
        assert!(matches!(&commands[2].method, Method::Presence(p) if p.channel == "mission:m"));

        let broken: Vec<bool> = protocol::protobuf_commands(&[3, 0xff]).map(|c| c.is_ok()).collect();
        assert_eq!(broken, vec![false], "a command cut short is a bad request, and the last");
    }

    /// A `Command` as a protobuf client encodes it: id 1, subscribe 5, presence 8.
    fn encode_command(id: u32, subscribe: Option<protocol::SubscribeRequest>, presence: Option<&str>) -> Vec<u8> {
        let mut body = Vec::new();
        if id != 0 {
            prost::encoding::uint32::encode(1, &id, &mut body);
        }
        if let Some(subscribe) = subscribe {
            prost::encoding::message::encode(5, &subscribe, &mut body);
        }
        if let Some(channel) = presence {
            let request = protocol::ChannelRequest { channel: channel.to_owned() };
            prost::encoding::message::encode(8, &request, &mut body);
        }
        let mut out = Vec::new();
        prost::encoding::encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(&body);
        out
    }
}
