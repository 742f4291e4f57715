//! Workspace settings: read by every member, changed by the workspace's admins.
//! Each change emits `config.updated` on `workspace:{id}`, committed with it.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use solo_domain::{WorkspaceConfig, WorkspaceId};
use solo_store::Role;

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiJson, ApiPath};
use crate::state::AppState;

/// A workspace's settings with their version: `config.updated` events on
/// `workspace:{id}` carry the same version and the whole document, so a client
/// applies only an event newer than what it holds.
#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceConfigView {
    workspace_id: WorkspaceId,
    config: WorkspaceConfig,
    /// How many times the settings changed (0: never).
    version: i64,
}

/// The workspace the path names, if the caller is a member (else 404, which
/// does not reveal whether it exists), with the caller's role in it.
async fn member_of(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(WorkspaceId, Role)> {
    let workspace = WorkspaceId::parse(id).map_err(|_| ApiError::NotFound("workspace"))?;
    let role = caller.role_in(state, &workspace, "workspace").await?;
    Ok((workspace, role))
}

/// A workspace's settings (any member may read them) and their version.
#[utoipa::path(get, path = "/api/workspaces/{id}/config", tag = "workspaces", params(("id" = String, Path, description = "The workspace's id (`ws_…`)")),
    responses((status = 200, body = WorkspaceConfigView), (status = 304), (status = 404, body = ErrorBody)))]
pub async fn get_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let (workspace, _) = member_of(&state, &caller, &id).await?;
    let (config, version) = state.store().workspace_config(&workspace).await?;
    Ok(conditional_json(&headers, &WorkspaceConfigView { workspace_id: workspace, config, version }))
}

/// Replaces a workspace's settings (a field left out or null is unset). Only
/// the workspace's admins may; other members get 403. `defaultQuietHours`
/// applies to the members who set no quiet hours of their own. Emits
/// `config.updated` on `workspace:{id}`, committed with the change.
#[utoipa::path(put, path = "/api/workspaces/{id}/config", tag = "workspaces", params(("id" = String, Path, description = "The workspace's id (`ws_…`)")),
    request_body = WorkspaceConfig,
    responses((status = 200, body = WorkspaceConfigView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_config(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(config): ApiJson<WorkspaceConfig>,
) -> ApiResult<Json<WorkspaceConfigView>> {
    caller.require_scope(scopes::WRITE)?;
    let (workspace, role) = member_of(&state, &caller, &id).await?;
    if role != Role::Admin {
        return Err(ApiError::Forbidden("only a workspace admin may change the workspace's settings".into()));
    }
    if let Some(quiet) = &config.default_quiet_hours {
        quiet.validate().map_err(|e| ApiError::Unprocessable {
            code: "invalid_quiet_hours",
            message: format!("`defaultQuietHours`: {e}"),
        })?;
    }
    let version = state.store().update_workspace_config(&caller.write_context(), &workspace, &config).await?;
    Ok(Json(WorkspaceConfigView { workspace_id: workspace, config, version }))
}
