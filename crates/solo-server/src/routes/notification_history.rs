//! `GET /api/notifications/{id}/history`: what a superseded notification
//! replaced. A rule's notification about a mission or a workstation is
//! replaced by a later one of the same type about the same subject while it is
//! unread (`notification.updated`, `updates` + 1); its history is the source
//! events, oldest first, read back from the subject's event log.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use solo_domain::{EventEnvelope, NotificationId};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiPath};
use crate::routes::notifications::notification_id;
use crate::state::AppState;

/// The events a notification has shown, oldest first.
#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistory {
    notification_id: NotificationId,
    /// Its source events, oldest first: those later events replaced, then the
    /// one it shows now. Events past the event log's retention are left out;
    /// empty for a direct notification.
    items: Vec<EventEnvelope>,
}

/// The source events of a notification, oldest first ("updated ×N" and its history).
#[utoipa::path(get, path = "/api/notifications/{id}/history", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = NotificationHistory), (status = 304), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let id = notification_id(&id)?;
    let (subject, sources) =
        state.store().notification_sources(&caller.user.id, &id).await?.ok_or(ApiError::NotFound("notification"))?;
    let items = match subject.as_deref().and_then(|s| s.split_once(':')) {
        Some((kind, subject_id)) => {
            // A subject's log is short next to the 1,000 events read here; the
            // sources are its latest events of one type.
            let events = state.store().events_of_subject(kind, subject_id, 1000).await?;
            sources.iter().filter_map(|source| events.iter().find(|e| e.id.to_string() == *source).cloned()).collect()
        }
        None => Vec::new(),
    };
    Ok(conditional_json(&headers, &NotificationHistory { notification_id: id, items }))
}
