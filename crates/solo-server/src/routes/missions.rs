//! Missions: list, create, read, stage changes, reviews, fallbacks and watching.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use solo_domain::time::format_ms;
use solo_domain::{MissionId, ReviewDecision, Stage, UserId, WorkspaceId};
use solo_store::{Fallback, Mission, NewMission, Review};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::text_field;

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct MissionView {
    id: MissionId,
    title: String,
    stage: Stage,
    version: i64,
    workspace_id: WorkspaceId,
    owner_id: UserId,
    created_at: String,
    updated_at: String,
}

impl From<Mission> for MissionView {
    fn from(m: Mission) -> Self {
        MissionView {
            id: m.id,
            title: m.title,
            stage: m.stage,
            version: m.version,
            workspace_id: m.workspace_id,
            owner_id: m.owner_id,
            created_at: format_ms(m.created_at),
            updated_at: format_ms(m.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct MissionDetail {
    #[serde(flatten)]
    mission: MissionView,
    watcher_ids: Vec<UserId>,
    reviews: Vec<ReviewView>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct MissionList {
    /// Newest first.
    items: Vec<MissionView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    next_cursor: Option<String>,
}

/// Missions per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// The largest page.
const MAX_LIMIT: usize = 500;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListQuery {
    /// Only this workspace (default: every workspace of the caller).
    #[param(value_type = Option<solo_domain::WorkspaceId>)]
    workspace_id: Option<String>,
    /// Only missions in this stage.
    #[param(value_type = Option<solo_domain::Stage>)]
    stage: Option<String>,
    /// Opaque cursor from a previous page's `nextCursor`.
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// A page boundary: the last mission's creation instant and id.
fn encode_cursor(mission: &Mission) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}.{}", mission.created_at, mission.id))
}

fn decode_cursor(cursor: &str) -> ApiResult<(i64, MissionId)> {
    let bad = || ApiError::BadRequest("invalid `cursor`: pass a previous page's `nextCursor`".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, MissionId::parse(id).map_err(|_| bad())?))
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateMission {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: String,
    /// Default: the caller's only workspace.
    #[serde(default)]
    workspace_id: Option<WorkspaceId>,
    /// Members to notify of changes besides the owner.
    #[serde(default)]
    watcher_ids: Vec<UserId>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangeStage {
    stage: Stage,
    /// When given, the change is refused with 409 if the mission is no longer at this version.
    #[serde(default)]
    expected_version: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateReview {
    decision: ReviewDecision,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    comment: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    id: String,
    mission_id: MissionId,
    reviewer_id: UserId,
    decision: ReviewDecision,
    comment: Option<String>,
    created_at: String,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        ReviewView {
            id: r.id.to_string(),
            mission_id: r.mission_id,
            reviewer_id: r.reviewer_id,
            decision: r.decision,
            comment: r.comment,
            created_at: format_ms(r.created_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct ReviewCreated {
    review: ReviewView,
    mission: MissionView,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateFallback {
    /// Why the fallback was needed (e.g. "agent crashed").
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    reason: String,
    /// What the fallback plan is.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    summary: String,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct FallbackView {
    id: String,
    mission_id: MissionId,
    reason: String,
    summary: String,
    created_by: UserId,
    created_at: String,
}

impl From<Fallback> for FallbackView {
    fn from(f: Fallback) -> Self {
        FallbackView {
            id: f.id.to_string(),
            mission_id: f.mission_id,
            reason: f.reason,
            summary: f.summary,
            created_by: f.created_by,
            created_at: format_ms(f.created_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct FallbackCreated {
    fallback: FallbackView,
    mission: MissionView,
}

/// A mission the caller may see; 404 for missing and foreign ones alike.
async fn visible_mission(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Mission> {
    let id = MissionId::parse(id).map_err(|_| ApiError::NotFound("mission"))?;
    let mission = state.store().mission(&id).await?.ok_or(ApiError::NotFound("mission"))?;
    caller.role_in(state, &mission.workspace_id, "mission").await?;
    Ok(mission)
}

/// Missions in the caller's workspaces, newest first, a page at a time
/// (100 unless `limit` says otherwise, at most 500; follow `nextCursor`).
#[utoipa::path(get, path = "/api/missions", tag = "missions", params(ListQuery),
    responses((status = 200, body = MissionList), (status = 304), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let stage = query
        .stage
        .as_deref()
        .map(|s| Stage::parse(s).ok_or_else(|| ApiError::BadRequest(format!("unknown stage `{s}`"))))
        .transpose()?;
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(limit) => usize::try_from(limit)
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::BadRequest(format!("`limit` must be between 1 and {MAX_LIMIT}")))?,
    };
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let workspaces = caller.workspaces_in_scope(&state, query.workspace_id.as_deref()).await?;
    // One more than the page holds says whether another page follows, so the last page has no cursor.
    let mut missions = state.store().missions_page(&workspaces, stage, before, limit + 1).await?;
    let more = missions.len() > limit;
    missions.truncate(limit);
    let next_cursor = if more { missions.last().map(encode_cursor) } else { None };
    Ok(conditional_json(
        &headers,
        &MissionList { items: missions.into_iter().map(MissionView::from).collect(), next_cursor },
    ))
}

/// Creates a mission in `backlog`, owned and watched by the caller.
#[utoipa::path(post, path = "/api/missions", tag = "missions", request_body = CreateMission,
    responses((status = 201, body = MissionView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateMission>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    let title = text_field("title", &req.title, 200)?;
    let workspace_id = caller.pick_workspace(&state, req.workspace_id).await?;
    for watcher in &req.watcher_ids {
        if state.store().role_in(watcher, &workspace_id).await?.is_none() {
            return Err(ApiError::validation(format!("watcher {watcher} is not a member of the workspace")));
        }
    }
    let mission = state
        .store()
        .create_mission(
            &caller.write_context(),
            NewMission { workspace_id, title, owner_id: caller.user.id.clone(), watchers: req.watcher_ids },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(MissionView::from(mission))).into_response())
}

/// One mission with its watchers and reviews.
#[utoipa::path(get, path = "/api/missions/{id}", tag = "missions", params(("id" = String, Path)),
    responses((status = 200, body = MissionDetail), (status = 304), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let mission = visible_mission(&state, &caller, &id).await?;
    let watcher_ids = state.store().watchers_of(&mission.id).await?;
    let reviews = state.store().reviews_of(&mission.id).await?.into_iter().map(ReviewView::from).collect();
    Ok(conditional_json(&headers, &MissionDetail { mission: mission.into(), watcher_ids, reviews }))
}

/// Moves a mission to another stage: one stage forward, or back to any earlier one.
#[utoipa::path(post, path = "/api/missions/{id}/stage", tag = "missions", params(("id" = String, Path)), request_body = ChangeStage,
    responses((status = 200, body = MissionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_stage(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ChangeStage>,
) -> ApiResult<Json<MissionView>> {
    caller.require_scope(scopes::WRITE)?;
    let mission = visible_mission(&state, &caller, &id).await?;
    let updated =
        state.store().change_stage(&caller.write_context(), &mission.id, req.stage, req.expected_version).await?;
    Ok(Json(updated.into()))
}

/// Records a review decision on a mission.
#[utoipa::path(post, path = "/api/missions/{id}/reviews", tag = "missions", params(("id" = String, Path)), request_body = CreateReview,
    responses((status = 201, body = ReviewCreated), (status = 404, body = ErrorBody)))]
pub async fn create_review(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateReview>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    let mission = visible_mission(&state, &caller, &id).await?;
    let comment = req.comment.as_deref().map(|c| text_field("comment", c, 4000)).transpose()?;
    let (mission, review) =
        state.store().add_review(&caller.write_context(), &mission.id, &caller.user.id, req.decision, comment).await?;
    Ok((StatusCode::CREATED, Json(ReviewCreated { review: review.into(), mission: mission.into() })).into_response())
}

/// Records a fallback generated for a mission.
#[utoipa::path(post, path = "/api/missions/{id}/fallbacks", tag = "missions", params(("id" = String, Path)), request_body = CreateFallback,
    responses((status = 201, body = FallbackCreated), (status = 404, body = ErrorBody)))]
pub async fn create_fallback(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateFallback>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    let mission = visible_mission(&state, &caller, &id).await?;
    let reason = text_field("reason", &req.reason, 500)?;
    let summary = text_field("summary", &req.summary, 4000)?;
    let (mission, fallback) =
        state.store().add_fallback(&caller.write_context(), &mission.id, &caller.user.id, reason, summary).await?;
    Ok((StatusCode::CREATED, Json(FallbackCreated { fallback: fallback.into(), mission: mission.into() }))
        .into_response())
}

/// Starts watching a mission (its changes notify the caller).
#[utoipa::path(post, path = "/api/missions/{id}/watch", tag = "missions", params(("id" = String, Path)), responses((status = 204)))]
pub async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require_scope(scopes::WRITE)?;
    let mission = visible_mission(&state, &caller, &id).await?;
    state.store().set_watching(&mission.id, &caller.user.id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops watching a mission.
#[utoipa::path(delete, path = "/api/missions/{id}/watch", tag = "missions", params(("id" = String, Path)), responses((status = 204)))]
pub async fn unwatch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require_scope(scopes::WRITE)?;
    let mission = visible_mission(&state, &caller, &id).await?;
    state.store().set_watching(&mission.id, &caller.user.id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
