//! What `explain` reads: a notification's decision record and the event that
//! caused it. Read-only; the record is written by the insert (`notifications.rs`).

use async_trait::async_trait;
use solo_domain::event::SubjectKind;
use solo_domain::{EventEnvelope, NotificationId, UserId};

use super::notifications::rule_context;
use super::{Row, SqlStore};
use crate::{ConfigStore, EventOutcome, ExplainStore, StoreError, StoreResult};

#[async_trait]
impl ExplainStore for SqlStore {
    async fn decision(&self, user: &UserId, id: &NotificationId) -> StoreResult<Option<Option<serde_json::Value>>> {
        let row = sqlx::query("SELECT decision FROM notifications WHERE id = $1 AND user_id = $2")
            .bind(id.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row.map(Row::Any) else { return Ok(None) };
        let raw: Option<String> = row.try_get("decision")?;
        let record =
            raw.map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()?;
        Ok(Some(record))
    }

    async fn event_by_id(&self, id: &uuid::Uuid) -> StoreResult<Option<EventEnvelope>> {
        let raw: Option<String> = sqlx::query_scalar("SELECT envelope FROM events WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    async fn event_outcome(&self, user: &UserId, event: &EventEnvelope) -> StoreResult<EventOutcome> {
        let source = event.id.to_string();
        let sent: Option<String> =
            sqlx::query_scalar("SELECT id FROM notifications WHERE user_id = $1 AND source_event_id = $2")
                .bind(user.as_str())
                .bind(&source)
                .fetch_optional(&self.read)
                .await?;
        if let Some(id) = sent {
            return Ok(EventOutcome::Sent(NotificationId::from_trusted(id)));
        }
        // Replaced since: its id is in the history of the notification that took its place
        // (only the user's notifications about the same subject can hold it).
        let subject_key = match event.subject.kind {
            SubjectKind::Mission => Some(format!("mission:{}", event.subject.id)),
            SubjectKind::Workstation => Some(format!("workstation:{}", event.subject.id)),
            _ => None,
        };
        if let Some(key) = subject_key {
            let merged: Option<String> = sqlx::query_scalar(
                "SELECT id FROM notifications WHERE user_id = $1 AND subject_key = $2 AND history LIKE $3",
            )
            .bind(user.as_str())
            .bind(key)
            .bind(format!("%{source}%"))
            .fetch_optional(&self.read)
            .await?;
            if let Some(id) = merged {
                return Ok(EventOutcome::Superseded(NotificationId::from_trusted(id)));
            }
        }
        if !solo_domain::rules::may_notify(&event.payload) {
            return Ok(EventOutcome::NeverNotifies);
        }
        if event.actor.user_id() == Some(user) {
            return Ok(EventOutcome::OwnAction);
        }
        let context = {
            let mut conn = self.read.acquire().await?;
            rule_context(&mut *conn, event).await?
        };
        let Some(draft) =
            solo_domain::rules::notifications_for(event, &context).into_iter().find(|d| &d.user_id == user)
        else {
            return Ok(EventOutcome::NotChosen);
        };
        let (_, rules, surfaces) = self.notification_preferences(user).await?;
        if let Some(rule) = rules.get(&event.subject.id).filter(|r| !r.lets_through(draft.severity)) {
            return Ok(EventOutcome::Muted(*rule));
        }
        if !surfaces.of(draft.category).inbox {
            return Ok(EventOutcome::InboxOff(draft.category));
        }
        // Chosen and let through now, yet nothing was made: the rules' inputs or
        // the preferences were different when it happened (a mute since lifted, say).
        Ok(EventOutcome::DifferentThen)
    }
}
