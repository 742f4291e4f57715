//! The `Store` seam: everything Solo keeps, behind narrow traits named in domain terms.
//!
//! - [`records`]: what the store hands back (plain data, not the wire format).
//! - [`AccountStore`]: users, workspaces, memberships, sessions, personal access tokens.
//! - [`MissionStore`]: missions, watchers, reviews, fallbacks.
//! - [`WorkstationStore`]: workstations, agents, heartbeats and the presence sweep.
//! - [`CommunityStore`]: community posts.
//! - [`EventStore`]: the event log, channel streams and the transactional outbox.
//! - [`ConfigStore`]: small keyed documents (preferences, workspace settings, server secrets).
//! - [`NotificationStore`]: inboxes, read state, unread counts, quiet hours.
//! - [`sql::SqlStore`]: the implementation, on SQLite (embedded) or PostgreSQL (cluster).
//!
//! The invariant every mutating method keeps: the new state, its event and the
//! event's channel offsets are written in ONE transaction. Nothing is published
//! that was not committed; the dispatcher publishes what was committed.

pub mod backup;
pub mod database_lock;
pub mod handoff;
pub mod records;
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use solo_domain::event::AgentState;
use solo_domain::notification::{NotificationView, UnreadCounts};
use solo_domain::{
    Actor, Category, Channel, EventEnvelope, MissionId, NotificationId, QuietHours, ReviewDecision, Stage, TokenId,
    UserId, WorkspaceConfig, WorkspaceId, WorkstationId,
};
use thiserror::Error;
use tokio::sync::Notify;

pub use handoff::{CommittedEvents, Taken};
pub use records::*;
pub use sql::SqlStore;

/// Errors of the store, precise enough for the API to pick a status code.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("the {subject} is at version {current}, not {expected}")]
    VersionMismatch { subject: &'static str, current: i64, expected: i64 },
    #[error(transparent)]
    InvalidTransition(#[from] solo_domain::mission::InvalidTransition),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("the database is unavailable or failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The commit of a group of writes failed (on SQLite, see `sql::group_commit`):
    /// every request of the group gets the same cause, and none of their writes is kept.
    #[error("the database could not commit the write: {0}")]
    GroupCommit(Arc<sqlx::Error>),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("stored data could not be decoded: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Why the database cannot take a request right now; the request may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailability {
    /// Locked by another writer past the busy timeout, or the pool is exhausted.
    Busy,
    /// The disk (or the database's size limit) is full: nothing was written.
    StorageFull,
    /// Unreachable, closed or failing I/O.
    Unreachable,
}

impl StoreError {
    /// Whether the database is busy, full or unreachable, so callers answer
    /// "retry later" rather than "internal error". `None` for everything else.
    pub fn unavailability(&self) -> Option<Unavailability> {
        let e = match self {
            StoreError::Database(e) => e,
            StoreError::GroupCommit(e) => e.as_ref(),
            _ => return None,
        };
        match e {
            sqlx::Error::PoolTimedOut => Some(Unavailability::Busy),
            sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Some(Unavailability::Unreachable),
            sqlx::Error::Database(db) => {
                // SQLite primary result codes (the low byte of extended ones) and
                // PostgreSQL SQLSTATEs; the message is the fallback.
                let code = db.code().unwrap_or_default();
                let sqlite_primary = code.parse::<u32>().ok().map(|c| c & 0xff);
                let message = db.message();
                if sqlite_primary == Some(13) || code == "53100" || message.contains("disk is full") {
                    Some(Unavailability::StorageFull)
                } else if matches!(sqlite_primary, Some(5 | 6))
                    || matches!(code.as_ref(), "55P03" | "57P03" | "53300")
                    || message.contains("database is locked")
                {
                    Some(Unavailability::Busy)
                } else if sqlite_primary == Some(10)
                    // PostgreSQL shutting down or restarting under the connection
                    // (admin_shutdown, crash_shutdown), or a connection exception.
                    || matches!(code.as_ref(), "57P01" | "57P02")
                    || code.starts_with("08")
                {
                    Some(Unavailability::Unreachable)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Who is making a change, under which trace: recorded in the change's event.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub actor: Actor,
    pub trace_id: String,
}

impl WriteContext {
    pub fn user(id: UserId, trace_id: impl Into<String>) -> Self {
        Self { actor: Actor::User { id }, trace_id: trace_id.into() }
    }

    pub fn system(trace_id: impl Into<String>) -> Self {
        Self { actor: Actor::System, trace_id: trace_id.into() }
    }
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates the workspace if no workspace has that slug; returns it either way.
    async fn ensure_workspace(&self, slug: &str, name: &str) -> StoreResult<Workspace>;
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;
    async fn set_password_hash(&self, user: &UserId, hash: &str) -> StoreResult<()>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// Adds or updates a membership.
    async fn set_membership(&self, workspace: &WorkspaceId, user: &UserId, role: Role) -> StoreResult<()>;
    async fn remove_membership(&self, workspace: &WorkspaceId, user: &UserId) -> StoreResult<bool>;
    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<Membership>>;
    async fn role_in(&self, user: &UserId, workspace: &WorkspaceId) -> StoreResult<Option<Role>>;
    async fn workspace_members(&self, workspace: &WorkspaceId) -> StoreResult<Vec<User>>;

    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// A live (unexpired) session by the hash of its cookie value.
    async fn session_by_hash(&self, token_hash: &str, now_ms: i64) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn delete_expired_sessions(&self, now_ms: i64) -> StoreResult<u64>;

    async fn create_access_token(&self, token: &AccessToken) -> StoreResult<()>;
    async fn access_tokens_of(&self, user: &UserId) -> StoreResult<Vec<AccessToken>>;
    /// A token by the SHA-256 hash of its secret, whatever its state (the caller checks expiry and revocation).
    async fn access_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<AccessToken>>;
    async fn access_token_by_id(&self, id: &TokenId) -> StoreResult<Option<AccessToken>>;
    /// Revokes the user's token; false when it does not exist or is not theirs.
    async fn revoke_access_token(&self, user: &UserId, id: &TokenId, now_ms: i64) -> StoreResult<bool>;
    async fn touch_access_token(&self, id: &TokenId, now_ms: i64) -> StoreResult<()>;
    /// A counter that grows whenever access is taken away (a token revoked, a session
    /// ended, a membership removed), so every node can re-check its live connections.
    async fn auth_generation(&self) -> StoreResult<i64>;
}

#[async_trait]
pub trait MissionStore: Send + Sync {
    async fn create_mission(&self, ctx: &WriteContext, new: NewMission) -> StoreResult<Mission>;
    async fn mission(&self, id: &MissionId) -> StoreResult<Option<Mission>>;
    async fn missions_in(&self, workspaces: &[WorkspaceId], stage: Option<Stage>) -> StoreResult<Vec<Mission>>;
    /// A page of missions, newest first (by creation, then id): at most `limit`
    /// created before `before` (a mission's `(created_at, id)`), or the newest
    /// when `before` is None. Keyed on what never changes, so paging while
    /// missions move between stages neither skips nor repeats one.
    ///
    /// This default pages [`MissionStore::missions_in`] in memory; the SQL
    /// store answers it with a keyset query.
    async fn missions_page(
        &self,
        workspaces: &[WorkspaceId],
        stage: Option<Stage>,
        before: Option<(i64, MissionId)>,
        limit: usize,
    ) -> StoreResult<Vec<Mission>> {
        let mut all = self.missions_in(workspaces, stage).await?;
        all.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
        Ok(all
            .into_iter()
            .filter(|m| before.as_ref().is_none_or(|(at, id)| (m.created_at, m.id.as_str()) < (*at, id.as_str())))
            .take(limit)
            .collect())
    }
    /// Moves a mission to a stage; with `expected_version`, refuses if the mission changed meanwhile.
    async fn change_stage(
        &self,
        ctx: &WriteContext,
        id: &MissionId,
        to: Stage,
        expected_version: Option<i64>,
    ) -> StoreResult<Mission>;
    async fn add_review(
        &self,
        ctx: &WriteContext,
        id: &MissionId,
        reviewer: &UserId,
        decision: ReviewDecision,
        comment: Option<String>,
    ) -> StoreResult<(Mission, Review)>;
    async fn add_fallback(
        &self,
        ctx: &WriteContext,
        id: &MissionId,
        created_by: &UserId,
        reason: String,
        summary: String,
    ) -> StoreResult<(Mission, Fallback)>;
    async fn reviews_of(&self, id: &MissionId) -> StoreResult<Vec<Review>>;
    async fn set_watching(&self, id: &MissionId, user: &UserId, watching: bool) -> StoreResult<()>;
    async fn watchers_of(&self, id: &MissionId) -> StoreResult<Vec<UserId>>;
}

#[async_trait]
pub trait WorkstationStore: Send + Sync {
    async fn create_workstation(&self, ctx: &WriteContext, new: NewWorkstation) -> StoreResult<Workstation>;
    async fn workstation(&self, id: &WorkstationId) -> StoreResult<Option<Workstation>>;
    async fn workstations_in(&self, workspaces: &[WorkspaceId]) -> StoreResult<Vec<Workstation>>;
    async fn agents_of(&self, workstations: &[WorkstationId]) -> StoreResult<Vec<Agent>>;
    /// Records a heartbeat: the workstation is online, its agents as reported. Emits
    /// `workstation.heartbeat`, and a status or agent event for each transition.
    async fn record_heartbeat(
        &self,
        ctx: &WriteContext,
        id: &WorkstationId,
        agents: &[AgentState],
        now_ms: i64,
    ) -> StoreResult<Workstation>;
    /// Moves every workstation whose heartbeats stopped to the status the thresholds
    /// give, emitting `workstation.status_changed` once per transition.
    async fn sweep_workstations(
        &self,
        ctx: &WriteContext,
        policy: SweepPolicy,
        now_ms: i64,
    ) -> StoreResult<Vec<Workstation>>;
}

#[async_trait]
pub trait CommunityStore: Send + Sync {
    async fn create_post(&self, ctx: &WriteContext, new: NewPost) -> StoreResult<Post>;
    async fn posts_in(&self, workspace: &WorkspaceId, limit: i64) -> StoreResult<Vec<Post>>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Signalled after every commit that wrote an event, so the dispatcher wakes at once.
    fn outbox_signal(&self) -> Arc<Notify>;
    /// This process's committed events, handed over in memory in commit
    /// order, where commit order is `seq` order (SQLite: one writer). None
    /// where the dispatcher must read the outbox (PostgreSQL: transactions
    /// commit out of `seq` order, and other nodes commit too).
    fn committed_events(&self) -> Option<Arc<CommittedEvents>>;
    /// The oldest committed events not yet published with a `seq` above
    /// `after_seq`, in `seq` order.
    async fn unpublished_events(&self, limit: i64, after_seq: i64) -> StoreResult<Vec<OutboxEvent>>;
    async fn mark_published(&self, seqs: &[i64], now_ms: i64) -> StoreResult<()>;
    /// Marks every unpublished event up to `seq` published: for a dispatcher
    /// that knows it published all of them (see [`EventStore::committed_events`]).
    async fn mark_published_through(&self, seq: i64, now_ms: i64) -> StoreResult<()>;
    async fn unpublished_count(&self) -> StoreResult<i64>;
    /// A channel's epoch and last offset (creating the stream if it has none yet, so its
    /// epoch is stable from the first time anyone asks).
    async fn channel_position(&self, channel: &Channel) -> StoreResult<StreamPosition>;
    /// Publications of a channel after `since`, in offset order.
    async fn channel_history(&self, channel: &Channel, since: u64, limit: i64) -> StoreResult<Vec<HistoryItem>>;
    /// The oldest offset still kept for a channel (None when it has no history).
    async fn oldest_kept_offset(&self, channel: &Channel) -> StoreResult<Option<u64>>;
    /// Removes history past the retention limits, in bounded batches; returns rows removed.
    async fn trim_history(&self, policy: RetentionPolicy, now_ms: i64) -> StoreResult<u64>;
    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`, unless
    /// another holder's lease is still valid. Returns whether `holder` holds it.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64, now_ms: i64) -> StoreResult<bool>;
    /// Gives the lease up at once (when `holder` holds it), so another node need not wait for it to expire.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
    /// Events of a subject, newest first (for consoles and audit).
    async fn events_of_subject(&self, kind: &str, id: &str, limit: i64) -> StoreResult<Vec<EventEnvelope>>;
    /// Commits what a backend published through the server API as one
    /// `server.published` event on `channels` (history, offsets and outbox
    /// like every event); answers the offset and epoch it took in each channel,
    /// in the order of `publication.channels`.
    async fn append_publication(
        &self,
        ctx: &WriteContext,
        publication: solo_domain::event::ServerPublication,
    ) -> StoreResult<Vec<Route>>;
    /// Removes a channel's history, keeping its position (epoch and last
    /// offset), so clients behind it are told they cannot recover rather than
    /// silently repositioned. Returns the publications removed.
    async fn remove_history(&self, channel: &Channel) -> StoreResult<u64>;
}

#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn config_get(&self, scope: &str, key: &str) -> StoreResult<Option<serde_json::Value>>;
    async fn config_put(&self, scope: &str, key: &str, value: &serde_json::Value) -> StoreResult<()>;
    /// Inserts the value unless one exists; returns the value that is stored afterwards.
    async fn config_put_if_absent(
        &self,
        scope: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> StoreResult<serde_json::Value>;
    /// How many times the user changed their preferences (0: never): the
    /// version of their preferences, which `preferences.updated` carries.
    async fn preferences_version(&self, user: &UserId) -> StoreResult<i64>;
    /// Sets the user's quiet hours and, in the same transaction, emits
    /// `preferences.updated` on their notification channel. Returns the new version.
    async fn update_preferences(&self, ctx: &WriteContext, user: &UserId, quiet: &QuietHours) -> StoreResult<i64>;
    /// Sets (or, with None, removes) the user's rule for one mission, and in the
    /// same transaction emits `preferences.updated` with all their preferences.
    /// Returns the new version and the preferences.
    async fn set_mission_rule(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        mission: &solo_domain::MissionId,
        rule: Option<solo_domain::notification::MissionRule>,
    ) -> StoreResult<(i64, solo_domain::notification::PreferencesChanged)>;
    /// Replaces the user's surfaces per category, emitting `preferences.updated` as `set_mission_rule` does.
    async fn set_surfaces(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        surfaces: &solo_domain::notification::CategorySurfaces,
    ) -> StoreResult<(i64, solo_domain::notification::PreferencesChanged)>;
    /// Whether the user set quiet hours of their own, their rules per mission and their surfaces.
    async fn notification_preferences(
        &self,
        user: &UserId,
    ) -> StoreResult<(bool, solo_domain::notification::MissionRules, solo_domain::notification::CategorySurfaces)>;
    /// A workspace's settings and their version (0: never changed), read in
    /// one statement so the two agree.
    async fn workspace_config(&self, workspace: &WorkspaceId) -> StoreResult<(WorkspaceConfig, i64)>;
    /// Replaces a workspace's settings (an unset field is removed) and, in the
    /// same transaction, emits `config.updated` on `workspace:{id}` with the
    /// whole document. Returns the new version.
    async fn update_workspace_config(
        &self,
        ctx: &WriteContext,
        workspace: &WorkspaceId,
        config: &WorkspaceConfig,
    ) -> StoreResult<i64>;
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Creates a notification directly (not from a rule). With an idempotency key,
    /// a repeat with the same request returns the first one (`created == false`)
    /// and a repeat with a different request is refused.
    async fn create_notification(
        &self,
        ctx: &WriteContext,
        new: NewNotification,
    ) -> StoreResult<(NotificationView, bool)>;
    async fn notification(&self, user: &UserId, id: &NotificationId) -> StoreResult<Option<NotificationView>>;
    /// A page of a user's inbox, newest first.
    async fn notifications(&self, user: &UserId, filter: &NotificationFilter) -> StoreResult<Vec<NotificationView>>;
    /// Marks read or unread; emits an event only when the state changes.
    async fn set_read(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        read: bool,
    ) -> StoreResult<NotificationView>;
    /// Marks read every unread notification created up to `watermark_ms` (and of `category`).
    async fn read_all(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        category: Option<Category>,
        watermark_ms: i64,
    ) -> StoreResult<(u64, UnreadCounts)>;
    async fn unread_counts(&self, user: &UserId) -> StoreResult<UnreadCounts>;
    /// The user's quiet hours: their own, else their workspace's default, else
    /// the server default, else off.
    async fn quiet_hours(&self, user: &UserId) -> StoreResult<QuietHours>;
    async fn set_quiet_hours(&self, user: &UserId, quiet: &QuietHours) -> StoreResult<()>;
    /// Sets the default for users who set none (from the server's configuration).
    async fn set_default_quiet_hours(&self, quiet: &QuietHours) -> StoreResult<()>;
}

/// Snooze and done: where a notification is besides read or unread; and what
/// a superseded notification replaced. Each change is one transaction that emits its `notification.*` event with the
/// user's new unread counts.
#[async_trait]
pub trait InboxStateStore: Send + Sync {
    /// Snoozes until `until_ms`: out of the inbox and of the unread count (it
    /// is marked read) until then; no longer done. Snoozing again moves the time.
    async fn snooze(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        until_ms: i64,
    ) -> StoreResult<NotificationView>;
    /// Ends a snooze now: back in the inbox, unread, quiet as the user's quiet
    /// hours say now. No change (and no event) when it is not snoozed.
    async fn wake(&self, ctx: &WriteContext, user: &UserId, id: &NotificationId) -> StoreResult<NotificationView>;
    /// Marks done (out of the inbox, read, no longer snoozed) or not done (back
    /// in the inbox, still read). No change (and no event) when already so.
    async fn set_done(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        id: &NotificationId,
        done: bool,
    ) -> StoreResult<NotificationView>;
    /// Wakes up to `limit` snoozes due at `now_ms`, each in its own transaction,
    /// soonest first. Safe to run on every node at once: each is woken once.
    async fn wake_due(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<NotificationView>>;
    /// Sends up to `limit` quiet-hours digests due at `now_ms` (their window
    /// has ended), each in its own transaction: one notification per user and
    /// window that summarises what arrived quietly in it. Safe to run on every
    /// node at once: each digest is sent once.
    async fn send_due_digests(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<NotificationView>>;
    /// A notification's subject (`mission:m_…`, None for a direct one) and its
    /// source events, oldest first: those later events replaced while it was
    /// unread, then the current one. None when it is not the user's.
    async fn notification_sources(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> StoreResult<Option<(Option<String>, Vec<String>)>>;
}

/// What `explain` reads about a notification.
#[async_trait]
pub trait ExplainStore: Send + Sync {
    /// The notification's decision record (None inside: older than the record), or None when it is not the user's.
    async fn decision(&self, user: &UserId, id: &NotificationId) -> StoreResult<Option<Option<serde_json::Value>>>;
    /// One event of the log, by id, while the log keeps it.
    async fn event_by_id(&self, id: &uuid::Uuid) -> StoreResult<Option<EventEnvelope>>;
    /// What an event did for one user: the notification it made, or why it made
    /// none, by the rules and the user's preferences as they are now.
    async fn event_outcome(&self, user: &UserId, event: &EventEnvelope) -> StoreResult<EventOutcome>;
}

/// What an event did for one user (see [`ExplainStore::event_outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// It made this notification, which still shows it.
    Sent(NotificationId),
    /// It made a notification that a later event about the same subject replaced.
    Superseded(NotificationId),
    /// Events of its type notify nobody.
    NeverNotifies,
    /// The user did it: nobody is notified of their own action.
    OwnAction,
    /// No rule chose the user (not the mission's owner or a watcher, not mentioned, …).
    NotChosen,
    /// The user muted the mission (or lets only its urgent notifications through).
    Muted(solo_domain::notification::MissionRule),
    /// The user switched the inbox off for the notification's category.
    InboxOff(solo_domain::Category),
    /// By the rules and preferences of now it would notify the user; they were
    /// different when it happened (a mute since lifted, a watch since started).
    DifferentThen,
}

/// Everything Solo keeps. Implemented by [`SqlStore`]; the server holds an `Arc<dyn Store>`.
#[async_trait]
pub trait Store:
    AccountStore
    + MissionStore
    + WorkstationStore
    + CommunityStore
    + EventStore
    + ConfigStore
    + NotificationStore
    + InboxStateStore
    + ExplainStore
{
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Write groups committed since start and the requests they held, where
    /// writes are committed in groups (SQLite); None where each commits alone.
    fn group_commits(&self) -> Option<(u64, u64)> {
        None
    }
}
