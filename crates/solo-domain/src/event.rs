//! The event envelope and every event type.
//!
//! Every state change in Solo becomes one [`EventEnvelope`], written in the same
//! transaction as the change and kept as history. Its JSON shape is the wire
//! contract of the realtime channels and of `GET /api/events`:
//!
//! ```json
//! { "id": "0193f0c2-…", "type": "mission.stage_changed", "version": 7,
//!   "ts": "2026-11-26T10:15:02.123Z", "traceId": "4bf92f35…",
//!   "actor": {"kind": "user", "id": "u_…"}, "subject": {"kind": "mission", "id": "m_…"},
//!   "data": {"from": "build", "to": "review", …} }
//! ```
//!
//! Consumers apply an event only when its `version` is newer than the subject's
//! version they hold, and drop an `id` they have already seen.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::channel::Channel;
use crate::config::WorkspaceConfigChanged;
use crate::ids::*;
use crate::mission::{ReviewDecision, Stage};
use crate::notification::{InboxReadAll, NotificationChanged, PreferencesChanged};
use crate::presence::{AgentStatus, WorkstationStatus};

/// Who caused a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in user, or a token acting for one.
    User { id: UserId },
    /// The server itself (the presence sweeper, retention, …).
    System,
}

impl Actor {
    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            Actor::User { id } => Some(id),
            Actor::System => None,
        }
    }
}

/// The kind of entity an event is about; `version` counts per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Mission,
    Workstation,
    Agent,
    Post,
    Notification,
    /// A user's whole inbox, for changes such as "mark all read".
    Inbox,
    /// A user's preferences (quiet hours); the id is the user's.
    Preferences,
    /// A workspace's settings; the id is the workspace's.
    WorkspaceConfig,
    /// One publication of the server API (`/centrifugo/api`); the id is the
    /// event's own, so every publication is its own subject at version 1.
    Publication,
}

/// The entity an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: String,
}

/// One agent's state as reported in a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub id: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    pub status: AgentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission_id: Option<MissionId>,
}

/// The type and data of an event. Serialized as `"type": "…", "data": {…}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(tag = "type", content = "data")]
pub enum EventPayload {
    #[serde(rename = "mission.created", rename_all = "camelCase")]
    MissionCreated { workspace_id: WorkspaceId, title: String, stage: Stage, owner_id: UserId },
    #[serde(rename = "mission.stage_changed", rename_all = "camelCase")]
    MissionStageChanged { workspace_id: WorkspaceId, title: String, from: Stage, to: Stage },
    #[serde(rename = "review.decided", rename_all = "camelCase")]
    ReviewDecided {
        workspace_id: WorkspaceId,
        review_id: ReviewId,
        reviewer_id: UserId,
        decision: ReviewDecision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    #[serde(rename = "fallback.generated", rename_all = "camelCase")]
    FallbackGenerated { workspace_id: WorkspaceId, fallback_id: FallbackId, reason: String, summary: String },
    #[serde(rename = "workstation.created", rename_all = "camelCase")]
    WorkstationCreated { workspace_id: WorkspaceId, name: String, owner_id: UserId },
    #[serde(rename = "workstation.heartbeat", rename_all = "camelCase")]
    WorkstationHeartbeat { workspace_id: WorkspaceId, status: WorkstationStatus, agents: Vec<AgentState> },
    #[serde(rename = "workstation.status_changed", rename_all = "camelCase")]
    WorkstationStatusChanged {
        workspace_id: WorkspaceId,
        workstation_id: WorkstationId,
        name: String,
        from: WorkstationStatus,
        to: WorkstationStatus,
    },
    #[serde(rename = "agent.status_changed", rename_all = "camelCase")]
    AgentStatusChanged {
        workspace_id: WorkspaceId,
        workstation_id: WorkstationId,
        agent_id: String,
        name: String,
        /// `None` when the agent is reported for the first time.
        from: Option<AgentStatus>,
        to: AgentStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mission_id: Option<MissionId>,
    },
    #[serde(rename = "community.posted", rename_all = "camelCase")]
    CommunityPosted {
        workspace_id: WorkspaceId,
        post_id: PostId,
        author_id: UserId,
        body: String,
        mentions: Vec<UserId>,
    },
    /// Notification events carry the notification and the user's new unread counts.
    #[serde(rename = "notification.created")]
    NotificationCreated(NotificationChanged),
    #[serde(rename = "notification.read")]
    NotificationRead(NotificationChanged),
    #[serde(rename = "notification.unread")]
    NotificationUnread(NotificationChanged),
    /// A later event about the same subject replaced the user's unread
    /// notification of the same type (same id, new content, `updates` + 1).
    #[serde(rename = "notification.updated")]
    NotificationUpdated(NotificationChanged),
    /// Snoozed until `notification.snoozedUntil`: out of the inbox (and of the unread count) until then.
    #[serde(rename = "notification.snoozed")]
    NotificationSnoozed(NotificationChanged),
    /// A snooze ended (its time came, or the user woke it): back in the inbox,
    /// unread; surfaces toast it again unless `notification.quiet`.
    #[serde(rename = "notification.woke")]
    NotificationWoke(NotificationChanged),
    /// Marked done: out of the inbox (read), listed under Done.
    #[serde(rename = "notification.done")]
    NotificationDone(NotificationChanged),
    /// No longer done: back in the inbox, still read.
    #[serde(rename = "notification.undone")]
    NotificationUndone(NotificationChanged),
    #[serde(rename = "notifications.read_all")]
    NotificationsReadAll(InboxReadAll),
    /// A user changed their preferences: their other tabs and CLIs apply them at once.
    #[serde(rename = "preferences.updated")]
    PreferencesUpdated(PreferencesChanged),
    /// A workspace admin changed the workspace's settings: every member's tabs
    /// and CLIs apply them at once.
    #[serde(rename = "config.updated")]
    ConfigUpdated(WorkspaceConfigChanged),
    /// A backend published through the server API: `data` is what it sent.
    #[serde(rename = "server.published")]
    ServerPublished(ServerPublication),
}

impl EventPayload {
    /// The type name of a workstation heartbeat (retention keeps these for less time).
    pub const WORKSTATION_HEARTBEAT: &'static str = "workstation.heartbeat";

    /// The event's type name, as it appears in `type` and in publication tags.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventPayload::MissionCreated { .. } => "mission.created",
            EventPayload::MissionStageChanged { .. } => "mission.stage_changed",
            EventPayload::ReviewDecided { .. } => "review.decided",
            EventPayload::FallbackGenerated { .. } => "fallback.generated",
            EventPayload::WorkstationCreated { .. } => "workstation.created",
            EventPayload::WorkstationHeartbeat { .. } => Self::WORKSTATION_HEARTBEAT,
            EventPayload::WorkstationStatusChanged { .. } => "workstation.status_changed",
            EventPayload::AgentStatusChanged { .. } => "agent.status_changed",
            EventPayload::CommunityPosted { .. } => "community.posted",
            EventPayload::NotificationCreated(_) => "notification.created",
            EventPayload::NotificationRead(_) => "notification.read",
            EventPayload::NotificationUnread(_) => "notification.unread",
            EventPayload::NotificationUpdated(_) => "notification.updated",
            EventPayload::NotificationSnoozed(_) => "notification.snoozed",
            EventPayload::NotificationWoke(_) => "notification.woke",
            EventPayload::NotificationDone(_) => "notification.done",
            EventPayload::NotificationUndone(_) => "notification.undone",
            EventPayload::NotificationsReadAll(_) => "notifications.read_all",
            EventPayload::PreferencesUpdated(_) => "preferences.updated",
            EventPayload::ConfigUpdated(_) => "config.updated",
            EventPayload::ServerPublished(_) => "server.published",
        }
    }
}

/// What a backend published through the server API (Centrifugo's `publish`
/// and `broadcast`), kept in history and delivered like every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ServerPublication {
    /// Every channel it was published on (one for `publish`, several for `broadcast`).
    pub channels: Vec<String>,
    /// The JSON the backend sent, as it sent it.
    #[ts(type = "unknown")]
    pub data: serde_json::Value,
    /// The backend's tags, if it gave any.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A versioned, traceable record of one state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    /// Unique (UUIDv7): consumers drop an id they have already applied.
    pub id: Uuid,
    #[serde(flatten)]
    pub payload: EventPayload,
    /// The subject's version after this change; strictly increasing per subject.
    pub version: i64,
    /// When the change was committed, in Unix milliseconds (RFC 3339 on the wire).
    #[serde(with = "crate::time::serde_ms")]
    #[schema(value_type = String, format = DateTime)]
    #[ts(type = "string")]
    pub ts: i64,
    /// The W3C trace id of the request that caused the change (32 hex digits).
    pub trace_id: String,
    pub actor: Actor,
    pub subject: Subject,
}

impl EventEnvelope {
    /// The channels this event is published on.
    ///
    /// Mission events go to the mission and to its workspace's board feed.
    /// Heartbeats stay on their workstation's channel (they are frequent and the
    /// board only needs transitions); status transitions also reach the
    /// workspace and, for an agent on a mission, that mission. Notification
    /// and preference events reach only their user; workspace settings reach
    /// the whole workspace.
    pub fn channels(&self) -> Vec<Channel> {
        use EventPayload as P;
        let mission = || MissionId::parse(&self.subject.id).ok().map(Channel::Mission);
        let mut out = Vec::with_capacity(3);
        match &self.payload {
            P::MissionCreated { workspace_id, .. }
            | P::MissionStageChanged { workspace_id, .. }
            | P::ReviewDecided { workspace_id, .. }
            | P::FallbackGenerated { workspace_id, .. } => {
                out.extend(mission());
                out.push(Channel::Workspace(workspace_id.clone()));
            }
            P::WorkstationCreated { workspace_id, .. } => {
                out.extend(WorkstationId::parse(&self.subject.id).ok().map(Channel::Workstation));
                out.push(Channel::Workspace(workspace_id.clone()));
            }
            P::WorkstationHeartbeat { .. } => {
                out.extend(WorkstationId::parse(&self.subject.id).ok().map(Channel::Workstation));
            }
            P::WorkstationStatusChanged { workspace_id, workstation_id, .. } => {
                out.push(Channel::Workstation(workstation_id.clone()));
                out.push(Channel::Workspace(workspace_id.clone()));
            }
            P::AgentStatusChanged { workspace_id, workstation_id, mission_id, .. } => {
                out.push(Channel::Workstation(workstation_id.clone()));
                out.push(Channel::Workspace(workspace_id.clone()));
                out.extend(mission_id.clone().map(Channel::Mission));
            }
            P::CommunityPosted { workspace_id, .. } => out.push(Channel::Workspace(workspace_id.clone())),
            P::NotificationCreated(change)
            | P::NotificationRead(change)
            | P::NotificationUnread(change)
            | P::NotificationUpdated(change)
            | P::NotificationSnoozed(change)
            | P::NotificationWoke(change)
            | P::NotificationDone(change)
            | P::NotificationUndone(change) => out.push(Channel::Notifications(change.user_id.clone())),
            P::NotificationsReadAll(read_all) => out.push(Channel::Notifications(read_all.user_id.clone())),
            P::PreferencesUpdated(changed) => out.push(Channel::Notifications(changed.user_id.clone())),
            P::ConfigUpdated(changed) => out.push(Channel::Workspace(changed.workspace_id.clone())),
            // Checked by the server API before it is written; a name that no
            // longer parses (it cannot today) is skipped rather than published.
            P::ServerPublished(publication) => {
                out.extend(publication.channels.iter().filter_map(|name| Channel::parse_any(name).ok()));
            }
        }
        out
    }
}

/// A new trace id (32 lowercase hex digits, as in W3C `traceparent`).
pub fn new_trace_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The trace id and the parent span id in a W3C `traceparent` header
/// (`00-<trace>-<span>-<flags>`), if valid.
pub fn traceparent_ids(header: &str) -> Option<(String, String)> {
    let mut parts = header.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((trace.to_owned(), span.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_event() -> EventEnvelope {
        let mission = MissionId::generate();
        EventEnvelope {
            id: Uuid::now_v7(),
            payload: EventPayload::MissionStageChanged {
                workspace_id: WorkspaceId::generate(),
                title: "Ship it".into(),
                from: Stage::Build,
                to: Stage::Review,
            },
            version: 7,
            ts: 1_795_688_102_123,
            trace_id: new_trace_id(),
            actor: Actor::User { id: UserId::generate() },
            subject: Subject { kind: SubjectKind::Mission, id: mission.to_string() },
        }
    }

    #[test]
    fn envelope_has_the_documented_shape() {
        let event = stage_event();
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["type"], "mission.stage_changed");
        assert_eq!(json["version"], 7);
        assert_eq!(json["ts"], "2026-11-26T10:15:02.123Z");
        assert_eq!(json["data"]["from"], "build");
        assert_eq!(json["data"]["to"], "review");
        assert_eq!(json["actor"]["kind"], "user");
        assert_eq!(json["subject"]["kind"], "mission");
        assert_eq!(json["traceId"].as_str().map(str::len), Some(32));
        let back: EventEnvelope = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, event);
    }

    #[test]
    fn mission_events_reach_mission_and_workspace() {
        let event = stage_event();
        let names: Vec<String> = event.channels().iter().map(ToString::to_string).collect();
        assert_eq!(names.len(), 2);
        assert!(names[0].starts_with("mission:m_"));
        assert!(names[1].starts_with("workspace:ws_"));
    }

    #[test]
    fn preference_changes_reach_only_their_user() {
        let user = UserId::generate();
        let event = EventEnvelope {
            id: Uuid::now_v7(),
            payload: EventPayload::PreferencesUpdated(PreferencesChanged {
                user_id: user.clone(),
                quiet_hours: crate::QuietHours::off(),
                quiet_hours_set: true,
                mission_rules: Default::default(),
                surfaces: Default::default(),
            }),
            version: 3,
            ts: 1_795_688_102_123,
            trace_id: new_trace_id(),
            actor: Actor::User { id: user.clone() },
            subject: Subject { kind: SubjectKind::Preferences, id: user.to_string() },
        };
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["type"], "preferences.updated");
        assert_eq!(json["subject"]["kind"], "preferences");
        assert_eq!(json["data"]["quietHours"]["enabled"], false);
        assert_eq!(json["data"]["userId"], user.to_string());
        let names: Vec<String> = event.channels().iter().map(ToString::to_string).collect();
        assert_eq!(names, vec![format!("notifications:{user}")]);
        let back: EventEnvelope = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, event);
    }

    #[test]
    fn workspace_settings_reach_the_workspace() {
        let workspace = WorkspaceId::generate();
        let event = EventEnvelope {
            id: Uuid::now_v7(),
            payload: EventPayload::ConfigUpdated(WorkspaceConfigChanged {
                workspace_id: workspace.clone(),
                config: crate::WorkspaceConfig { default_quiet_hours: Some(crate::QuietHours::off()) },
            }),
            version: 2,
            ts: 1_795_688_102_123,
            trace_id: new_trace_id(),
            actor: Actor::User { id: UserId::generate() },
            subject: Subject { kind: SubjectKind::WorkspaceConfig, id: workspace.to_string() },
        };
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["type"], "config.updated");
        assert_eq!(json["subject"]["kind"], "workspace_config");
        assert_eq!(json["data"]["workspaceId"], workspace.to_string());
        assert_eq!(json["data"]["config"]["defaultQuietHours"]["enabled"], false);
        let names: Vec<String> = event.channels().iter().map(ToString::to_string).collect();
        assert_eq!(names, vec![format!("workspace:{workspace}")]);
        let back: EventEnvelope = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, event);
    }

    #[test]
    fn traceparent_parsing() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(traceparent_ids(tp).map(|(trace, _)| trace).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(traceparent_ids("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), None);
        assert_eq!(traceparent_ids("garbage"), None);
        assert_eq!(traceparent_ids(tp).map(|(_, span)| span).as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(traceparent_ids("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), None);
    }
}
