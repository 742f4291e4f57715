//! Workstations, their heartbeats, and the presence summary.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use solo_domain::event::AgentState;
use solo_domain::time::{format_ms, now_ms};
use solo_domain::{AgentStatus, EventEnvelope, MissionId, UserId, WorkspaceId, WorkstationId, WorkstationStatus};
use solo_realtime::presence::PresenceError;
use solo_store::{Agent, NewWorkstation, Role, Workstation};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::text_field;

/// Most agents one heartbeat may report.
const MAX_AGENTS: usize = 64;

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    id: String,
    name: String,
    status: AgentStatus,
    mission_id: Option<MissionId>,
    version: i64,
    updated_at: String,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        AgentView {
            id: a.id,
            name: a.name,
            status: a.status,
            mission_id: a.mission_id,
            version: a.version,
            updated_at: format_ms(a.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkstationView {
    id: WorkstationId,
    name: String,
    status: WorkstationStatus,
    workspace_id: WorkspaceId,
    owner_id: UserId,
    version: i64,
    last_heartbeat_at: Option<String>,
    created_at: String,
    agents: Vec<AgentView>,
}

fn view(ws: Workstation, agents: Vec<Agent>) -> WorkstationView {
    WorkstationView {
        id: ws.id,
        name: ws.name,
        status: ws.status,
        workspace_id: ws.workspace_id,
        owner_id: ws.owner_id,
        version: ws.version,
        last_heartbeat_at: ws.last_heartbeat_at.map(format_ms),
        created_at: format_ms(ws.created_at),
        agents: agents.into_iter().map(AgentView::from).collect(),
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct WorkstationList {
    items: Vec<WorkstationView>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkstationDetail {
    #[serde(flatten)]
    workstation: WorkstationView,
    /// The latest events about this workstation, newest first.
    recent_events: Vec<EventEnvelope>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkspaceQuery {
    #[param(value_type = Option<solo_domain::WorkspaceId>)]
    workspace_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWorkstation {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[serde(default)]
    workspace_id: Option<WorkspaceId>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    #[serde(default)]
    agents: Vec<AgentState>,
}

async fn with_agents(state: &AppState, stations: Vec<Workstation>) -> ApiResult<Vec<WorkstationView>> {
    let ids: Vec<WorkstationId> = stations.iter().map(|w| w.id.clone()).collect();
    let mut agents: HashMap<WorkstationId, Vec<Agent>> = HashMap::new();
    for agent in state.store().agents_of(&ids).await? {
        agents.entry(agent.workstation_id.clone()).or_default().push(agent);
    }
    Ok(stations
        .into_iter()
        .map(|w| {
            let a = agents.remove(&w.id).unwrap_or_default();
            view(w, a)
        })
        .collect())
}

async fn visible_workstation(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(Workstation, Role)> {
    let id = WorkstationId::parse(id).map_err(|_| ApiError::NotFound("workstation"))?;
    let ws = state.store().workstation(&id).await?.ok_or(ApiError::NotFound("workstation"))?;
    let role = caller.role_in(state, &ws.workspace_id, "workstation").await?;
    Ok((ws, role))
}

/// Workstations in the caller's workspaces with their agents.
#[utoipa::path(get, path = "/api/workstations", tag = "workstations", params(WorkspaceQuery),
    responses((status = 200, body = WorkstationList), (status = 304)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(query): ApiQuery<WorkspaceQuery>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let workspaces = caller.workspaces_in_scope(&state, query.workspace_id.as_deref()).await?;
    let stations = state.store().workstations_in(&workspaces).await?;
    let items = with_agents(&state, stations).await?;
    Ok(conditional_json(&headers, &WorkstationList { items }))
}

/// Registers a workstation, owned by the caller; it is `offline` until its first heartbeat.
#[utoipa::path(post, path = "/api/workstations", tag = "workstations", request_body = CreateWorkstation,
    responses((status = 201, body = WorkstationView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateWorkstation>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    let name = text_field("name", &req.name, 100)?;
    let workspace_id = caller.pick_workspace(&state, req.workspace_id).await?;
    let ws = state
        .store()
        .create_workstation(
            &caller.write_context(),
            NewWorkstation { workspace_id, name, owner_id: caller.user.id.clone() },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(ws, Vec::new()))).into_response())
}

/// One workstation with its agents and recent events (the console).
#[utoipa::path(get, path = "/api/workstations/{id}", tag = "workstations", params(("id" = String, Path)),
    responses((status = 200, body = WorkstationDetail), (status = 304), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let (ws, _) = visible_workstation(&state, &caller, &id).await?;
    let recent_events = state.store().events_of_subject("workstation", ws.id.as_str(), 20).await?;
    let mut views = with_agents(&state, vec![ws]).await?;
    let workstation = views.pop().ok_or(ApiError::Internal)?;
    Ok(conditional_json(&headers, &WorkstationDetail { workstation, recent_events }))
}

/// Reports that a workstation is alive, with its agents' status. Only its owner
/// or a workspace admin may heartbeat for it.
#[utoipa::path(post, path = "/api/workstations/{id}/heartbeat", tag = "workstations", params(("id" = String, Path)), request_body = Heartbeat,
    responses((status = 200, body = WorkstationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Heartbeat>,
) -> ApiResult<Json<WorkstationView>> {
    caller.require_scope(scopes::WRITE)?;
    let (ws, role) = visible_workstation(&state, &caller, &id).await?;
    if ws.owner_id != caller.user.id && role != Role::Admin {
        return Err(ApiError::Forbidden(
            "only the workstation's owner or a workspace admin may send its heartbeats".into(),
        ));
    }
    if req.agents.len() > MAX_AGENTS {
        return Err(ApiError::validation(format!("at most {MAX_AGENTS} agents per heartbeat")));
    }
    let mut seen = std::collections::HashSet::new();
    for agent in &req.agents {
        let id_ok = !agent.id.is_empty()
            && agent.id.len() <= 64
            && agent.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !id_ok {
            return Err(ApiError::validation(
                "agent `id` must be 1 to 64 characters of letters, digits, `-`, `_` or `.`",
            ));
        }
        if !seen.insert(agent.id.as_str()) {
            return Err(ApiError::validation(format!("agent `{}` is listed twice", agent.id)));
        }
        text_field("agent name", &agent.name, 100)?;
        if let Some(mission) = &agent.mission_id {
            let visible = state.store().mission(mission).await?.is_some_and(|m| m.workspace_id == ws.workspace_id);
            if !visible {
                return Err(ApiError::validation(format!("mission {mission} is not in this workstation's workspace")));
            }
        }
    }
    let updated = state.store().record_heartbeat(&caller.write_context(), &ws.id, &req.agents, now_ms()).await?;
    let mut views = with_agents(&state, vec![updated]).await?;
    Ok(Json(views.pop().ok_or(ApiError::Internal)?))
}

#[derive(Serialize, Default, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkstationCounts {
    total: u64,
    online: u64,
    degraded: u64,
    offline: u64,
}

#[derive(Serialize, Default, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentCounts {
    total: u64,
    idle: u64,
    working: u64,
    waiting_review: u64,
    error: u64,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, Default, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PeopleOnline {
    /// Distinct users with the web UI or CLI connected (per user, not per tab).
    online: u64,
    users: Vec<OnlineUser>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PresenceSummary {
    workspace_id: WorkspaceId,
    workstations: WorkstationCounts,
    /// Agents on workstations that are not offline.
    agents: AgentCounts,
    people: PeopleOnline,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct PresenceList {
    items: Vec<PresenceSummary>,
}

/// Online counts per workspace: workstations by status, agents by status, and who is online.
#[utoipa::path(get, path = "/api/presence", tag = "workstations", params(WorkspaceQuery),
    responses((status = 200, body = PresenceList), (status = 304)))]
pub async fn presence(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(query): ApiQuery<WorkspaceQuery>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let workspaces = caller.workspaces_in_scope(&state, query.workspace_id.as_deref()).await?;
    let stations = state.store().workstations_in(&workspaces).await?;
    let ids: Vec<WorkstationId> =
        stations.iter().filter(|w| w.status != WorkstationStatus::Offline).map(|w| w.id.clone()).collect();
    let agents = state.store().agents_of(&ids).await?;
    let mut items = Vec::with_capacity(workspaces.len());
    for workspace_id in workspaces {
        let mut workstations = WorkstationCounts::default();
        let mut live = std::collections::HashSet::new();
        for w in stations.iter().filter(|w| w.workspace_id == workspace_id) {
            workstations.total += 1;
            match w.status {
                WorkstationStatus::Online => workstations.online += 1,
                WorkstationStatus::Degraded => workstations.degraded += 1,
                WorkstationStatus::Offline => workstations.offline += 1,
            }
            live.insert(w.id.clone());
        }
        let mut agent_counts = AgentCounts::default();
        for a in agents.iter().filter(|a| live.contains(&a.workstation_id)) {
            agent_counts.total += 1;
            match a.status {
                AgentStatus::Idle => agent_counts.idle += 1,
                AgentStatus::Working => agent_counts.working += 1,
                AgentStatus::WaitingReview => agent_counts.waiting_review += 1,
                AgentStatus::Error => agent_counts.error += 1,
            }
        }
        let people = people_online(&state, &workspace_id).await?;
        items.push(PresenceSummary {
            workspace_id,
            workstations,
            agents: agent_counts,
            people: PeopleOnline { online: people.len() as u64, users: people },
        });
    }
    Ok(conditional_json(&headers, &PresenceList { items }))
}

/// Distinct users connected to a workspace's realtime channel right now, on
/// any node (counted per user, not per tab), sorted by id.
async fn people_online(state: &AppState, workspace: &WorkspaceId) -> Result<Vec<OnlineUser>, PresenceError> {
    let clients = state.presence().clients(&format!("workspace:{workspace}")).await?;
    let mut people: Vec<OnlineUser> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for client in clients {
        if seen.insert(client.user.clone()) {
            let name = client.conn_info.as_ref().and_then(|i| i["name"].as_str()).unwrap_or_default().to_owned();
            people.push(OnlineUser { id: client.user.to_string(), name });
        }
    }
    people.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(people)
}
