//! Fine-grained preferences. `PUT /api/me/preferences/missions/{id}`: what the
//! caller hears of one mission: `mute` (nothing, even as its owner),
//! `urgent_only`, or null (the rules: owner, watcher). `PUT
//! /api/me/preferences/surfaces`: per category, toast, inbox and CLI. Mission
//! rules and the inbox surface are honoured when notifications are created;
//! toast and CLI by those surfaces. Each change is a `preferences.updated`
//! event on `notifications:{userId}`, so every tab and CLI of the user takes it
//! at once.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use solo_domain::notification::{CategorySurfaces, MissionRule, PreferencesChanged};
use solo_domain::MissionId;

use super::notifications::PreferencesView;
use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetMissionRule {
    /// `mute`, `urgent_only`, or null to follow the rules again.
    rule: Option<MissionRule>,
}

/// Sets the caller's rule for one mission of a workspace they belong to.
#[utoipa::path(put, path = "/api/me/preferences/missions/{id}", tag = "notifications",
    params(("id" = String, Path, description = "The mission's id (`m_…`)")), request_body = SetMissionRule,
    responses((status = 200, body = PreferencesView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SetMissionRule>,
) -> ApiResult<Json<PreferencesView>> {
    caller.require_scope(scopes::WRITE)?;
    let id = MissionId::parse(&id).map_err(|_| ApiError::NotFound("mission"))?;
    let mission = state.store().mission(&id).await?.ok_or(ApiError::NotFound("mission"))?;
    // A mission of a workspace the caller is not in is as missing as one that never was.
    caller.role_in(&state, &mission.workspace_id, "mission").await?;
    let (version, changed) =
        state.store().set_mission_rule(&caller.write_context(), &caller.user.id, &id, req.rule).await?;
    Ok(Json(view(version, changed)))
}

fn view(version: i64, changed: PreferencesChanged) -> PreferencesView {
    PreferencesView {
        quiet_hours: changed.quiet_hours,
        version,
        quiet_hours_set: changed.quiet_hours_set,
        mission_rules: changed.mission_rules,
        surfaces: changed.surfaces,
    }
}

/// Replaces where each category's notifications show (a category left out: everywhere).
/// `inbox: false` means a rule's notifications of that category are not created at all.
#[utoipa::path(put, path = "/api/me/preferences/surfaces", tag = "notifications", request_body = CategorySurfaces,
    responses((status = 200, body = PreferencesView), (status = 422, body = ErrorBody)))]
pub async fn set_surfaces(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(surfaces): ApiJson<CategorySurfaces>,
) -> ApiResult<Json<PreferencesView>> {
    caller.require_scope(scopes::WRITE)?;
    let (version, changed) = state.store().set_surfaces(&caller.write_context(), &caller.user.id, &surfaces).await?;
    Ok(Json(view(version, changed)))
}
