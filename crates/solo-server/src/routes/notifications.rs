//! The inbox: list with filters and cursor pages, direct creation (idempotent),
//! read/unread, mark-all-read with a watermark, unread counts, and the quiet
//! hours preference.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use solo_domain::notification::{CategorySurfaces, MissionRules, NotificationView, UnreadCounts};
use solo_domain::time::{now_ms, parse_rfc3339_ms};
use solo_domain::{Category, NotificationId, QuietHours, Severity, UserId};
use solo_store::{InboxState, NewNotification, NotificationFilter, Role};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::text_field;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `missions`, `workstations`, `community`, `system`, or `all` (the default; empty means `all`).
    #[param(pattern = "^(all|missions|workstations|community|system)?$")]
    category: Option<String>,
    /// Only unread notifications.
    unread: Option<bool>,
    /// `inbox` (the default: neither snoozed nor done), `snoozed`, `done` or `all`.
    #[param(pattern = "^(inbox|snoozed|done|all)?$")]
    state: Option<String>,
    /// Opaque cursor from a previous page's `nextCursor`.
    cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPage {
    items: Vec<NotificationView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    next_cursor: Option<String>,
    /// Unread notifications in the whole inbox (all categories).
    unread_count: u64,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateNotification {
    user_id: UserId,
    category: Category,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    body: Option<String>,
    #[serde(default)]
    severity: Option<Severity>,
    /// A path in the web UI (`/missions/m_…`) or an http(s) URL.
    #[serde(default)]
    #[schema(max_length = 2000, pattern = r"^(/|https?://)")]
    link: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadAll {
    /// Only this category.
    #[serde(default)]
    category: Option<Category>,
    /// Only notifications created at or before this instant (RFC 3339): pass the
    /// `createdAt` of the newest notification the user saw, so ones that arrived
    /// meanwhile stay unread. Default: now.
    #[serde(default)]
    #[schema(format = DateTime)]
    watermark: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ReadAllResult {
    marked: u64,
    unread: UnreadCounts,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Preferences {
    quiet_hours: QuietHours,
}

/// The caller's preferences as stored, with their version: `preferences.updated`
/// events on `notifications:{userId}` carry the same version, so a client applies
/// only an event newer than what it holds.
#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesView {
    /// The quiet hours in force: the user's own when `quietHoursSet`, else the default that applies to them.
    pub quiet_hours: QuietHours,
    /// How many times the user changed their preferences (quiet hours or mission rules; 0: never).
    pub version: i64,
    /// Whether the user set quiet hours of their own (else their workspace's default, or the server's, applies).
    pub quiet_hours_set: bool,
    /// Per mission id: `mute` (nothing from it, even as its owner) or `urgent_only`.
    #[ts(type = "Record<string, MissionRule>")]
    pub mission_rules: MissionRules,
    /// Where each category's notifications show: toast (and desktop), inbox, CLI.
    pub surfaces: CategorySurfaces,
}

fn parse_category(value: Option<&str>) -> ApiResult<Option<Category>> {
    match value {
        None | Some("all") | Some("") => Ok(None),
        Some(c) => Category::parse(c).map(Some).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown category `{c}`: use missions, workstations, community, system or all"
            ))
        }),
    }
}

fn encode_cursor(id: &NotificationId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_str())
}

fn decode_cursor(cursor: &str) -> ApiResult<NotificationId> {
    let bad = || ApiError::BadRequest("invalid `cursor`".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    NotificationId::parse(std::str::from_utf8(&raw).map_err(|_| bad())?).map_err(|_| bad())
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(ListQuery),
    responses((status = 200, body = NotificationPage), (status = 304), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {MAX_LIMIT}")));
    }
    let filter = NotificationFilter {
        category: parse_category(query.category.as_deref())?,
        unread_only: query.unread.unwrap_or(false),
        before: query.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
        state: match query.state.as_deref() {
            None | Some("") => InboxState::Inbox,
            Some(s) => InboxState::parse(s)
                .ok_or_else(|| ApiError::BadRequest(format!("unknown state `{s}`: use inbox, snoozed, done or all")))?,
        },
    };
    let items = state.store().notifications(&caller.user.id, &filter).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|n| encode_cursor(&n.id))).flatten();
    let unread_count = state.store().unread_counts(&caller.user.id).await?.total;
    Ok(conditional_json(&headers, &NotificationPage { items, next_cursor, unread_count }))
}

/// Creates a notification. Anyone may notify themself; notifying another member
/// of a shared workspace needs that workspace's admin role or a token with the
/// `notifications:write` scope. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/notifications", tag = "notifications", request_body = CreateNotification,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body return the first notification")),
    responses((status = 201, body = NotificationView), (status = 200, body = NotificationView, description = "a replay of an Idempotency-Key"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(req): ApiJson<CreateNotification>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    if req.user_id != caller.user.id {
        let mine = caller.memberships(&state).await?;
        let mut shared_admin = false;
        let mut shared = false;
        for membership in &mine {
            if state.store().role_in(&req.user_id, &membership.workspace.id).await?.is_some() {
                shared = true;
                shared_admin |= membership.role == Role::Admin;
            }
        }
        if !shared {
            return Err(ApiError::NotFound("user"));
        }
        let token_may = matches!(&caller.via, crate::auth::Via::Token { scopes: s, .. } if s.iter().any(|x| x == scopes::NOTIFICATIONS_WRITE));
        if !(token_may || shared_admin) {
            return Err(ApiError::Forbidden(
                "notifying another member needs a workspace admin or a token with the `notifications:write` scope"
                    .into(),
            ));
        }
    }
    let title = text_field("title", &req.title, 200)?;
    let body = req.body.as_deref().map(|b| text_field("body", b, 4000)).transpose()?;
    let link = match req.link.as_deref() {
        None => None,
        Some(link)
            if link.chars().count() <= 2000
                && (link.starts_with('/') || link.starts_with("https://") || link.starts_with("http://")) =>
        {
            Some(link.to_owned())
        }
        Some(_) => return Err(ApiError::validation("`link` must be a path starting with `/` or an http(s) URL")),
    };
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key =
                value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 200).ok_or_else(|| {
                    ApiError::BadRequest("`Idempotency-Key` must be 1 to 200 visible characters".into())
                })?;
            let canonical = serde_json::to_vec(&req).map_err(|_| ApiError::Internal)?;
            Some((key.to_owned(), hex::encode(Sha256::digest(&canonical))))
        }
    };
    let (notification, created) = state
        .store()
        .create_notification(
            &caller.write_context(),
            NewNotification {
                user_id: req.user_id.clone(),
                category: req.category,
                title,
                body,
                link,
                severity: req.severity.unwrap_or(Severity::Info),
                created_by: caller.user.id.clone(),
                idempotency,
            },
        )
        .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(notification)).into_response())
}

/// A notification id from a path: one that cannot be an id is as missing as
/// one that does not exist.
pub(crate) fn notification_id(raw: &str) -> ApiResult<NotificationId> {
    NotificationId::parse(raw).map_err(|_| ApiError::NotFound("notification"))
}

/// A notification a change answered, or 404: the store answers NotFound for
/// another user's notification as for a missing one.
pub(crate) fn found(result: solo_store::StoreResult<NotificationView>) -> ApiResult<Json<NotificationView>> {
    match result {
        Ok(notification) => Ok(Json(notification)),
        Err(solo_store::StoreError::NotFound) => Err(ApiError::NotFound("notification")),
        Err(e) => Err(e.into()),
    }
}

async fn set_read(state: &AppState, caller: &Caller, id: &str, read: bool) -> ApiResult<Json<NotificationView>> {
    caller.require_scope(scopes::WRITE)?;
    let id = notification_id(id)?;
    found(state.store().set_read(&caller.write_context(), &caller.user.id, &id, read).await)
}

/// Marks a notification read (no change if it already is).
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = NotificationView), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<NotificationView>> {
    set_read(&state, &caller, &id, true).await
}

/// Marks a notification unread (no change if it already is).
#[utoipa::path(post, path = "/api/notifications/{id}/unread", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = NotificationView), (status = 404, body = ErrorBody)))]
pub async fn unread(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<NotificationView>> {
    set_read(&state, &caller, &id, false).await
}

/// Marks every unread notification up to the watermark read.
#[utoipa::path(post, path = "/api/notifications/read-all", tag = "notifications", request_body = ReadAll,
    responses((status = 200, body = ReadAllResult), (status = 422, body = ErrorBody)))]
pub async fn read_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ReadAll>,
) -> ApiResult<Json<ReadAllResult>> {
    caller.require_scope(scopes::WRITE)?;
    let watermark = match req.watermark.as_deref() {
        None => now_ms(),
        Some(w) => {
            parse_rfc3339_ms(w).ok_or_else(|| ApiError::validation("`watermark` must be an RFC 3339 timestamp"))?
        }
    };
    let (marked, unread) =
        state.store().read_all(&caller.write_context(), &caller.user.id, req.category, watermark).await?;
    Ok(Json(ReadAllResult { marked, unread }))
}

/// The caller's unread counts, total and per category, with their version.
#[utoipa::path(get, path = "/api/notifications/unread-count", tag = "notifications",
    responses((status = 200, body = UnreadCounts), (status = 304)))]
pub async fn unread_count(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    Ok(conditional_json(&headers, &state.store().unread_counts(&caller.user.id).await?))
}

/// The caller's preferences (quiet hours; their workspace's default, else the server's, until set) and their version.
#[utoipa::path(get, path = "/api/me/preferences", tag = "notifications", responses((status = 200, body = PreferencesView), (status = 304)))]
pub async fn get_preferences(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    // The version first: read the other way round, a change in between would
    // pair the old settings with the new version, and its event would be ignored.
    let version = state.store().preferences_version(&caller.user.id).await?;
    let quiet_hours = state.store().quiet_hours(&caller.user.id).await?;
    let (quiet_hours_set, mission_rules, surfaces) = state.store().notification_preferences(&caller.user.id).await?;
    Ok(conditional_json(&headers, &PreferencesView { quiet_hours, version, quiet_hours_set, mission_rules, surfaces }))
}

/// Sets the caller's quiet hours. Times are `HH:MM`, the zone an IANA name.
/// Emits `preferences.updated` on `notifications:{userId}`, committed with the change.
#[utoipa::path(put, path = "/api/me/preferences", tag = "notifications", request_body = Preferences,
    responses((status = 200, body = PreferencesView), (status = 422, body = ErrorBody)))]
pub async fn put_preferences(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Preferences>,
) -> ApiResult<Json<PreferencesView>> {
    caller.require_scope(scopes::WRITE)?;
    req.quiet_hours
        .validate()
        .map_err(|e| ApiError::Unprocessable { code: "invalid_quiet_hours", message: e.to_string() })?;
    let version = state.store().update_preferences(&caller.write_context(), &caller.user.id, &req.quiet_hours).await?;
    let (_, mission_rules, surfaces) = state.store().notification_preferences(&caller.user.id).await?;
    Ok(Json(PreferencesView { quiet_hours: req.quiet_hours, version, quiet_hours_set: true, mission_rules, surfaces }))
}
