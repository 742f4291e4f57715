//! Missions, watchers, reviews and fallbacks. Every change bumps the mission's
//! version and appends its event in the same transaction.

use async_trait::async_trait;
use solo_domain::event::{Subject, SubjectKind};
use solo_domain::time::now_ms;
use solo_domain::{EventPayload, FallbackId, MissionId, ReviewDecision, ReviewId, Stage, UserId, WorkspaceId};
use sqlx::Row as _;

use super::{append_event, decode, placeholders, query, Dialect, Exec, Row, SqlStore};
use crate::{Fallback, Mission, MissionStore, NewMission, Review, StoreError, StoreResult, WriteContext};

const MISSION_COLUMNS: &str = "id, workspace_id, title, owner_id, stage, version, created_at, updated_at";

fn mission_from(row: &Row) -> StoreResult<Mission> {
    let stage: String = row.try_get("stage")?;
    Ok(Mission {
        id: MissionId::from_trusted(row.try_get("id")?),
        workspace_id: WorkspaceId::from_trusted(row.try_get("workspace_id")?),
        title: row.try_get("title")?,
        owner_id: UserId::from_trusted(row.try_get("owner_id")?),
        stage: decode(Stage::parse(&stage), "stage")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn mission_subject(id: &MissionId) -> Subject {
    Subject { kind: SubjectKind::Mission, id: id.to_string() }
}

/// Reads a mission inside a write transaction, locking its row on PostgreSQL so
/// concurrent changes to one mission queue up instead of racing (SQLite's single
/// writer already serializes them).
async fn lock_mission(conn: &mut dyn Exec, dialect: Dialect, id: &MissionId) -> StoreResult<Mission> {
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {MISSION_COLUMNS} FROM missions WHERE id = $1{lock}");
    let row = conn.fetch_optional(query(sql).bind(id.as_str())).await?;
    row.as_ref().map(mission_from).transpose()?.ok_or(StoreError::NotFound)
}

/// Moves a locked mission to `stage` (possibly its current one) and bumps its
/// version; returns the mission as it now is.
async fn bump_mission(conn: &mut dyn Exec, mission: Mission, stage: Stage, now_ms: i64) -> StoreResult<Mission> {
    let bump =
        query("UPDATE missions SET stage = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
            .bind(stage.as_str())
            .bind(now_ms)
            .bind(mission.id.as_str())
            .bind(mission.version);
    if conn.execute(bump).await? != 1 {
        return Err(StoreError::Corrupt(format!("mission {} changed while locked", mission.id)));
    }
    Ok(Mission { stage, version: mission.version + 1, updated_at: now_ms, ..mission })
}

#[async_trait]
impl MissionStore for SqlStore {
    async fn create_mission(&self, ctx: &WriteContext, new: NewMission) -> StoreResult<Mission> {
        let now = now_ms();
        let mission = Mission {
            id: MissionId::generate(),
            workspace_id: new.workspace_id,
            title: new.title,
            owner_id: new.owner_id,
            stage: Stage::Backlog,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin().await?;
        tx.execute(
            query(
                "INSERT INTO missions (id, workspace_id, title, owner_id, stage, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(mission.id.as_str())
            .bind(mission.workspace_id.as_str())
            .bind(&mission.title)
            .bind(mission.owner_id.as_str())
            .bind(mission.stage.as_str())
            .bind(mission.version)
            .bind(now),
        )
        .await?;
        let mut watchers = new.watchers;
        watchers.push(mission.owner_id.clone());
        watchers.sort();
        watchers.dedup();
        for watcher in &watchers {
            tx.execute(
                query("INSERT INTO mission_watchers (mission_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(mission.id.as_str())
                    .bind(watcher.as_str()),
            )
            .await?;
        }
        append_event(
            &mut tx,
            ctx,
            mission_subject(&mission.id),
            mission.version,
            EventPayload::MissionCreated {
                workspace_id: mission.workspace_id.clone(),
                title: mission.title.clone(),
                stage: mission.stage,
                owner_id: mission.owner_id.clone(),
            },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(mission)
    }

    async fn mission(&self, id: &MissionId) -> StoreResult<Option<Mission>> {
        let sql = format!("SELECT {MISSION_COLUMNS} FROM missions WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.read).await?;
        row.map(Row::Any).as_ref().map(mission_from).transpose()
    }

    async fn missions_in(&self, workspaces: &[WorkspaceId], stage: Option<Stage>) -> StoreResult<Vec<Mission>> {
        if workspaces.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "SELECT {MISSION_COLUMNS} FROM missions WHERE workspace_id IN ({})",
            placeholders(0, workspaces.len())
        );
        if stage.is_some() {
            sql.push_str(&format!(" AND stage = ${}", workspaces.len() + 1));
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut query = sqlx::query(&sql);
        for ws in workspaces {
            query = query.bind(ws.as_str());
        }
        if let Some(stage) = stage {
            query = query.bind(stage.as_str());
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.into_iter().map(|row| mission_from(&Row::Any(row))).collect()
    }

    async fn missions_page(
        &self,
        workspaces: &[WorkspaceId],
        stage: Option<Stage>,
        before: Option<(i64, MissionId)>,
        limit: usize,
    ) -> StoreResult<Vec<Mission>> {
        if workspaces.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "SELECT {MISSION_COLUMNS} FROM missions WHERE workspace_id IN ({})",
            placeholders(0, workspaces.len())
        );
        let mut bound = workspaces.len();
        if stage.is_some() {
            bound += 1;
            sql.push_str(&format!(" AND stage = ${bound}"));
        }
        if before.is_some() {
            // Strictly after the cursor in (created_at DESC, id DESC) order.
            let (at, id) = (bound + 1, bound + 2);
            bound += 2;
            sql.push_str(&format!(" AND (created_at < ${at} OR (created_at = ${at} AND id < ${id}))"));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${}", bound + 1));
        let mut query = sqlx::query(&sql);
        for ws in workspaces {
            query = query.bind(ws.as_str());
        }
        if let Some(stage) = stage {
            query = query.bind(stage.as_str());
        }
        if let Some((at, id)) = &before {
            query = query.bind(*at).bind(id.as_str());
        }
        let limit = i64::try_from(limit).map_err(|_| StoreError::Invalid("page size".to_owned()))?;
        let rows = query.bind(limit).fetch_all(&self.read).await?;
        rows.into_iter().map(|row| mission_from(&Row::Any(row))).collect()
    }

    async fn change_stage(
        &self,
        ctx: &WriteContext,
        id: &MissionId,
        to: Stage,
        expected_version: Option<i64>,
    ) -> StoreResult<Mission> {
        let mut tx = self.begin().await?;
        let mission = lock_mission(&mut tx, self.dialect(), id).await?;
        if let Some(expected) = expected_version {
            if expected != mission.version {
                return Err(StoreError::VersionMismatch { subject: "mission", current: mission.version, expected });
            }
        }
        let from = mission.stage;
        from.transition_to(to)?;
        let now = now_ms();
        let updated = bump_mission(&mut tx, mission, to, now).await?;
        append_event(
            &mut tx,
            ctx,
            mission_subject(id),
            updated.version,
            EventPayload::MissionStageChanged {
                workspace_id: updated.workspace_id.clone(),
                title: updated.title.clone(),
                from,
                to,
            },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(updated)
    }

    async fn add_review(
        &self,
        ctx: &WriteContext,
        id: &MissionId,
        reviewer: &UserId,
        decision: ReviewDecision,
        comment: Option<String>,
    ) -> StoreResult<(Mission, Review)> {
        let mut tx = self.begin().await?;
        let mission = lock_mission(&mut tx, self.dialect(), id).await?;
        let now = now_ms();
        let stage = mission.stage;
        let updated = bump_mission(&mut tx, mission, stage, now).await?;
        let review = Review {
            id: ReviewId::generate(),
            mission_id: id.clone(),
            reviewer_id: reviewer.clone(),
            decision,
            comment: comment.clone(),
            created_at: now,
        };
        tx.execute(query(
                "INSERT INTO reviews (id, mission_id, reviewer_id, decision, comment, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(review.id.as_str())
            .bind(id.as_str())
            .bind(reviewer.as_str())
            .bind(decision.as_str())
            .bind(review.comment.as_deref())
            .bind(now)
            ).await?;
        append_event(
            &mut tx,
            ctx,
            mission_subject(id),
            updated.version,
            EventPayload::ReviewDecided {
                workspace_id: updated.workspace_id.clone(),
                review_id: review.id.clone(),
                reviewer_id: reviewer.clone(),
                decision,
                comment: review.comment.clone(),
            },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok((updated, review))
    }

    async fn add_fallback(
        &self,
        ctx: &WriteContext,
        id: &MissionId,
        created_by: &UserId,
        reason: String,
        summary: String,
    ) -> StoreResult<(Mission, Fallback)> {
        let mut tx = self.begin().await?;
        let mission = lock_mission(&mut tx, self.dialect(), id).await?;
        let now = now_ms();
        let stage = mission.stage;
        let updated = bump_mission(&mut tx, mission, stage, now).await?;
        let fallback = Fallback {
            id: FallbackId::generate(),
            mission_id: id.clone(),
            reason: reason.clone(),
            summary: summary.clone(),
            created_by: created_by.clone(),
            created_at: now,
        };
        tx.execute(query(
                "INSERT INTO fallbacks (id, mission_id, reason, summary, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(fallback.id.as_str())
            .bind(id.as_str())
            .bind(&fallback.reason)
            .bind(&fallback.summary)
            .bind(created_by.as_str())
            .bind(now)
            ).await?;
        append_event(
            &mut tx,
            ctx,
            mission_subject(id),
            updated.version,
            EventPayload::FallbackGenerated {
                workspace_id: updated.workspace_id.clone(),
                fallback_id: fallback.id.clone(),
                reason: fallback.reason.clone(),
                summary: fallback.summary.clone(),
            },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok((updated, fallback))
    }

    async fn reviews_of(&self, id: &MissionId) -> StoreResult<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT id, mission_id, reviewer_id, decision, comment, created_at FROM reviews WHERE mission_id = $1 ORDER BY created_at, id",
        )
        .bind(id.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let decision: String = row.try_get("decision")?;
                Ok(Review {
                    id: ReviewId::from_trusted(row.try_get("id")?),
                    mission_id: MissionId::from_trusted(row.try_get("mission_id")?),
                    reviewer_id: UserId::from_trusted(row.try_get("reviewer_id")?),
                    decision: decode(ReviewDecision::parse(&decision), "decision")?,
                    comment: row.try_get("comment")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn set_watching(&self, id: &MissionId, user: &UserId, watching: bool) -> StoreResult<()> {
        let sql = if watching {
            "INSERT INTO mission_watchers (mission_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM mission_watchers WHERE mission_id = $1 AND user_id = $2"
        };
        self.write_one(query(sql).bind(id.as_str()).bind(user.as_str())).await?;
        Ok(())
    }

    async fn watchers_of(&self, id: &MissionId) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT user_id FROM mission_watchers WHERE mission_id = $1 ORDER BY user_id")
                .bind(id.as_str())
                .fetch_all(&self.read)
                .await?;
        Ok(ids.into_iter().map(UserId::from_trusted).collect())
    }
}
