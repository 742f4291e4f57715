//! Demo mode (`solo serve --demo`): a workspace with two users, missions in
//! every stage, and three simulated workstations whose agents change status
//! every few seconds, so a newcomer sees a live board at once. One workstation
//! goes silent now and then, to show degraded and offline transitions.

use std::time::Duration;

use solo_domain::event::AgentState;
use solo_domain::time::now_ms;
use solo_domain::{AgentStatus, MissionId, Stage, WorkspaceId, WorkstationId};
use solo_store::{NewMission, NewUser, NewWorkstation, Role, StoreError, WriteContext};
use tokio_util::sync::CancellationToken;

use crate::auth::{password, secrets};
use crate::state::AppState;

/// Who can sign in to the demo.
#[derive(Debug)]
pub struct DemoLogin {
    pub username: String,
    pub password: String,
}

const WORKSPACE: &str = "demo";
const USERS: [(&str, &str); 2] = [("ada", "Ada Lovelace"), ("bo", "Bo Nakamura")];
const STATIONS: [&str; 3] = ["atlas", "borealis", "cygnus"];
const MISSIONS: [(&str, Stage); 8] = [
    ("Offline banner for the web UI", Stage::Backlog),
    ("Quiet hours per weekday", Stage::Backlog),
    ("Snooze notifications", Stage::Spec),
    ("Workstation console", Stage::Build),
    ("CLI inbox", Stage::Build),
    ("Board avatars with live status", Stage::Review),
    ("Launchpad online counts", Stage::Done),
    ("Personal access tokens", Stage::Done),
];

/// Seeds the demo workspace (once) and gives both users fresh passwords.
pub async fn seed(state: &AppState) -> Result<Vec<DemoLogin>, StoreError> {
    let store = state.store();
    let workspace = store.ensure_workspace(WORKSPACE, "Demo workspace").await?;
    let mut logins = Vec::new();
    let mut ids = Vec::new();
    for (i, (name, display)) in USERS.iter().enumerate() {
        let plain = secrets::random_base62(12);
        let to_hash = plain.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&to_hash))
            .await
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let user = match store.user_by_name(name).await? {
            Some(user) => {
                store.set_password_hash(&user.id, &hash).await?;
                user
            }
            None => {
                store
                    .create_user(NewUser {
                        name: (*name).into(),
                        display_name: (*display).into(),
                        password_hash: Some(hash),
                    })
                    .await?
            }
        };
        store.set_membership(&workspace.id, &user.id, if i == 0 { Role::Admin } else { Role::Member }).await?;
        logins.push(DemoLogin { username: (*name).into(), password: plain });
        ids.push(user.id);
    }
    let (ada, bo) = (ids[0].clone(), ids[1].clone());
    if store.missions_in(std::slice::from_ref(&workspace.id), None).await?.is_empty() {
        let ctx = WriteContext::user(bo.clone(), "");
        for (title, stage) in MISSIONS {
            let mission = store
                .create_mission(
                    &WriteContext::user(ada.clone(), ""),
                    NewMission {
                        workspace_id: workspace.id.clone(),
                        title: title.into(),
                        owner_id: ada.clone(),
                        watchers: vec![bo.clone()],
                    },
                )
                .await?;
            for next in Stage::ALL.into_iter().skip(1).take_while(|s| *s <= stage) {
                store.change_stage(&ctx, &mission.id, next, None).await?;
            }
        }
    }
    let stations = store.workstations_in(std::slice::from_ref(&workspace.id)).await?;
    for name in STATIONS {
        if !stations.iter().any(|w| w.name == name) {
            store
                .create_workstation(
                    &WriteContext::user(ada.clone(), ""),
                    NewWorkstation { workspace_id: workspace.id.clone(), name: name.into(), owner_id: ada.clone() },
                )
                .await?;
        }
    }
    Ok(logins)
}

/// Sends heartbeats for the demo workstations until shutdown.
pub async fn simulate(state: AppState, shutdown: CancellationToken) {
    let Ok(Some(ws)) = demo_workspace(&state).await else { return };
    let interval = Duration::from_secs(state.settings().heartbeat_interval_secs.max(1));
    let mut ticker = tokio::time::interval(interval);
    let mut tick: u64 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = beat(&state, &ws, tick).await {
            tracing::warn!(error = %e, "demo heartbeat failed");
        }
        tick += 1;
    }
}

async fn demo_workspace(state: &AppState) -> Result<Option<WorkspaceId>, StoreError> {
    let Some(owner) = state.store().user_by_name(USERS[0].0).await? else { return Ok(None) };
    let memberships = state.store().memberships_of(&owner.id).await?;
    Ok(memberships.into_iter().find(|m| m.workspace.slug == WORKSPACE).map(|m| m.workspace.id))
}

async fn beat(state: &AppState, workspace: &WorkspaceId, tick: u64) -> Result<(), StoreError> {
    let store = state.store();
    let stations = store.workstations_in(std::slice::from_ref(workspace)).await?;
    let missions: Vec<MissionId> = store
        .missions_in(std::slice::from_ref(workspace), None)
        .await?
        .into_iter()
        .filter(|m| matches!(m.stage, Stage::Build | Stage::Review))
        .map(|m| m.id)
        .collect();
    let Some(owner) = store.user_by_name(USERS[0].0).await?.map(|u| u.id) else { return Ok(()) };
    for (s, station) in stations.iter().enumerate() {
        // The last workstation is silent for 6 beats out of every 20.
        if s == STATIONS.len() - 1 && tick % 20 >= 14 {
            continue;
        }
        let agents = agents_for(&station.id, s, tick, &missions);
        let ctx = WriteContext::user(owner.clone(), solo_domain::event::new_trace_id());
        store.record_heartbeat(&ctx, &station.id, &agents, now_ms()).await?;
    }
    Ok(())
}

fn agents_for(_station: &WorkstationId, s: usize, tick: u64, missions: &[MissionId]) -> Vec<AgentState> {
    const CYCLE: [AgentStatus; 5] = [
        AgentStatus::Working,
        AgentStatus::Working,
        AgentStatus::WaitingReview,
        AgentStatus::Idle,
        AgentStatus::Working,
    ];
    (0..2)
        .map(|a| {
            let index = s * 2 + a;
            let status = CYCLE[((tick / 2) as usize + index) % CYCLE.len()];
            let mission_id =
                (status != AgentStatus::Idle).then(|| missions.get(index % missions.len().max(1)).cloned()).flatten();
            AgentState {
                id: format!("agent-{}", a + 1),
                name: format!("{} {}", ["Coder", "Reviewer"][a], index + 1),
                status,
                mission_id,
            }
        })
        .collect()
}
