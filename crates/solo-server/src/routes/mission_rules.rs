//! `PUT /api/me/preferences/missions/{id}`: what the caller hears of one
//! mission: `mute` (nothing, even as its owner), `urgent_only`, or null (the
//! rules: owner, watcher). Honoured when notifications are created; each change
//! is a `preferences.updated` event on `notifications:{userId}`, so every tab
//! and CLI of the user takes it at once.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use solo_domain::notification::MissionRule;
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
    Ok(Json(PreferencesView {
        quiet_hours: changed.quiet_hours,
        version,
        quiet_hours_set: changed.quiet_hours_set,
        mission_rules: changed.mission_rules,
    }))
}
