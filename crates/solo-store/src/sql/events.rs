//! The event log, channel streams and the outbox the dispatcher drains.

use std::sync::Arc;

use async_trait::async_trait;
use solo_domain::time::now_ms;
use solo_domain::{Channel, EventEnvelope};
use sqlx::Row;
use tokio::sync::Notify;

use solo_domain::event::{ServerPublication, Subject, SubjectKind};
use solo_domain::EventPayload;

use super::{append_events_routed, new_epoch, placeholders, query, Exec, NewEvent, SqlStore};
use crate::{
    CommittedEvents, EventStore, HistoryItem, OutboxEvent, RetentionPolicy, Route, StoreError, StoreResult,
    StreamPosition, WriteContext,
};

#[async_trait]
impl EventStore for SqlStore {
    fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }

    fn committed_events(&self) -> Option<Arc<CommittedEvents>> {
        self.committed.clone()
    }

    async fn unpublished_events(&self, limit: i64, after_seq: i64) -> StoreResult<Vec<OutboxEvent>> {
        let rows = sqlx::query(
            "SELECT seq, type, trace_id, envelope, routes FROM events WHERE published_at IS NULL AND seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let routes: String = row.try_get("routes")?;
                Ok(OutboxEvent {
                    seq: row.try_get("seq")?,
                    event_type: row.try_get("type")?,
                    trace_id: row.try_get("trace_id")?,
                    envelope: row.try_get("envelope")?,
                    routes: serde_json::from_str(&routes).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    async fn mark_published(&self, seqs: &[i64], now_ms: i64) -> StoreResult<()> {
        for chunk in seqs.chunks(500) {
            let sql = format!("UPDATE events SET published_at = $1 WHERE seq IN ({})", placeholders(1, chunk.len()));
            let mut statement = query(sql).bind(now_ms);
            for seq in chunk {
                statement = statement.bind(*seq);
            }
            self.write_one(statement).await?;
        }
        Ok(())
    }

    async fn mark_published_through(&self, seq: i64, now_ms: i64) -> StoreResult<()> {
        // A member of the write group like any request (on SQLite): no commit
        // of its own, and no waiting for a gap between groups under load.
        let mut tx = self.begin().await?;
        tx.execute(
            query("UPDATE events SET published_at = $1 WHERE published_at IS NULL AND seq <= $2")
                .bind(now_ms)
                .bind(seq),
        )
        .await?;
        self.commit_with_events(tx).await
    }

    async fn unpublished_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE published_at IS NULL").fetch_one(&self.read).await?)
    }

    async fn channel_position(&self, channel: &Channel) -> StoreResult<StreamPosition> {
        let name = channel.to_string();
        let select = "SELECT epoch, top_offset FROM channels WHERE name = $1";
        let mut row = sqlx::query(select).bind(&name).fetch_optional(&self.read).await?;
        if row.is_none() {
            self.write_one(query(
                "INSERT INTO channels (name, epoch, top_offset, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&name)
            .bind(new_epoch())
            .bind(now_ms())
            ).await?;
            row = sqlx::query(select).bind(&name).fetch_optional(&self.read).await?;
        }
        let row = row.ok_or(StoreError::NotFound)?;
        let offset: i64 = row.try_get("top_offset")?;
        Ok(StreamPosition { epoch: row.try_get("epoch")?, offset: offset as u64 })
    }

    async fn channel_history(&self, channel: &Channel, since: u64, limit: i64) -> StoreResult<Vec<HistoryItem>> {
        let rows = sqlx::query(
            "SELECT p.stream_offset, e.envelope FROM publications p JOIN events e ON e.seq = p.event_seq \
             WHERE p.channel = $1 AND p.stream_offset > $2 ORDER BY p.stream_offset LIMIT $3",
        )
        .bind(channel.to_string())
        .bind(i64::try_from(since).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let offset: i64 = row.try_get("stream_offset")?;
                Ok(HistoryItem { offset: offset as u64, envelope: row.try_get("envelope")? })
            })
            .collect()
    }

    async fn oldest_kept_offset(&self, channel: &Channel) -> StoreResult<Option<u64>> {
        let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(stream_offset) FROM publications WHERE channel = $1")
            .bind(channel.to_string())
            .fetch_one(&self.read)
            .await?;
        Ok(oldest.map(|o| o as u64))
    }

    async fn trim_history(&self, policy: RetentionPolicy, now_ms: i64) -> StoreResult<u64> {
        let mut removed = 0;
        // Channel history past its age limit.
        let done = self
            .write_one(
                query(
                    "DELETE FROM publications WHERE (channel, stream_offset) IN \
             (SELECT channel, stream_offset FROM publications WHERE ts < $1 LIMIT $2)",
                )
                .bind(now_ms - policy.channel_max_age_ms)
                .bind(policy.batch),
            )
            .await?;
        removed += done;
        // Channel history past its length limit, for streams that outgrew it.
        let long: Vec<(String, i64)> = sqlx::query(
            "SELECT name, top_offset FROM channels WHERE top_offset > $1 ORDER BY updated_at DESC LIMIT 100",
        )
        .bind(policy.channel_max_publications as i64)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("name")?, row.try_get("top_offset")?)))
        .collect::<StoreResult<_>>()?;
        for (name, top) in long {
            let done = self
                .write_one(
                    query("DELETE FROM publications WHERE channel = $1 AND stream_offset <= $2")
                        .bind(&name)
                        .bind(top - policy.channel_max_publications as i64),
                )
                .await?;
            removed += done;
        }
        // The event log itself, once published and past its audit age.
        let done = self.write_one(query(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts < $1 AND published_at IS NOT NULL \
             AND seq NOT IN (SELECT event_seq FROM publications) LIMIT $2)",
        )
        .bind(now_ms - policy.events_max_age_ms)
        .bind(policy.batch)
        ).await?;
        removed += done;
        // Heartbeat events sooner: liveness, not changes (status changes are their own events).
        let done = self
            .write_one(
                query(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts < $1 AND type = $2 \
             AND published_at IS NOT NULL AND seq NOT IN (SELECT event_seq FROM publications) LIMIT $3)",
                )
                .bind(now_ms - policy.heartbeat_events_max_age_ms)
                .bind(EventPayload::WORKSTATION_HEARTBEAT)
                .bind(policy.batch),
            )
            .await?;
        removed += done;
        removed += self.trim_read_notifications(now_ms - policy.notifications_read_max_age_ms, policy.batch).await?;
        Ok(removed)
    }

    async fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64, now_ms: i64) -> StoreResult<bool> {
        // One statement for take, renew and refuse: the row is only overwritten when
        // the lease expired or is already ours.
        let take = query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3 \
             WHERE leases.expires_at < $4 OR leases.holder = $2 \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms);
        let mut tx = self.begin().await?;
        let holder_now = match tx.fetch_optional(take).await? {
            Some(row) => Some(row.try_get::<String>("holder")?),
            None => None,
        };
        self.commit(tx).await?;
        Ok(holder_now.as_deref() == Some(holder))
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.write_one(
            query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2").bind(name).bind(holder),
        )
        .await?;
        Ok(())
    }

    async fn events_of_subject(&self, kind: &str, id: &str, limit: i64) -> StoreResult<Vec<EventEnvelope>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT envelope FROM events WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(kind)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|raw| serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))).collect()
    }

    async fn append_publication(&self, ctx: &WriteContext, publication: ServerPublication) -> StoreResult<Vec<Route>> {
        let order = publication.channels.clone();
        // Its own subject: publications of a backend share no version sequence.
        let id = uuid::Uuid::now_v7().to_string();
        let event = NewEvent {
            subject: Subject { kind: SubjectKind::Publication, id },
            version: 1,
            payload: EventPayload::ServerPublished(publication),
        };
        let mut tx = self.begin().await?;
        let (_, mut routes) = append_events_routed(&mut tx, ctx, vec![event], now_ms()).await?;
        self.commit_with_events(tx).await?;
        let routes = routes.pop().unwrap_or_default();
        // The event's routes follow its parsed channels; answer in the caller's order.
        order
            .iter()
            .map(|name| {
                routes
                    .iter()
                    .find(|route| route.channel == *name)
                    .cloned()
                    .ok_or_else(|| StoreError::Invalid(format!("`{name}` is not a channel")))
            })
            .collect()
    }

    async fn remove_history(&self, channel: &Channel) -> StoreResult<u64> {
        self.write_one(query("DELETE FROM publications WHERE channel = $1").bind(channel.to_string())).await
    }
}

/// Rows deleted per statement when trimming read notifications (one bound
/// parameter each, well under the per-statement budget).
const TRIM_IDS_PER_STATEMENT: usize = 200;

impl SqlStore {
    /// Deletes up to `batch` notifications read before `read_before` (a snoozed
    /// one counts as read until it wakes, so it is left alone). They are
    /// found through the read pool (a scan that never holds the writer) and
    /// deleted by key, a couple of hundred per statement, each statement
    /// rechecking the condition so a notification marked unread meanwhile stays.
    async fn trim_read_notifications(&self, read_before: i64, batch: i64) -> StoreResult<u64> {
        let ids: Vec<String> = sqlx::query(
            "SELECT id FROM notifications WHERE read_at IS NOT NULL AND read_at < $1 AND snoozed_until IS NULL \
                 LIMIT $2",
        )
        .bind(read_before)
        .bind(batch)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut removed = 0;
        for chunk in ids.chunks(TRIM_IDS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM notifications WHERE read_at IS NOT NULL AND read_at < $1 AND snoozed_until IS NULL \
                 AND id IN ({})",
                placeholders(1, chunk.len())
            );
            let statement = chunk.iter().fold(query(sql).bind(read_before), |q, id| q.bind(id.as_str()));
            removed += self.write_one(statement).await?;
        }
        Ok(removed)
    }
}
