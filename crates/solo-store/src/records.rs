//! Plain records returned by the store. They are not the wire format: the server
//! maps them to its API types, so the database and the API can change apart.

use solo_domain::event::AgentState;
use solo_domain::{
    AgentStatus, FallbackId, MissionId, PostId, ReviewDecision, ReviewId, Stage, TokenId, UserId, WorkspaceId,
    WorkstationId, WorkstationStatus,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// argon2id PHC string; `None` for users who sign in with tokens only.
    pub password_hash: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub display_name: String,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Membership {
    pub workspace: Workspace,
    pub role: Role,
}

/// A web session. Only the SHA-256 hash of the cookie value is kept.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A personal access token. Only the SHA-256 hash of its secret is kept.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mission {
    pub id: MissionId,
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub owner_id: UserId,
    pub stage: Stage,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewMission {
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub owner_id: UserId,
    pub watchers: Vec<UserId>,
}

#[derive(Debug, Clone)]
pub struct Review {
    pub id: ReviewId,
    pub mission_id: MissionId,
    pub reviewer_id: UserId,
    pub decision: ReviewDecision,
    pub comment: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Fallback {
    pub id: FallbackId,
    pub mission_id: MissionId,
    pub reason: String,
    pub summary: String,
    pub created_by: UserId,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workstation {
    pub id: WorkstationId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub owner_id: UserId,
    pub status: WorkstationStatus,
    pub version: i64,
    pub last_heartbeat_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewWorkstation {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub owner_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub workstation_id: WorkstationId,
    pub id: String,
    pub name: String,
    pub status: AgentStatus,
    pub mission_id: Option<MissionId>,
    pub version: i64,
    pub updated_at: i64,
}

impl Agent {
    pub fn state(&self) -> AgentState {
        AgentState {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status,
            mission_id: self.mission_id.clone(),
        }
    }
}

/// When a silent workstation turns degraded, then offline.
#[derive(Debug, Clone, Copy)]
pub struct SweepPolicy {
    pub heartbeat_interval_ms: i64,
    pub degraded_after_missed: u64,
    pub offline_after_missed: u64,
}

#[derive(Debug, Clone)]
pub struct Post {
    pub id: PostId,
    pub workspace_id: WorkspaceId,
    pub author_id: UserId,
    pub body: String,
    pub mentions: Vec<UserId>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewPost {
    pub workspace_id: WorkspaceId,
    pub author_id: UserId,
    pub body: String,
    pub mentions: Vec<UserId>,
}

/// Where a channel's stream stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPosition {
    pub epoch: String,
    pub offset: u64,
}

/// A channel and the offset an event took in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Route {
    pub channel: String,
    pub offset: u64,
    pub epoch: String,
}

/// A committed event waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub seq: i64,
    pub event_type: String,
    pub trace_id: String,
    /// The envelope's JSON, exactly as it will be delivered.
    pub envelope: String,
    pub routes: Vec<Route>,
}

/// One publication from a channel's history.
#[derive(Debug, Clone)]
pub struct HistoryItem {
    pub offset: u64,
    pub envelope: String,
}

/// How much history to keep.
#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    /// Publications kept per channel for recovery.
    pub channel_max_publications: u64,
    /// Publications older than this are dropped from channel history.
    pub channel_max_age_ms: i64,
    /// Published events older than this are dropped from the event log.
    pub events_max_age_ms: i64,
    /// Published workstation heartbeat events older than this are dropped
    /// (sooner than other events: they are most of the log and change nothing).
    pub heartbeat_events_max_age_ms: i64,
    /// Notifications read longer ago than this leave the inbox (unread ones stay).
    pub notifications_read_max_age_ms: i64,
    /// Rows removed per statement and kind in one call, so trimming never holds
    /// the writer for long; the caller calls again while rows were removed.
    pub batch: i64,
}

/// A notification created directly through the API.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: UserId,
    pub category: solo_domain::Category,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub severity: solo_domain::Severity,
    pub created_by: UserId,
    /// The caller's `Idempotency-Key` and a hash of the request it came with.
    pub idempotency: Option<(String, String)>,
}

/// Which part of an inbox to list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub category: Option<solo_domain::Category>,
    pub unread_only: bool,
    /// Only notifications older than this one (the page cursor).
    pub before: Option<solo_domain::NotificationId>,
    pub limit: i64,
    /// The inbox itself (the default), or what was snoozed or done, or everything.
    pub state: InboxState,
}

/// Where a notification is: in the inbox, snoozed, or done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InboxState {
    /// Neither snoozed nor done.
    #[default]
    Inbox,
    Snoozed,
    Done,
    /// Wherever it is.
    All,
}

impl InboxState {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "inbox" => Some(Self::Inbox),
            "snoozed" => Some(Self::Snoozed),
            "done" => Some(Self::Done),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}
