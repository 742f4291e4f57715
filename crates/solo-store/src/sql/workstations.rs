//! Workstations, their agents, heartbeats and the presence sweep.

use std::collections::HashMap;

use async_trait::async_trait;
use solo_domain::event::{AgentState, Subject, SubjectKind};
use solo_domain::time::now_ms;
use solo_domain::{AgentStatus, EventPayload, MissionId, UserId, WorkspaceId, WorkstationId, WorkstationStatus};

use super::{append_event, decode, placeholders, query, Dialect, Exec, Row, SqlStore};
use crate::{Agent, NewWorkstation, StoreError, StoreResult, SweepPolicy, Workstation, WorkstationStore, WriteContext};

const WORKSTATION_COLUMNS: &str = "id, workspace_id, name, owner_id, status, version, last_heartbeat_at, created_at";

fn workstation_from(row: &Row) -> StoreResult<Workstation> {
    let status: String = row.try_get("status")?;
    Ok(Workstation {
        id: WorkstationId::from_trusted(row.try_get("id")?),
        workspace_id: WorkspaceId::from_trusted(row.try_get("workspace_id")?),
        name: row.try_get("name")?,
        owner_id: UserId::from_trusted(row.try_get("owner_id")?),
        status: decode(WorkstationStatus::parse(&status), "workstation status")?,
        version: row.try_get("version")?,
        last_heartbeat_at: row.try_get("last_heartbeat_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn agent_from(row: &Row) -> StoreResult<Agent> {
    let status: String = row.try_get("status")?;
    let mission: Option<String> = row.try_get("mission_id")?;
    Ok(Agent {
        workstation_id: WorkstationId::from_trusted(row.try_get("workstation_id")?),
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: decode(AgentStatus::parse(&status), "agent status")?,
        mission_id: mission.map(MissionId::from_trusted),
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn workstation_subject(id: &WorkstationId) -> Subject {
    Subject { kind: SubjectKind::Workstation, id: id.to_string() }
}

/// Sets a workstation's status and version if it is still at `version`; false when
/// a concurrent heartbeat changed it first.
async fn update_workstation(
    conn: &mut dyn Exec,
    ws: &Workstation,
    status: WorkstationStatus,
    new_version: i64,
    heartbeat_at: Option<i64>,
) -> StoreResult<bool> {
    let update = query(
        "UPDATE workstations SET status = $1, version = $2, last_heartbeat_at = COALESCE($3, last_heartbeat_at) \
         WHERE id = $4 AND version = $5",
    )
    .bind(status.as_str())
    .bind(new_version)
    .bind(heartbeat_at)
    .bind(ws.id.as_str())
    .bind(ws.version);
    Ok(conn.execute(update).await? == 1)
}

#[async_trait]
impl WorkstationStore for SqlStore {
    async fn create_workstation(&self, ctx: &WriteContext, new: NewWorkstation) -> StoreResult<Workstation> {
        let now = now_ms();
        let ws = Workstation {
            id: WorkstationId::generate(),
            workspace_id: new.workspace_id,
            name: new.name,
            owner_id: new.owner_id,
            status: WorkstationStatus::Offline,
            version: 1,
            last_heartbeat_at: None,
            created_at: now,
        };
        let mut tx = self.begin().await?;
        tx.execute(query(
            "INSERT INTO workstations (id, workspace_id, name, owner_id, status, version, last_heartbeat_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
        )
        .bind(ws.id.as_str())
        .bind(ws.workspace_id.as_str())
        .bind(&ws.name)
        .bind(ws.owner_id.as_str())
        .bind(ws.status.as_str())
        .bind(ws.version)
        .bind(now)
        ).await?;
        append_event(
            &mut tx,
            ctx,
            workstation_subject(&ws.id),
            ws.version,
            EventPayload::WorkstationCreated {
                workspace_id: ws.workspace_id.clone(),
                name: ws.name.clone(),
                owner_id: ws.owner_id.clone(),
            },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(ws)
    }

    async fn workstation(&self, id: &WorkstationId) -> StoreResult<Option<Workstation>> {
        let sql = format!("SELECT {WORKSTATION_COLUMNS} FROM workstations WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.read).await?;
        row.map(Row::Any).as_ref().map(workstation_from).transpose()
    }

    async fn workstations_in(&self, workspaces: &[WorkspaceId]) -> StoreResult<Vec<Workstation>> {
        if workspaces.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {WORKSTATION_COLUMNS} FROM workstations WHERE workspace_id IN ({}) ORDER BY created_at, id",
            placeholders(0, workspaces.len())
        );
        let mut query = sqlx::query(&sql);
        for ws in workspaces {
            query = query.bind(ws.as_str());
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.into_iter().map(|row| workstation_from(&Row::Any(row))).collect()
    }

    async fn agents_of(&self, workstations: &[WorkstationId]) -> StoreResult<Vec<Agent>> {
        if workstations.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT workstation_id, id, name, status, mission_id, version, updated_at FROM agents \
             WHERE workstation_id IN ({}) ORDER BY workstation_id, id",
            placeholders(0, workstations.len())
        );
        let mut query = sqlx::query(&sql);
        for ws in workstations {
            query = query.bind(ws.as_str());
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.into_iter().map(|row| agent_from(&Row::Any(row))).collect()
    }

    async fn record_heartbeat(
        &self,
        ctx: &WriteContext,
        id: &WorkstationId,
        agents: &[AgentState],
        now_ms: i64,
    ) -> StoreResult<Workstation> {
        let mut tx = self.begin().await?;
        let lock = if self.dialect() == Dialect::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {WORKSTATION_COLUMNS} FROM workstations WHERE id = $1{lock}");
        let row = tx.fetch_optional(query(sql).bind(id.as_str())).await?;
        let ws = row.as_ref().map(workstation_from).transpose()?.ok_or(StoreError::NotFound)?;

        let agents_now = query(
            "SELECT workstation_id, id, name, status, mission_id, version, updated_at FROM agents WHERE workstation_id = $1",
        )
        .bind(id.as_str());
        let known: HashMap<String, Agent> = tx
            .fetch_all(agents_now)
            .await?
            .iter()
            .map(|row| agent_from(row).map(|a| (a.id.clone(), a)))
            .collect::<StoreResult<_>>()?;

        for reported in agents {
            let previous = known.get(&reported.id);
            let changed = previous.is_none_or(|p| {
                p.status != reported.status || p.mission_id != reported.mission_id || p.name != reported.name
            });
            if !changed {
                continue;
            }
            let version = previous.map_or(1, |p| p.version + 1);
            tx.execute(
                query(
                    "INSERT INTO agents (workstation_id, id, name, status, mission_id, version, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workstation_id, id) DO UPDATE SET \
                 name = $3, status = $4, mission_id = $5, version = $6, updated_at = $7",
                )
                .bind(id.as_str())
                .bind(&reported.id)
                .bind(&reported.name)
                .bind(reported.status.as_str())
                .bind(reported.mission_id.as_ref().map(|m| m.as_str()))
                .bind(version)
                .bind(now_ms),
            )
            .await?;
            append_event(
                &mut tx,
                ctx,
                Subject { kind: SubjectKind::Agent, id: format!("{id}/{}", reported.id) },
                version,
                EventPayload::AgentStatusChanged {
                    workspace_id: ws.workspace_id.clone(),
                    workstation_id: id.clone(),
                    agent_id: reported.id.clone(),
                    name: reported.name.clone(),
                    from: previous.map(|p| p.status),
                    to: reported.status,
                    mission_id: reported.mission_id.clone(),
                },
                now_ms,
            )
            .await?;
        }

        let mut version = ws.version;
        if ws.status != WorkstationStatus::Online {
            version += 1;
            append_event(
                &mut tx,
                ctx,
                workstation_subject(id),
                version,
                EventPayload::WorkstationStatusChanged {
                    workspace_id: ws.workspace_id.clone(),
                    workstation_id: id.clone(),
                    name: ws.name.clone(),
                    from: ws.status,
                    to: WorkstationStatus::Online,
                },
                now_ms,
            )
            .await?;
        }
        version += 1;
        append_event(
            &mut tx,
            ctx,
            workstation_subject(id),
            version,
            EventPayload::WorkstationHeartbeat {
                workspace_id: ws.workspace_id.clone(),
                status: WorkstationStatus::Online,
                agents: agents.to_vec(),
            },
            now_ms,
        )
        .await?;
        if !update_workstation(&mut tx, &ws, WorkstationStatus::Online, version, Some(now_ms)).await? {
            return Err(StoreError::Corrupt(format!("workstation {id} changed while locked")));
        }
        self.commit_with_events(tx).await?;
        Ok(Workstation { status: WorkstationStatus::Online, version, last_heartbeat_at: Some(now_ms), ..ws })
    }

    async fn sweep_workstations(
        &self,
        ctx: &WriteContext,
        policy: SweepPolicy,
        now_ms: i64,
    ) -> StoreResult<Vec<Workstation>> {
        let interval = policy.heartbeat_interval_ms.max(1);
        let silent_since = now_ms - interval * policy.degraded_after_missed as i64;
        let sql = format!(
            "SELECT {WORKSTATION_COLUMNS} FROM workstations \
             WHERE status <> 'offline' AND last_heartbeat_at IS NOT NULL AND last_heartbeat_at <= $1"
        );
        let candidates: Vec<Workstation> = sqlx::query(&sql)
            .bind(silent_since)
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(|row| workstation_from(&Row::Any(row)))
            .collect::<StoreResult<_>>()?;
        let mut changed = Vec::new();
        for ws in candidates {
            let last = ws.last_heartbeat_at.unwrap_or(now_ms);
            let missed = ((now_ms - last).max(0) / interval) as u64;
            let status = WorkstationStatus::from_missed_intervals(
                missed,
                policy.degraded_after_missed,
                policy.offline_after_missed,
            );
            if status == ws.status {
                continue;
            }
            let mut tx = self.begin().await?;
            let version = ws.version + 1;
            // A heartbeat that landed since the read wins: skip this workstation.
            if !update_workstation(&mut tx, &ws, status, version, None).await? {
                continue;
            }
            append_event(
                &mut tx,
                ctx,
                workstation_subject(&ws.id),
                version,
                EventPayload::WorkstationStatusChanged {
                    workspace_id: ws.workspace_id.clone(),
                    workstation_id: ws.id.clone(),
                    name: ws.name.clone(),
                    from: ws.status,
                    to: status,
                },
                now_ms,
            )
            .await?;
            self.commit_with_events(tx).await?;
            changed.push(Workstation { status, version, ..ws });
        }
        Ok(changed)
    }
}
