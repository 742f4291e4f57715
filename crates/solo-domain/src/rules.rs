//! Which events notify whom. Pure functions: the store gathers the context
//! (owners, watchers) inside the event's transaction and inserts what these
//! rules return, so a notification exists exactly when its event does.
//!
//! - a stage change notifies the mission's owner and watchers;
//! - a review decision and a fallback notify the mission's owner;
//! - a workstation going degraded (warning) or offline (urgent) notifies its owner;
//! - a community post notifies the members it mentions;
//! - the actor is never notified of their own action.

use crate::event::{EventEnvelope, EventPayload};
use crate::ids::UserId;
use crate::mission::ReviewDecision;
use crate::notification::{Category, Severity};
use crate::presence::WorkstationStatus;

/// Why a user was chosen: the rule that picked them, kept with the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The mission's owner.
    Owner,
    /// A watcher of the mission.
    Watcher,
    /// Mentioned in a community post.
    Mention,
    /// The workstation's owner.
    WorkstationOwner,
    /// Created by name through the API.
    Direct,
    /// The summary of what arrived during the user's quiet hours, once they ended.
    Digest,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Owner => "owner",
            Reason::Watcher => "watcher",
            Reason::Mention => "mention",
            Reason::WorkstationOwner => "workstation_owner",
            Reason::Direct => "direct",
            Reason::Digest => "digest",
        }
    }
}

/// A notification to create for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationDraft {
    pub user_id: UserId,
    /// The rule that chose this user.
    pub reason: Reason,
    pub category: Category,
    /// The event type that caused it (e.g. `mission.stage_changed`).
    pub kind: String,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub severity: Severity,
}

/// What the rules need to know besides the event.
#[derive(Debug, Default, Clone)]
pub struct RuleContext {
    /// The mission's owner, for mission events.
    pub mission_owner: Option<UserId>,
    /// The mission's title, for mission events whose payload lacks it.
    pub mission_title: Option<String>,
    /// The mission's watchers (the owner may be among them).
    pub mission_watchers: Vec<UserId>,
    /// The workstation's owner, for workstation events.
    pub workstation_owner: Option<UserId>,
    /// The display name of the user who acted, if a user did.
    pub actor_name: Option<String>,
}

/// Whether an event type can notify anyone (so the store loads context only then).
pub fn may_notify(payload: &EventPayload) -> bool {
    matches!(
        payload,
        EventPayload::MissionStageChanged { .. }
            | EventPayload::ReviewDecided { .. }
            | EventPayload::FallbackGenerated { .. }
            | EventPayload::WorkstationStatusChanged {
                to: WorkstationStatus::Degraded | WorkstationStatus::Offline,
                ..
            }
            | EventPayload::CommunityPosted { .. }
    )
}

/// The notifications an event causes, at most one per user.
pub fn notifications_for(event: &EventEnvelope, ctx: &RuleContext) -> Vec<NotificationDraft> {
    let kind = event.payload.type_name().to_owned();
    let actor = ctx.actor_name.clone().unwrap_or_else(|| "Someone".to_owned());
    // The mission's own page: its timeline, reviews and fallbacks.
    let mission_link = format!("/missions/{}", event.subject.id);
    let title = ctx.mission_title.clone().unwrap_or_else(|| "a mission".to_owned());
    let (recipients, category, title, body, link, severity): (
        Vec<UserId>,
        _,
        String,
        Option<String>,
        Option<String>,
        _,
    ) = match &event.payload {
        EventPayload::MissionStageChanged { title, from, to, .. } => {
            let mut users: Vec<UserId> = ctx.mission_owner.iter().cloned().collect();
            users.extend(ctx.mission_watchers.iter().cloned());
            (
                users,
                Category::Missions,
                format!("“{title}” moved to {to}"),
                Some(format!("{actor} moved it from {from} to {to}.")),
                Some(mission_link),
                Severity::Info,
            )
        }
        EventPayload::ReviewDecided { decision, comment, .. } => {
            let (verb, severity) = match decision {
                ReviewDecision::Approved => ("approved", Severity::Info),
                ReviewDecision::ChangesRequested => ("asked for changes on", Severity::Warning),
                ReviewDecision::Rejected => ("rejected", Severity::Warning),
            };
            (
                ctx.mission_owner.iter().cloned().collect(),
                Category::Missions,
                format!("{actor} {verb} “{title}”"),
                comment.clone(),
                Some(mission_link),
                severity,
            )
        }
        EventPayload::FallbackGenerated { reason, summary, .. } => (
            ctx.mission_owner.iter().cloned().collect(),
            Category::Missions,
            format!("Fallback generated for “{title}”"),
            Some(format!("{reason}: {summary}")),
            Some(mission_link),
            Severity::Warning,
        ),
        EventPayload::WorkstationStatusChanged { name, to, workstation_id, .. } => {
            let severity = match to {
                WorkstationStatus::Offline => Severity::Urgent,
                WorkstationStatus::Degraded => Severity::Warning,
                WorkstationStatus::Online => return Vec::new(),
            };
            (
                ctx.workstation_owner.iter().cloned().collect(),
                Category::Workstations,
                format!("Workstation “{name}” is {to}", to = to.as_str()),
                Some(match to {
                    WorkstationStatus::Offline => "It stopped sending heartbeats.".to_owned(),
                    _ => "It missed heartbeats.".to_owned(),
                }),
                Some(format!("/workstations/{workstation_id}")),
                severity,
            )
        }
        EventPayload::CommunityPosted { mentions, body, post_id, .. } => (
            mentions.clone(),
            Category::Community,
            format!("{actor} mentioned you"),
            Some(body.chars().take(280).collect()),
            Some(format!("/community#{post_id}")),
            Severity::Info,
        ),
        _ => return Vec::new(),
    };
    let actor_id = event.actor.user_id();
    let mut seen = std::collections::HashSet::new();
    recipients
        .into_iter()
        .filter(|user| Some(user) != actor_id && seen.insert(user.clone()))
        .map(|user_id| NotificationDraft {
            reason: match &event.payload {
                EventPayload::CommunityPosted { .. } => Reason::Mention,
                EventPayload::WorkstationStatusChanged { .. } => Reason::WorkstationOwner,
                _ if ctx.mission_owner.as_ref() == Some(&user_id) => Reason::Owner,
                _ => Reason::Watcher,
            },
            user_id,
            category,
            kind: kind.clone(),
            title: title.clone(),
            body: body.clone(),
            link: link.clone(),
            severity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Subject, SubjectKind};
    use crate::ids::{MissionId, WorkspaceId, WorkstationId};
    use crate::mission::Stage;

    fn event(payload: EventPayload, actor: Actor, subject: Subject) -> EventEnvelope {
        EventEnvelope { id: uuid::Uuid::now_v7(), payload, version: 2, ts: 0, trace_id: "t".into(), actor, subject }
    }

    #[test]
    fn stage_changes_notify_owner_and_watchers_but_not_the_actor() {
        let (owner, watcher, actor) = (UserId::generate(), UserId::generate(), UserId::generate());
        let mission = MissionId::generate();
        let e = event(
            EventPayload::MissionStageChanged {
                workspace_id: WorkspaceId::generate(),
                title: "Ship".into(),
                from: Stage::Build,
                to: Stage::Review,
            },
            Actor::User { id: actor.clone() },
            Subject { kind: SubjectKind::Mission, id: mission.to_string() },
        );
        let ctx = RuleContext {
            mission_owner: Some(owner.clone()),
            mission_watchers: vec![owner.clone(), watcher.clone(), actor.clone()],
            actor_name: Some("Ada".into()),
            ..RuleContext::default()
        };
        let drafts = notifications_for(&e, &ctx);
        let users: Vec<&UserId> = drafts.iter().map(|d| &d.user_id).collect();
        assert_eq!(users, vec![&owner, &watcher]);
        assert_eq!(drafts[0].title, "“Ship” moved to review");
        assert_eq!(drafts[0].category, Category::Missions);
        // The owner acting on their own mission hears nothing.
        let own = event(e.payload.clone(), Actor::User { id: owner.clone() }, e.subject.clone());
        let ctx =
            RuleContext { mission_owner: Some(owner.clone()), mission_watchers: vec![owner], ..RuleContext::default() };
        assert!(notifications_for(&own, &ctx).is_empty());
    }

    #[test]
    fn workstation_transitions_notify_the_owner_with_rising_severity() {
        let owner = UserId::generate();
        let ws = WorkstationId::generate();
        let make = |to| {
            event(
                EventPayload::WorkstationStatusChanged {
                    workspace_id: WorkspaceId::generate(),
                    workstation_id: ws.clone(),
                    name: "rig".into(),
                    from: WorkstationStatus::Online,
                    to,
                },
                Actor::System,
                Subject { kind: SubjectKind::Workstation, id: ws.to_string() },
            )
        };
        let ctx = RuleContext { workstation_owner: Some(owner.clone()), ..RuleContext::default() };
        assert_eq!(notifications_for(&make(WorkstationStatus::Degraded), &ctx)[0].severity, Severity::Warning);
        assert_eq!(notifications_for(&make(WorkstationStatus::Offline), &ctx)[0].severity, Severity::Urgent);
        assert!(notifications_for(&make(WorkstationStatus::Online), &ctx).is_empty());
        assert!(may_notify(&make(WorkstationStatus::Offline).payload));
        assert!(!may_notify(&make(WorkstationStatus::Online).payload));
    }
}
