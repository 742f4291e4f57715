//! Inboxes: notifications from rules and direct creation, read state, unread
//! counts with their version, and quiet hours.
//!
//! (About 630 lines: the inbox's statements share private helpers (counts,
//! the multi-row insert with its supersede upsert) that every write here
//! composes within one transaction; split by table they would have to be
//! exported to each other. Snooze and done live in `inbox_state.rs`, the
//! recipients' preferences (quiet hours, mission rules, surfaces) in
//! `preferences.rs`.)

use std::collections::{BTreeMap, HashMap};

use super::preferences::{quiet_hours_in, quiet_hours_of, user_scope, DEFAULT_QUIET_KEY, QUIET_KEY};
use super::{
    append_event_only, append_events_of, decode, query, rows_per_statement, value_rows, Exec, NewEvent, Row, SqlStore,
    WriteTx,
};
use crate::{
    InboxState, NewNotification, NotificationFilter, NotificationStore, StoreError, StoreResult, WriteContext,
};
use async_trait::async_trait;
use solo_domain::event::{EventEnvelope, Subject, SubjectKind};
use solo_domain::notification::{InboxReadAll, NotificationChanged, NotificationView, UnreadCounts};
use solo_domain::rules::{notifications_for, NotificationDraft, Reason, RuleContext};
use solo_domain::time::now_ms;
use solo_domain::{Category, EventPayload, MissionId, NotificationId, QuietHours, Severity, UserId, WorkstationId};

pub(super) const COLUMNS: &str = "id, user_id, category, type, title, body, link, severity, quiet, version, \
     source_event_id, created_at, read_at, snoozed_until, done_at, updates, updated_at";

pub(super) fn notification_from(row: &Row) -> StoreResult<NotificationView> {
    let category: String = row.try_get("category")?;
    let severity: String = row.try_get("severity")?;
    let quiet: i64 = row.try_get("quiet")?;
    let source: Option<String> = row.try_get("source_event_id")?;
    Ok(NotificationView {
        id: NotificationId::from_trusted(row.try_get("id")?),
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        category: decode(Category::parse(&category), "category")?,
        kind: row.try_get("type")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        link: row.try_get("link")?,
        severity: decode(Severity::parse(&severity), "severity")?,
        quiet: quiet != 0,
        version: row.try_get("version")?,
        source_event_id: source.and_then(|s| s.parse().ok()),
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
        snoozed_until: row.try_get("snoozed_until")?,
        done_at: row.try_get("done_at")?,
        updates: row.try_get("updates")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The inbox columns that hold unread counts, in [`Category::ALL`] order.
const UNREAD_COLUMNS: &str = "unread_missions, unread_workstations, unread_community, unread_system";

fn unread_column(category: Category) -> &'static str {
    match category {
        Category::Missions => "unread_missions",
        Category::Workstations => "unread_workstations",
        Category::Community => "unread_community",
        Category::System => "unread_system",
    }
}

fn counts_from(row: &Row) -> StoreResult<UnreadCounts> {
    let mut counts = UnreadCounts { counts_version: row.try_get("counts_version")?, ..UnreadCounts::default() };
    for category in Category::ALL {
        let n: i64 = row.try_get(unread_column(category))?;
        // Never negative by construction; a negative number would be a bug, not a count.
        let n = u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("unread count {n}")))?;
        *counts.by_category.get_mut(category) = n;
        counts.total += n;
    }
    Ok(counts)
}

async fn counts_in(conn: &mut dyn Exec, user: &UserId) -> StoreResult<UnreadCounts> {
    let statement =
        query(format!("SELECT counts_version, {UNREAD_COLUMNS} FROM inboxes WHERE user_id = $1")).bind(user.as_str());
    let row = conn.fetch_optional(statement).await?;
    row.as_ref().map(counts_from).transpose().map(Option::unwrap_or_default)
}

/// Adds `delta` to the user's unread count in `category`, bumps their counts
/// version and returns the new counts, all in one statement.
async fn bump_counts(conn: &mut dyn Exec, user: &UserId, category: Category, delta: i64) -> StoreResult<UnreadCounts> {
    let column = unread_column(category);
    let sql = format!(
        "INSERT INTO inboxes (user_id, counts_version, {column}) VALUES ($1, 1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET counts_version = inboxes.counts_version + 1, \
         {column} = inboxes.{column} + $3 \
         RETURNING counts_version, {UNREAD_COLUMNS}"
    );
    let row = conn.fetch_one(query(sql).bind(user.as_str()).bind(delta.max(0)).bind(delta)).await?;
    counts_from(&row)
}

/// Counts the user's unread notifications afresh, bumps their counts version
/// and returns the new counts (after marking many read at once).
pub(super) async fn recount(conn: &mut dyn Exec, user: &UserId) -> StoreResult<UnreadCounts> {
    let counted: Vec<String> =
        Category::ALL.iter().map(|c| format!("COUNT(*) FILTER (WHERE category = '{}')", c.as_str())).collect();
    let replaced: Vec<String> =
        Category::ALL.iter().map(|c| format!("{col} = excluded.{col}", col = unread_column(*c))).collect();
    // SQLite needs the WHERE clause to read `ON CONFLICT` as an upsert.
    let sql = format!(
        "INSERT INTO inboxes (user_id, counts_version, {UNREAD_COLUMNS}) \
         SELECT $1, 1, {counted} FROM notifications WHERE user_id = $1 AND read_at IS NULL \
         ON CONFLICT (user_id) DO UPDATE SET counts_version = inboxes.counts_version + 1, {replaced} \
         RETURNING counts_version, {UNREAD_COLUMNS}",
        counted = counted.join(", "),
        replaced = replaced.join(", "),
    );
    let row = conn.fetch_one(query(sql).bind(user.as_str())).await?;
    counts_from(&row)
}

/// The decision record kept with a notification, for `explain`: the rule that
/// chose the user, and what their quiet hours decided (with the window when
/// they had one). One short text in the row the insert writes anyway.
fn decision(reason: Reason, quiet_hours: Option<&QuietHours>, at: i64, quiet: bool, severity: Severity) -> String {
    let window = quiet_hours.filter(|q| q.enabled);
    let delivery = if quiet {
        "quiet"
    } else if severity == Severity::Urgent && window.is_some_and(|q| q.is_quiet(at, Severity::Info)) {
        "urgent_bypass"
    } else {
        "toast"
    };
    let mut record = serde_json::json!({ "rule": reason.as_str(), "delivery": delivery });
    if let Some(q) = window {
        record["quietHours"] = serde_json::json!(format!("{}-{} {}", q.start, q.end, q.timezone));
    }
    record.to_string()
}

pub(super) struct Insert<'a> {
    /// Whose request this is: its event carries their actor and trace id.
    ctx: &'a WriteContext,
    draft: NotificationDraft,
    source_event_id: Option<String>,
    /// `mission:m_…` or `workstation:wk_…` for a rule's notification about one
    /// of them: a later one of the same type replaces it while it is unread.
    subject_key: Option<String>,
    created_by: Option<&'a UserId>,
    idempotency: Option<&'a (String, String)>,
}

impl<'a> Insert<'a> {
    /// The digest of a quiet window (see `InboxStateStore::send_due_digests`).
    pub(super) fn digest(ctx: &'a WriteContext, draft: NotificationDraft) -> Self {
        Insert { ctx, draft, source_event_id: None, subject_key: None, created_by: None, idempotency: None }
    }

    /// A notification a user asked for by name (`POST /api/notifications`).
    pub(super) fn direct(ctx: &'a WriteContext, new: &'a NewNotification) -> Self {
        let draft = NotificationDraft {
            reason: solo_domain::rules::Reason::Direct,
            user_id: new.user_id.clone(),
            category: new.category,
            kind: "direct".to_owned(),
            title: new.title.clone(),
            body: new.body.clone(),
            link: new.link.clone(),
            severity: new.severity,
        };
        Insert {
            ctx,
            draft,
            source_event_id: None,
            subject_key: None,
            created_by: Some(&new.created_by),
            idempotency: new.idempotency.as_ref(),
        }
    }
}

/// Inserts a notification unless its (user, source event) or (creator, key)
/// already exists; on insert, bumps the counts and appends `notification.created`.
pub(super) async fn insert(conn: &mut WriteTx, new: Insert<'_>, now: i64) -> StoreResult<Option<NotificationView>> {
    Ok(insert_many(conn, vec![new], now).await?.pop().flatten())
}

/// Inserts notifications, each unless its (user, source event) or (creator,
/// key) already exists; bumps the counts of the inboxes they land in and
/// appends a `notification.created` for each, in order. A few statements per
/// hundred notifications: a stage change watched by a thousand people stays
/// one short transaction. Answers per input the recipient's rules let through
/// (a muted mission's are dropped): the notification, or None when it already existed.
pub(super) async fn insert_many(
    conn: &mut WriteTx,
    news: Vec<Insert<'_>>,
    now: i64,
) -> StoreResult<Vec<Option<NotificationView>>> {
    let users: Vec<&UserId> = news.iter().map(|new| &new.draft.user_id).collect();
    let (quiet_hours, rules) = quiet_hours_of(conn, &users).await?;
    // A user's rule for the mission a notification is about (mute, urgent only)
    // drops it here, whatever rule chose them (even as the mission's owner); so
    // does their inbox switched off for its category (a rule's notifications
    // only: a direct one was asked for by name).
    let mut news = news;
    news.retain(|new| {
        let Some(honoured) = rules.get(new.draft.user_id.as_str()) else { return true };
        let mission = new.subject_key.as_deref().and_then(|k| k.strip_prefix("mission:"));
        let rule = mission.and_then(|m| honoured.missions.get(m));
        let inbox = new.source_event_id.is_none() || honoured.surfaces.of(new.draft.category).inbox;
        inbox && rule.is_none_or(|rule| rule.lets_through(new.draft.severity))
    });
    let ids: Vec<NotificationId> = news.iter().map(|_| NotificationId::generate()).collect();
    let mut inserted: HashMap<String, NotificationView> = HashMap::with_capacity(news.len());
    let rows: Vec<(&NotificationId, &Insert<'_>)> = ids.iter().zip(&news).collect();
    // Supersede: a notification about a mission or a workstation replaces the
    // user's unread one of the same type about the same subject, in the same
    // statement (an upsert on the partial unique index of unread ones), so it
    // costs no statement more, and two nodes inserting at once end with one
    // row (the second waits on the first's index entry, then updates it). The
    // update keeps the id and the creation time, takes the new content and
    // source event, and appends the old source event to `history`; it skips a
    // row that already has this source event (a repeat changes nothing).
    // Direct notifications have no subject and keep `DO NOTHING`.
    let supersede = news.iter().any(|new| new.subject_key.is_some());
    let on_conflict = if supersede {
        "ON CONFLICT (user_id, type, subject_key) WHERE read_at IS NULL AND subject_key IS NOT NULL DO UPDATE SET \
         title = excluded.title, body = excluded.body, link = excluded.link, severity = excluded.severity, \
         quiet = excluded.quiet, history = COALESCE(notifications.history || ',', '') || notifications.source_event_id, \
         source_event_id = excluded.source_event_id, updated_at = excluded.created_at, \
         updates = notifications.updates + 1, version = notifications.version + 1 \
         WHERE notifications.source_event_id <> excluded.source_event_id"
    } else {
        "ON CONFLICT DO NOTHING"
    };
    for chunk in rows.chunks(rows_per_statement(16)) {
        // The bound columns first, the constant ones (version 1, unread) last.
        let sql = format!(
            "INSERT INTO notifications (id, user_id, category, type, title, body, link, severity, quiet, \
             source_event_id, created_by, idempotency_key, request_hash, created_at, subject_key, decision, \
             version, read_at) VALUES {} {on_conflict} RETURNING {COLUMNS}",
            value_rows(chunk.len(), 16, "1, NULL")
        );
        let mut statement = query(sql);
        for (id, new) in chunk {
            let held = quiet_hours.get(new.draft.user_id.as_str());
            // A digest ends a quiet window: it is never quiet itself (nor in the next digest).
            let quiet = new.draft.reason != Reason::Digest && held.is_some_and(|q| q.is_quiet(now, new.draft.severity));
            statement = statement
                .bind(id.as_str())
                .bind(new.draft.user_id.as_str())
                .bind(new.draft.category.as_str())
                .bind(new.draft.kind.as_str())
                .bind(new.draft.title.as_str())
                .bind(new.draft.body.as_deref())
                .bind(new.draft.link.as_deref())
                .bind(new.draft.severity.as_str())
                .bind(quiet)
                .bind(new.source_event_id.as_deref())
                .bind(new.created_by.map(|u| u.as_str()))
                .bind(new.idempotency.map(|(key, _)| key.as_str()))
                .bind(new.idempotency.map(|(_, hash)| hash.as_str()))
                .bind(now)
                .bind(new.subject_key.as_deref())
                .bind(decision(new.draft.reason, held, now, quiet, new.draft.severity));
        }
        for row in conn.fetch_all(statement).await? {
            let notification = notification_from(&row)?;
            // A superseded row keeps its id: find it by its user and new source event.
            let key = if notification.updates > 0 {
                format!(
                    "{}/{}",
                    notification.user_id,
                    notification.source_event_id.map(|e| e.to_string()).unwrap_or_default()
                )
            } else {
                notification.id.to_string()
            };
            inserted.insert(key, notification);
        }
    }
    // In input order, only those that were new or superseded one.
    let created: Vec<Option<NotificationView>> = ids
        .iter()
        .zip(&news)
        .map(|(id, new)| {
            inserted.remove(id.as_str()).or_else(|| {
                let source = new.source_event_id.as_deref()?;
                inserted.remove(&format!("{}/{source}", new.draft.user_id))
            })
        })
        .collect();
    // A new notification adds one to its inbox's unread count; a superseded
    // one leaves the count as it was and only gives the counts a new version.
    let bumps: Vec<(&NotificationView, i64)> =
        created.iter().flatten().map(|n| (n, if n.updates > 0 { 0 } else { 1 })).collect();
    let counts = bump_counts_of(conn, &bumps).await?;
    let events = created
        .iter()
        .zip(&news)
        .filter_map(|(notification, new)| notification.as_ref().map(|n| (n, new.ctx)))
        .zip(counts)
        .map(|((notification, ctx), unread)| {
            let change = NotificationChanged {
                user_id: notification.user_id.clone(),
                notification: notification.clone(),
                unread,
            };
            let event = NewEvent {
                subject: Subject { kind: SubjectKind::Notification, id: notification.id.to_string() },
                version: notification.version,
                payload: if notification.updates > 0 {
                    EventPayload::NotificationUpdated(change)
                } else {
                    EventPayload::NotificationCreated(change)
                },
            };
            (event, ctx)
        })
        .collect();
    append_events_of(conn, events, now).await?;
    note_quiet_windows(conn, &created, &quiet_hours, now).await?;
    Ok(created)
}

/// Remembers, for the digest that follows each quiet window, that something
/// arrived quietly in it: a row per user and window (see the
/// `quiet_digests` migration), in the transaction of the notifications, so a
/// digest exists exactly when they do. Nothing to write outside quiet hours.
async fn note_quiet_windows(
    conn: &mut dyn Exec,
    created: &[Option<NotificationView>],
    quiet_hours: &HashMap<String, QuietHours>,
    now: i64,
) -> StoreResult<()> {
    let mut windows: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for notification in created.iter().flatten().filter(|n| n.quiet) {
        let user = notification.user_id.as_str();
        if let Some((start, end)) = quiet_hours.get(user).and_then(|q| q.window_containing(now)) {
            windows.insert((user, end), start);
        }
    }
    let windows: Vec<((&str, i64), i64)> = windows.into_iter().collect();
    for chunk in windows.chunks(rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO quiet_digests (user_id, window_end, window_start) VALUES {} ON CONFLICT DO NOTHING",
            value_rows(chunk.len(), 3, "")
        );
        let mut statement = query(sql);
        for ((user, end), start) in chunk {
            statement = statement.bind(*user).bind(*end).bind(*start);
        }
        conn.execute(statement).await?;
    }
    Ok(())
}

/// Adds each notification's delta (1 for a new one, 0 for a superseded one)
/// to its inbox's unread count in its category and a version to the inbox's
/// counts, and returns, per notification in order, the inbox's counts right
/// after it. One row per inbox, however many of the notifications land in it
/// (a batch of requests for one user is one statement, not one per request):
/// each inbox gets its total, and the counts after each notification are
/// worked back from the inbox's final counts.
async fn bump_counts_of(conn: &mut dyn Exec, bumps: &[(&NotificationView, i64)]) -> StoreResult<Vec<UnreadCounts>> {
    // Per inbox: how many notifications (versions), and the delta per category.
    let mut totals: BTreeMap<&str, (i64, [i64; Category::ALL.len()])> = BTreeMap::new();
    for (notification, delta) in bumps {
        let (versions, deltas) = totals.entry(notification.user_id.as_str()).or_default();
        *versions += 1;
        deltas[category_index(notification.category)] += delta;
    }
    // Inboxes in a fixed order (by user), so two transactions bumping the same
    // inboxes lock them in the same order and cannot deadlock on PostgreSQL.
    let totals: Vec<(&str, (i64, [i64; Category::ALL.len()]))> = totals.into_iter().collect();
    let per_row = 2 + Category::ALL.len();
    let added: Vec<String> = Category::ALL
        .iter()
        .map(|c| format!("{col} = inboxes.{col} + excluded.{col}", col = unread_column(*c)))
        .collect();
    let mut after: HashMap<String, UnreadCounts> = HashMap::with_capacity(totals.len());
    for chunk in totals.chunks(rows_per_statement(per_row)) {
        let sql = format!(
            "INSERT INTO inboxes (user_id, counts_version, {UNREAD_COLUMNS}) VALUES {} \
             ON CONFLICT (user_id) DO UPDATE SET counts_version = inboxes.counts_version + excluded.counts_version, \
             {} RETURNING user_id, counts_version, {UNREAD_COLUMNS}",
            value_rows(chunk.len(), per_row, ""),
            added.join(", ")
        );
        let mut statement = query(sql);
        for (user, (versions, deltas)) in chunk {
            statement = statement.bind(*user).bind(*versions);
            for delta in deltas {
                statement = statement.bind(*delta);
            }
        }
        for row in conn.fetch_all(statement).await? {
            after.insert(row.try_get("user_id")?, counts_from(&row)?);
        }
    }
    // Backwards from each inbox's final counts: the counts after a
    // notification are the final ones less what the later ones added.
    let mut counts = Vec::with_capacity(bumps.len());
    for (notification, delta) in bumps.iter().rev() {
        let current = after
            .get_mut(notification.user_id.as_str())
            .ok_or_else(|| StoreError::Corrupt(format!("no inbox for {}", notification.user_id)))?;
        counts.push(current.clone());
        let by_category = current.by_category.get_mut(notification.category);
        let delta = u64::try_from(*delta).map_err(|_| StoreError::Corrupt(format!("unread delta {delta}")))?;
        *by_category = by_category
            .checked_sub(delta)
            .ok_or_else(|| StoreError::Corrupt(format!("unread counts of {} below zero", notification.user_id)))?;
        current.total -= delta;
        current.counts_version -= 1;
    }
    counts.reverse();
    Ok(counts)
}

fn category_index(category: Category) -> usize {
    Category::ALL.iter().position(|c| *c == category).unwrap_or_default()
}

/// What the rules need to know about an event besides itself: the mission's
/// owner, title and watchers, the workstation's owner, the actor's name.
pub(super) async fn rule_context(conn: &mut dyn Exec, event: &EventEnvelope) -> StoreResult<RuleContext> {
    let mut rule_ctx = RuleContext::default();
    match event.subject.kind {
        SubjectKind::Mission => {
            let id = MissionId::from_trusted(event.subject.id.clone());
            let mission = query("SELECT owner_id, title FROM missions WHERE id = $1").bind(id.as_str());
            if let Some(row) = conn.fetch_optional(mission).await? {
                rule_ctx.mission_owner = Some(UserId::from_trusted(row.try_get("owner_id")?));
                rule_ctx.mission_title = Some(row.try_get("title")?);
            }
            let watchers =
                query("SELECT user_id FROM mission_watchers WHERE mission_id = $1 ORDER BY user_id").bind(id.as_str());
            rule_ctx.mission_watchers = conn
                .fetch_all(watchers)
                .await?
                .iter()
                .map(|row| row.try_get("user_id").map(UserId::from_trusted))
                .collect::<StoreResult<_>>()?;
        }
        SubjectKind::Workstation => {
            let id = WorkstationId::from_trusted(event.subject.id.clone());
            let owner = query("SELECT owner_id FROM workstations WHERE id = $1").bind(id.as_str());
            rule_ctx.workstation_owner = match conn.fetch_optional(owner).await? {
                Some(row) => Some(UserId::from_trusted(row.try_get("owner_id")?)),
                None => None,
            };
        }
        _ => {}
    }
    if let Some(actor) = event.actor.user_id() {
        let name = query("SELECT display_name FROM users WHERE id = $1").bind(actor.as_str());
        rule_ctx.actor_name = match conn.fetch_optional(name).await? {
            Some(row) => Some(row.try_get("display_name")?),
            None => None,
        };
    }
    Ok(rule_ctx)
}

/// Runs the notification rules for an event inside its transaction.
pub(super) async fn derive(conn: &mut WriteTx, ctx: &WriteContext, event: &EventEnvelope) -> StoreResult<()> {
    let rule_ctx = rule_context(conn, event).await?;
    // Users in a fixed order, so transactions notifying the same people lock their
    // inboxes in the same order and cannot deadlock on PostgreSQL.
    let subject_key = match event.subject.kind {
        SubjectKind::Mission => Some(format!("mission:{}", event.subject.id)),
        SubjectKind::Workstation => Some(format!("workstation:{}", event.subject.id)),
        _ => None,
    };
    let mut drafts = notifications_for(event, &rule_ctx);
    drafts.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let news = drafts
        .into_iter()
        .map(|draft| Insert {
            ctx,
            draft,
            source_event_id: Some(event.id.to_string()),
            subject_key: subject_key.clone(),
            created_by: None,
            idempotency: None,
        })
        .collect();
    insert_many(conn, news, event.ts).await?;
    Ok(())
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn create_notification(
        &self,
        ctx: &WriteContext,
        new: NewNotification,
    ) -> StoreResult<(NotificationView, bool)> {
        self.create_direct_notification(ctx, new).await
    }

    async fn notification(&self, user: &UserId, id: &NotificationId) -> StoreResult<Option<NotificationView>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1 AND user_id = $2"))
            .bind(id.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.map(Row::Any).as_ref().map(notification_from).transpose()
    }

    async fn notifications(&self, user: &UserId, filter: &NotificationFilter) -> StoreResult<Vec<NotificationView>> {
        let mut sql = format!("SELECT {COLUMNS} FROM notifications WHERE user_id = $1");
        let mut n = 1;
        if filter.category.is_some() {
            n += 1;
            sql.push_str(&format!(" AND category = ${n}"));
        }
        if filter.unread_only {
            sql.push_str(" AND read_at IS NULL");
        }
        sql.push_str(match filter.state {
            InboxState::Inbox => " AND snoozed_until IS NULL AND done_at IS NULL",
            InboxState::Snoozed => " AND snoozed_until IS NOT NULL",
            InboxState::Done => " AND done_at IS NOT NULL",
            InboxState::All => "",
        });
        if filter.before.is_some() {
            n += 1;
            sql.push_str(&format!(" AND id < ${n}"));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut query = sqlx::query(&sql).bind(user.as_str());
        if let Some(category) = filter.category {
            query = query.bind(category.as_str());
        }
        if let Some(before) = &filter.before {
            query = query.bind(before.as_str());
        }
        let rows = query.bind(filter.limit).fetch_all(&self.read).await?;
        rows.into_iter().map(|row| notification_from(&Row::Any(row))).collect()
    }

    async fn set_read(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        read: bool,
    ) -> StoreResult<NotificationView> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let change = if read {
            query(format!(
                "UPDATE notifications SET read_at = $1, version = version + 1 \
                 WHERE id = $2 AND user_id = $3 AND read_at IS NULL RETURNING {COLUMNS}"
            ))
            .bind(now)
            .bind(id.as_str())
            .bind(user.as_str())
        } else {
            // Unread also brings a snoozed or done notification back into the inbox:
            // an unread notification is always one the inbox shows and counts.
            query(format!(
                "UPDATE notifications SET read_at = NULL, snoozed_until = NULL, done_at = NULL, \
                 version = version + 1 \
                 WHERE id = $1 AND user_id = $2 AND read_at IS NOT NULL RETURNING {COLUMNS}"
            ))
            .bind(id.as_str())
            .bind(user.as_str())
        };
        let changed = tx.fetch_optional(change).await?;
        let Some(row) = changed else {
            // Already in the asked state (or not this user's): nothing changes,
            // no event. What this transaction saw may be another request's
            // write of the same commit group: answer once that is committed.
            self.commit_with_events(tx).await?;
            return self.notification(user, id).await?.ok_or(StoreError::NotFound);
        };
        let notification = notification_from(&row)?;
        let unread = bump_counts(&mut tx, user, notification.category, if read { -1 } else { 1 }).await?;
        let change = NotificationChanged { user_id: user.clone(), notification: notification.clone(), unread };
        append_event_only(
            &mut tx,
            ctx,
            Subject { kind: SubjectKind::Notification, id: notification.id.to_string() },
            notification.version,
            if read { EventPayload::NotificationRead(change) } else { EventPayload::NotificationUnread(change) },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(notification)
    }

    async fn read_all(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        category: Option<Category>,
        watermark_ms: i64,
    ) -> StoreResult<(u64, UnreadCounts)> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let mut sql = "UPDATE notifications SET read_at = $1, version = version + 1 \
                       WHERE user_id = $2 AND read_at IS NULL AND created_at <= $3"
            .to_owned();
        if category.is_some() {
            sql.push_str(" AND category = $4");
        }
        let mut statement = query(sql).bind(now).bind(user.as_str()).bind(watermark_ms);
        if let Some(category) = category {
            statement = statement.bind(category.as_str());
        }
        let marked = tx.execute(statement).await?;
        let unread = recount(&mut tx, user).await?;
        append_event_only(
            &mut tx,
            ctx,
            Subject { kind: SubjectKind::Inbox, id: user.to_string() },
            unread.counts_version,
            EventPayload::NotificationsReadAll(InboxReadAll {
                user_id: user.clone(),
                category,
                watermark: watermark_ms,
                marked,
                unread: unread.clone(),
            }),
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok((marked, unread))
    }

    async fn unread_counts(&self, user: &UserId) -> StoreResult<UnreadCounts> {
        let mut conn = self.read.acquire().await?;
        counts_in(&mut *conn, user).await
    }

    async fn quiet_hours(&self, user: &UserId) -> StoreResult<QuietHours> {
        let mut conn = self.read.acquire().await?;
        quiet_hours_in(&mut *conn, user).await
    }

    async fn set_quiet_hours(&self, user: &UserId, quiet: &QuietHours) -> StoreResult<()> {
        let value = serde_json::to_value(quiet).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::ConfigStore::config_put(self, &user_scope(user), QUIET_KEY, &value).await
    }

    async fn set_default_quiet_hours(&self, quiet: &QuietHours) -> StoreResult<()> {
        let value = serde_json::to_value(quiet).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::ConfigStore::config_put(self, "server", DEFAULT_QUIET_KEY, &value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_columns_follow_the_categories() {
        let columns: Vec<&str> = Category::ALL.iter().map(|c| unread_column(*c)).collect();
        assert_eq!(UNREAD_COLUMNS, columns.join(", "));
    }
}
