//! Reading a channel's history, for the client protocol's `history` command
//! and the server API's: the same limits, positions and shape for both.

use serde_json::json;
use solo_domain::Channel;

use crate::protocol::{error_code, HistoryRequest};
use crate::Engine;

/// Most publications one history read returns.
pub const MAX_LIMIT: i64 = 1000;

/// `{publications, epoch, offset}` of `channel` as `request` asks (at most
/// [`MAX_LIMIT`], after `since` when given, newest first with `reverse`), or
/// the error code: 112 when `since` is not a position of this stream.
/// The caller has checked that the channel may be read.
pub async fn read(engine: &Engine, channel: &Channel, request: &HistoryRequest) -> Result<serde_json::Value, u32> {
    let store = engine.store();
    let position = store.channel_position(channel).await.map_err(|_| error_code::INTERNAL)?;
    let limit = i64::from(request.limit).clamp(0, MAX_LIMIT);
    let mut since = 0;
    if let Some(s) = &request.since {
        if s.epoch != position.epoch || s.offset > position.offset {
            return Err(error_code::UNRECOVERABLE_POSITION);
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
        items = store.channel_history(channel, from, limit).await.map_err(|_| error_code::INTERNAL)?;
        if request.reverse {
            items.reverse();
        }
    }
    let publications = publications_json(items.iter().map(|h| (h.offset, h.envelope.as_str())));
    Ok(json!({ "publications": publications, "epoch": position.epoch, "offset": position.offset }))
}

/// Publications (offset, envelope JSON) in the protocol's shape.
pub fn publications_json<'a>(items: impl Iterator<Item = (u64, &'a str)>) -> serde_json::Value {
    let pubs: Vec<serde_json::Value> = items
        .filter_map(|(offset, envelope)| {
            let envelope: serde_json::Value = serde_json::from_str(envelope).ok()?;
            let tags = json!({ "type": envelope["type"], "traceId": envelope["traceId"] });
            Some(json!({ "data": envelope, "offset": offset, "tags": tags }))
        })
        .collect();
    serde_json::Value::Array(pubs)
}
