//! The server API methods' parameters, as `cent` sends them, and their checks.
//! Fields Solo does not act on (`session`, `skip_history`, `idempotency_key`,
//! `override`, …) are accepted and ignored, as the protocol asks of a server
//! that does not implement them; see docs/architecture/realtime.md.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use solo_domain::{Channel, UserId};
use solo_realtime::protocol::error_code;
use solo_realtime::Engine;

use super::MethodError;

/// Parses one method's parameters, saying precisely what is wrong.
pub(crate) fn parse<T: DeserializeOwned>(params: Map<String, Value>) -> Result<T, MethodError> {
    serde_json::from_value(Value::Object(params)).map_err(MethodError::bad_request)
}

/// A product channel or an integrator's (102 otherwise, as for a client's subscribe).
pub(crate) fn channel(engine: &Engine, name: &str) -> Result<Channel, MethodError> {
    if name.is_empty() {
        return Err(MethodError::bad_request("`channel` is required"));
    }
    engine.channel(name).map_err(|e| MethodError::new(error_code::UNKNOWN_CHANNEL, format!("unknown channel: {e}")))
}

/// A Solo user id (`u_…`): nobody else has connections.
pub(crate) fn user(id: &str) -> Result<UserId, MethodError> {
    UserId::parse(id).map_err(|e| MethodError::bad_request(format_args!("`user`: {e}")))
}

/// A client id, when one is given (an empty string means none, as in Centrifugo).
pub(crate) fn client(id: Option<&str>) -> Result<Option<uuid::Uuid>, MethodError> {
    match id.filter(|id| !id.is_empty()) {
        None => Ok(None),
        Some(id) => uuid::Uuid::parse_str(id)
            .map(Some)
            .map_err(|_| MethodError::bad_request(format_args!("`client`: `{id}` is not a client id"))),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Publish {
    #[serde(default)]
    pub channel: String,
    /// Kept raw: absent and `null` differ (only absent is refused).
    #[serde(default)]
    pub data: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub b64data: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Broadcast {
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub data: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub b64data: Option<String>,
}

/// The data of a publish or broadcast: required, JSON (binary `b64data` has
/// no place in JSON publications).
pub(crate) fn data(
    data: Option<Box<serde_json::value::RawValue>>,
    b64data: Option<&str>,
) -> Result<Value, MethodError> {
    if b64data.is_some_and(|b| !b.is_empty()) {
        return Err(MethodError::bad_request("`b64data` is not supported: Solo's publications are JSON; send `data`"));
    }
    let data = data.ok_or_else(|| MethodError::bad_request("`data` is required"))?;
    serde_json::from_str(data.get()).map_err(MethodError::bad_request)
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserChannel {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub client: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DisconnectWith {
    #[serde(default)]
    pub code: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Disconnect {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub whitelist: Vec<String>,
    #[serde(default)]
    pub disconnect: Option<DisconnectWith>,
}

/// The close code of a `disconnect`: Centrifugo's force disconnect (3503, no
/// reconnect) unless the request names one in the application range.
pub(crate) fn close_code(with: Option<&DisconnectWith>) -> Result<u16, MethodError> {
    match with.map(|w| w.code) {
        None | Some(0) => Ok(3503),
        Some(code @ 3000..=4999) => Ok(code as u16),
        Some(code) => Err(MethodError::bad_request(format_args!("disconnect code {code} is not within 3000-4999"))),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Refresh {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub expired: bool,
    /// Unix seconds; 0 or absent: the connection no longer expires.
    #[serde(default)]
    pub expire_at: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChannelOnly {
    #[serde(default)]
    pub channel: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Channels {
    #[serde(default)]
    pub pattern: String,
}

/// Whether `name` matches a channel pattern: `*` stands for any run of
/// characters and `?` for one; everything else matches itself. An empty
/// pattern matches every channel.
pub(crate) fn matches_pattern(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and how much of `name` it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((star_at, taken)) = star {
            pi = star_at + 1;
            ni = taken + 1;
            star = Some((star_at, taken + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_globs() {
        assert!(matches_pattern("", "workspace:ws_1"));
        assert!(matches_pattern("workspace:*", "workspace:ws_1"));
        assert!(matches_pattern("*:ws_?", "workspace:ws_1"));
        assert!(matches_pattern("*", ""));
        assert!(!matches_pattern("mission:*", "workspace:ws_1"));
        assert!(!matches_pattern("workspace:ws_?", "workspace:ws_12"));
        assert!(matches_pattern("w*s*1", "workspace:ws_1"));
    }

    #[test]
    fn close_codes_are_the_force_disconnect_or_in_the_application_range() {
        assert_eq!(close_code(None), Ok(3503));
        assert_eq!(close_code(Some(&DisconnectWith { code: 4000 })), Ok(4000));
        assert!(close_code(Some(&DisconnectWith { code: 1000 })).is_err());
        assert!(close_code(Some(&DisconnectWith { code: 70_000 })).is_err());
    }

    #[test]
    fn data_is_required_json_and_never_binary() {
        let raw = |s: &str| Some(serde_json::value::RawValue::from_string(s.to_owned()).expect("raw"));
        assert_eq!(data(raw("{\"a\":1}"), None), Ok(serde_json::json!({"a": 1})));
        assert_eq!(data(raw("null"), None), Ok(Value::Null));
        assert!(data(None, None).is_err());
        assert!(data(raw("1"), Some("AQID")).is_err());
    }
}
