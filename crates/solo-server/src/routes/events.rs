//! Channel history over HTTP: what the polling fallback reads, with the same
//! offsets and epochs as the realtime stream.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use solo_domain::Channel;

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{conditional_json, ApiQuery};
use crate::state::AppState;
use solo_realtime::access::may_read;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// e.g. `mission:m_…`, `notifications:u_…`.
    #[param(pattern = r"^(workspace:ws|mission:m|workstation:wk|notifications:u)_[0-9a-fA-F]{32}$")]
    channel: String,
    /// Return publications after this offset (default 0: from the oldest kept).
    since: Option<u64>,
    /// The epoch the client's offset belongs to; when it differs, `reset` is true.
    epoch: Option<String>,
    /// At most this many publications (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct HistoryEntry {
    offset: u64,
    #[schema(value_type = solo_domain::EventEnvelope)]
    #[ts(as = "solo_domain::EventEnvelope")]
    event: Box<RawValue>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    channel: String,
    /// The stream's epoch; it changes only when history is lost.
    epoch: String,
    /// The stream's latest offset.
    offset: u64,
    items: Vec<HistoryEntry>,
    /// Pass as `since` next time.
    next_since: u64,
    /// True when publications after `since` are no longer kept (or the epoch
    /// changed): the client missed events and must reload its state.
    reset: bool,
}

/// Publications of a channel after an offset, oldest first.
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventsQuery),
    responses((status = 200, body = EventsPage), (status = 304), (status = 404, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let channel = Channel::parse(&query.channel).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !may_read(state.store(), &caller.user.id, &channel).await? {
        return Err(ApiError::NotFound("channel"));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {MAX_LIMIT}")));
    }
    let position = state.store().channel_position(&channel).await?;
    let mut since = query.since.unwrap_or(0);
    let epoch_changed = query.epoch.as_deref().is_some_and(|e| e != position.epoch);
    let oldest = state.store().oldest_kept_offset(&channel).await?;
    let gap = match oldest {
        Some(oldest) => since + 1 < oldest,
        None => since < position.offset,
    };
    let reset = epoch_changed || since > position.offset || (query.since.is_some() && since > 0 && gap);
    if reset {
        since = oldest.map_or(position.offset, |o| o.saturating_sub(1));
    }
    let history = state.store().channel_history(&channel, since, limit).await?;
    let next_since = history.last().map_or(since, |h| h.offset);
    let items = history
        .into_iter()
        .map(|h| {
            Ok(HistoryEntry {
                offset: h.offset,
                event: RawValue::from_string(h.envelope).map_err(|_| ApiError::Internal)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(conditional_json(
        &headers,
        &EventsPage {
            channel: channel.to_string(),
            epoch: position.epoch,
            offset: position.offset,
            items,
            next_since,
            reset,
        },
    ))
}
