//! Snooze and done, and the sources of a superseded notification. Every change is one conditional `UPDATE … RETURNING` of
//! the notification (so a repeat, or a second node doing the same, finds
//! nothing to change and emits nothing), a recount of the user's unread
//! notifications, and the change's event, in one transaction.

use async_trait::async_trait;
use solo_domain::event::{Subject, SubjectKind};
use solo_domain::notification::{NotificationChanged, NotificationView, QuietSummary};
use solo_domain::rules::{NotificationDraft, Reason};
use solo_domain::time::now_ms;
use solo_domain::{Category, EventPayload, NotificationId, Severity, UserId};

use super::notifications::{insert_many, notification_from, recount, Insert, COLUMNS};
use super::preferences::quiet_hours_in;
use super::{append_event_only, query, Exec, Query, Row, SqlStore, WriteTx};
use crate::{InboxStateStore, NotificationStore, StoreError, StoreResult, WriteContext};

/// Which change an update makes, for its event.
#[derive(Clone, Copy)]
enum Change {
    Snoozed,
    Woke,
    Done,
    Undone,
}

impl Change {
    fn payload(self, change: NotificationChanged) -> EventPayload {
        match self {
            Change::Snoozed => EventPayload::NotificationSnoozed(change),
            Change::Woke => EventPayload::NotificationWoke(change),
            Change::Done => EventPayload::NotificationDone(change),
            Change::Undone => EventPayload::NotificationUndone(change),
        }
    }
}

impl SqlStore {
    /// Runs one conditional update of a notification; when it changed a row,
    /// recounts the inbox and appends the change's event. Answers the
    /// notification as it is afterwards, or None when nothing matched.
    async fn change_state(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        update: Query<'_>,
        change: Change,
        now: i64,
    ) -> StoreResult<Option<NotificationView>> {
        let mut tx = self.begin().await?;
        let changed = tx.fetch_optional(update).await?;
        let Some(row) = changed else {
            // As `set_read`: answer once whatever this transaction saw is committed.
            self.commit_with_events(tx).await?;
            return Ok(None);
        };
        let notification = notification_from(&row)?;
        emit(&mut tx, ctx, user, &notification, change, now).await?;
        self.commit_with_events(tx).await?;
        Ok(Some(notification))
    }

    /// The notification as stored, after a change that found nothing to do.
    async fn unchanged(&self, user: &UserId, id: &NotificationId) -> StoreResult<NotificationView> {
        self.notification(user, id).await?.ok_or(StoreError::NotFound)
    }

    /// Wakes one snoozed notification if it is (still) snoozed and, when `due_by`
    /// is given, due by then.
    async fn wake_one(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        due_by: Option<i64>,
    ) -> StoreResult<Option<NotificationView>> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Back "as if it arrived now": quiet when the user's quiet hours say so now.
        let quiet_hours = quiet_hours_in(&mut tx, user).await?;
        let severity = query("SELECT severity FROM notifications WHERE id = $1 AND user_id = $2")
            .bind(id.as_str())
            .bind(user.as_str());
        let Some(row) = tx.fetch_optional(severity).await? else {
            self.commit_with_events(tx).await?;
            return Err(StoreError::NotFound);
        };
        let severity: String = row.try_get("severity")?;
        let quiet = solo_domain::Severity::parse(&severity).is_some_and(|s| quiet_hours.is_quiet(now, s));
        let update = query(format!(
            "UPDATE notifications SET snoozed_until = NULL, read_at = NULL, quiet = $1, version = version + 1 \
             WHERE id = $2 AND user_id = $3 AND snoozed_until IS NOT NULL AND snoozed_until <= $4 \
             RETURNING {COLUMNS}"
        ))
        .bind(quiet)
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(due_by.unwrap_or(i64::MAX));
        let Some(row) = tx.fetch_optional(update).await? else {
            self.commit_with_events(tx).await?;
            return Ok(None);
        };
        let notification = notification_from(&row)?;
        emit(&mut tx, ctx, user, &notification, Change::Woke, now).await?;
        self.commit_with_events(tx).await?;
        Ok(Some(notification))
    }
}

/// Recounts the user's unread notifications and appends the change's event.
/// A recount rather than a ±1: whether the change made the notification leave
/// or join the unread count depends on the row as it was, and counting afresh
/// is right whatever it was (one statement on the partial index of unread ones).
async fn emit(
    tx: &mut WriteTx,
    ctx: &WriteContext,
    user: &UserId,
    notification: &NotificationView,
    change: Change,
    now: i64,
) -> StoreResult<()> {
    let unread = recount(tx, user).await?;
    let data = NotificationChanged { user_id: user.clone(), notification: notification.clone(), unread };
    append_event_only(
        tx,
        ctx,
        Subject { kind: SubjectKind::Notification, id: notification.id.to_string() },
        notification.version,
        change.payload(data),
        now,
    )
    .await?;
    Ok(())
}

#[async_trait]
impl InboxStateStore for SqlStore {
    async fn snooze(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        until_ms: i64,
    ) -> StoreResult<NotificationView> {
        let now = now_ms();
        let update = query(format!(
            "UPDATE notifications SET snoozed_until = $1, done_at = NULL, read_at = COALESCE(read_at, $2), \
             version = version + 1 WHERE id = $3 AND user_id = $4 RETURNING {COLUMNS}"
        ))
        .bind(until_ms)
        .bind(now)
        .bind(id.as_str())
        .bind(user.as_str());
        self.change_state(ctx, user, update, Change::Snoozed, now).await?.ok_or(StoreError::NotFound)
    }

    async fn wake(&self, ctx: &WriteContext, user: &UserId, id: &NotificationId) -> StoreResult<NotificationView> {
        match self.wake_one(ctx, user, id, None).await? {
            Some(woken) => Ok(woken),
            None => self.unchanged(user, id).await,
        }
    }

    async fn set_done(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        done: bool,
    ) -> StoreResult<NotificationView> {
        let now = now_ms();
        let (update, change) = if done {
            let update = query(format!(
                "UPDATE notifications SET done_at = $1, snoozed_until = NULL, read_at = COALESCE(read_at, $1), \
                 version = version + 1 WHERE id = $2 AND user_id = $3 AND done_at IS NULL RETURNING {COLUMNS}"
            ))
            .bind(now);
            (update, Change::Done)
        } else {
            let update = query(format!(
                "UPDATE notifications SET done_at = NULL, version = version + 1 \
                 WHERE id = $1 AND user_id = $2 AND done_at IS NOT NULL RETURNING {COLUMNS}"
            ));
            (update, Change::Undone)
        };
        let update = update.bind(id.as_str()).bind(user.as_str());
        match self.change_state(ctx, user, update, change, now).await? {
            Some(changed) => Ok(changed),
            None => self.unchanged(user, id).await,
        }
    }

    async fn notification_sources(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> StoreResult<Option<(Option<String>, Vec<String>)>> {
        let row = sqlx::query(
            "SELECT subject_key, history, source_event_id FROM notifications WHERE id = $1 AND user_id = $2",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row.map(Row::Any) else { return Ok(None) };
        let subject: Option<String> = row.try_get("subject_key")?;
        let history: Option<String> = row.try_get("history")?;
        let current: Option<String> = row.try_get("source_event_id")?;
        let mut sources: Vec<String> =
            history.iter().flat_map(|h| h.split(',')).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        sources.extend(current);
        Ok(Some((subject, sources)))
    }

    async fn wake_due(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<NotificationView>> {
        let due = sqlx::query(
            "SELECT id, user_id FROM notifications \
             WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1 ORDER BY snoozed_until LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut woken = Vec::with_capacity(due.len());
        for row in due {
            let row = Row::Any(row);
            let id = NotificationId::from_trusted(row.try_get("id")?);
            let user = UserId::from_trusted(row.try_get("user_id")?);
            let ctx = WriteContext::system(solo_domain::event::new_trace_id());
            // None: another node woke it first, or it was woken or done meanwhile.
            match self.wake_one(&ctx, &user, &id, Some(now_ms)).await {
                Ok(Some(notification)) => woken.push(notification),
                Ok(None) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(woken)
    }

    async fn send_due_digests(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<NotificationView>> {
        let due = sqlx::query(
            "SELECT user_id, window_end FROM quiet_digests WHERE window_end <= $1 ORDER BY window_end LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut sent = Vec::with_capacity(due.len());
        for row in due {
            let row = Row::Any(row);
            let user = UserId::from_trusted(row.try_get("user_id")?);
            let window_end: i64 = row.try_get("window_end")?;
            let ctx = WriteContext::system(solo_domain::event::new_trace_id());
            if let Some(digest) = self.send_digest(&ctx, &user, window_end).await? {
                sent.push(digest);
            }
        }
        Ok(sent)
    }
}

impl SqlStore {
    /// Sends the digest of one ended quiet window, if it is (still) to send:
    /// whichever node deletes its row sends it, in the same transaction.
    async fn send_digest(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        window_end: i64,
    ) -> StoreResult<Option<NotificationView>> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let claim = query("DELETE FROM quiet_digests WHERE user_id = $1 AND window_end = $2 RETURNING window_start")
            .bind(user.as_str())
            .bind(window_end);
        let Some(row) = tx.fetch_optional(claim).await? else {
            self.commit_with_events(tx).await?;
            return Ok(None);
        };
        let window_start: i64 = row.try_get("window_start")?;
        let arrived = query(
            "SELECT category, severity, title FROM notifications \
             WHERE user_id = $1 AND quiet = $2 AND created_at >= $3 AND created_at < $4 ORDER BY created_at",
        )
        .bind(user.as_str())
        .bind(true)
        .bind(window_start)
        .bind(window_end);
        let mut counts = [0u64; Category::ALL.len()];
        let mut urgent = Vec::new();
        for row in tx.fetch_all(arrived).await? {
            let category: String = row.try_get("category")?;
            let severity: String = row.try_get("severity")?;
            if let Some(i) = Category::parse(&category).and_then(|c| Category::ALL.iter().position(|a| *a == c)) {
                counts[i] += 1;
            }
            if Severity::parse(&severity) == Some(Severity::Urgent) {
                urgent.push(row.try_get::<String>("title")?);
            }
        }
        let summary = QuietSummary { counts: Category::ALL.iter().copied().zip(counts).collect(), urgent };
        if summary.total() == 0 {
            // What arrived was removed since (retention): nothing to sum up.
            self.commit_with_events(tx).await?;
            return Ok(None);
        }
        let (title, body) = summary.digest_text();
        let draft = NotificationDraft {
            reason: Reason::Digest,
            user_id: user.clone(),
            category: Category::System,
            kind: "digest".to_owned(),
            title,
            body: Some(body),
            link: Some("/notifications".to_owned()),
            severity: Severity::Info,
        };
        let created = insert_many(&mut tx, vec![Insert::digest(ctx, draft)], now).await?;
        self.commit_with_events(tx).await?;
        Ok(created.into_iter().flatten().next())
    }
}
