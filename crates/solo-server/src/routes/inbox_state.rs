//! Snooze and done: `POST /api/notifications/{id}/snooze|wake|done|undone`.
//! Each change emits its `notification.*` event on `notifications:{userId}`
//! with the new unread counts, so every tab and CLI of the user follows it.
//! The snoozes that come due are woken by a background task ([`waker`]).

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use solo_domain::notification::NotificationView;
use solo_domain::time::{now_ms, parse_rfc3339_ms};
use solo_store::StoreResult;
use tokio_util::sync::CancellationToken;

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::routes::notifications::{found, notification_id};
use crate::state::AppState;

/// The longest snooze: a year.
const MAX_SNOOZE_MS: i64 = 366 * 86_400_000;

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Snooze {
    /// When the notification comes back (RFC 3339), in the future and at most a year ahead.
    #[schema(format = DateTime)]
    until: String,
}

/// Snoozes a notification until a time: it leaves the inbox and the unread
/// count, and comes back unread then (`notification.woke`), with a fresh toast
/// unless it falls in quiet hours. Snoozing again moves the time.
#[utoipa::path(post, path = "/api/notifications/{id}/snooze", tag = "notifications", params(("id" = String, Path)),
    request_body = Snooze,
    responses((status = 200, body = NotificationView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn snooze(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Snooze>,
) -> ApiResult<Json<NotificationView>> {
    caller.require_scope(scopes::WRITE)?;
    let id = notification_id(&id)?;
    let invalid = |message: &str| ApiError::Unprocessable { code: "invalid_snooze", message: message.to_owned() };
    let until = parse_rfc3339_ms(&req.until).ok_or_else(|| invalid("`until` must be an RFC 3339 timestamp"))?;
    let now = now_ms();
    if until <= now {
        return Err(invalid("`until` must be in the future"));
    }
    if until - now > MAX_SNOOZE_MS {
        return Err(invalid("`until` must be at most a year ahead"));
    }
    found(state.store().snooze(&caller.write_context(), &caller.user.id, &id, until).await)
}

/// Ends a snooze now: the notification is back in the inbox, unread. No change
/// when it is not snoozed.
#[utoipa::path(post, path = "/api/notifications/{id}/wake", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = NotificationView), (status = 404, body = ErrorBody)))]
pub async fn wake(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<NotificationView>> {
    caller.require_scope(scopes::WRITE)?;
    let id = notification_id(&id)?;
    found(state.store().wake(&caller.write_context(), &caller.user.id, &id).await)
}

/// Marks a notification done: it leaves the inbox (read, no longer snoozed)
/// and is listed with `state=done`. No change when it already is.
#[utoipa::path(post, path = "/api/notifications/{id}/done", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = NotificationView), (status = 404, body = ErrorBody)))]
pub async fn done(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<NotificationView>> {
    caller.require_scope(scopes::WRITE)?;
    let id = notification_id(&id)?;
    found(state.store().set_done(&caller.write_context(), &caller.user.id, &id, true).await)
}

/// Brings a done notification back into the inbox (still read). No change when it is not done.
#[utoipa::path(post, path = "/api/notifications/{id}/undone", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = NotificationView), (status = 404, body = ErrorBody)))]
pub async fn undone(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<NotificationView>> {
    caller.require_scope(scopes::WRITE)?;
    let id = notification_id(&id)?;
    found(state.store().set_done(&caller.write_context(), &caller.user.id, &id, false).await)
}

/// How often the waker looks for snoozes that came due.
const WAKE_EVERY: Duration = Duration::from_secs(1);
/// Snoozes woken per round at most (the rest wait for the next round, which follows at once).
const WAKE_BATCH: i64 = 200;

/// Wakes the snoozes that came due, every second, from the moment the server
/// starts: what came due while no server ran is woken in the first round. It
/// runs on every node of a cluster; each snooze is woken by one of them (the
/// wake is a conditional update).
pub async fn waker(state: AppState, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let woken = logged(
            state.store().wake_due(now_ms(), WAKE_BATCH).await,
            "snooze ended",
            "waking snoozed notifications failed",
        );
        // Quiet windows that ended: one digest each, of what arrived quietly.
        let digests = logged(
            state.store().send_due_digests(now_ms(), WAKE_BATCH).await,
            "quiet-hours digest sent",
            "sending quiet-hours digests failed",
        );
        if woken == WAKE_BATCH || digests == WAKE_BATCH {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(WAKE_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// How many notifications one of the waker's rounds changed, each logged as
/// `each`; a failed round changed none and is logged as `failure`.
fn logged(round: StoreResult<Vec<NotificationView>>, each: &str, failure: &str) -> i64 {
    match round {
        Ok(changed) => {
            for n in &changed {
                tracing::debug!(notification_id = %n.id, user_id = %n.user_id, "{each}");
            }
            changed.len() as i64
        }
        Err(e) => {
            tracing::warn!(error = %e, "{failure}");
            0
        }
    }
}
