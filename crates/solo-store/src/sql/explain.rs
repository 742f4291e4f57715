//! What `explain` reads: a notification's decision record and the event that
//! caused it. Read-only; the record is written by the insert (`notifications.rs`).

use async_trait::async_trait;
use solo_domain::{EventEnvelope, NotificationId, UserId};

use super::{Row, SqlStore};
use crate::{ExplainStore, StoreError, StoreResult};

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
}
