//! `GET /api/notifications/{id}/explain`: why the caller has this
//! notification, from the decision record kept with it: the event that caused
//! it, the rule that chose them, what their quiet hours decided, and whether
//! later events replaced it. `GET /api/events/{id}/explain?user=NAME`: what an
//! event did for one member, and why it did not notify them when it did not.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use solo_domain::notification::MissionRule;
use solo_domain::{Actor, EventPayload, NotificationId, UserId, WorkspaceId};
use solo_store::{EventOutcome, Role};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiPath, ApiQuery};
use crate::routes::notifications::notification_id;
use crate::state::AppState;

/// The event a notification came from.
#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ExplainedEvent {
    #[ts(type = "string")]
    id: uuid::Uuid,
    #[serde(rename = "type")]
    kind: String,
    trace_id: String,
    ts: String,
    actor: Actor,
}

/// Why the caller has a notification.
#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    notification_id: NotificationId,
    /// The event that caused it: null for one sent by name, or once the event log no longer keeps it.
    event: Option<ExplainedEvent>,
    /// The rule that chose the caller: `owner`, `watcher`, `mention`,
    /// `workstation_owner`, `direct` or `digest`; null for a notification older than decision records.
    rule: Option<String>,
    /// What the quiet hours decided: `toast`, `quiet` or `urgent_bypass`.
    delivery: Option<String>,
    /// The quiet-hours window consulted (`22:00-07:00 Europe/Paris`), when the caller had one on.
    quiet_hours: Option<String>,
    /// How many later events about the same subject replaced it while unread.
    updates: i64,
    /// The same, in sentences.
    summary: Vec<String>,
}

fn sentences(e: &Explanation) -> Vec<String> {
    let mut out = Vec::new();
    match &e.event {
        Some(event) => out.push(format!("Caused by {} (event {}, trace {}).", event.kind, event.id, event.trace_id)),
        None if matches!(e.rule.as_deref(), Some("direct" | "digest")) => {}
        None => out.push("The event that caused it is no longer in the event log.".to_owned()),
    }
    out.push(
        match e.rule.as_deref() {
            Some("owner") => "You own the mission.",
            Some("watcher") => "You watch the mission.",
            Some("mention") => "You were mentioned.",
            Some("workstation_owner") => "You own the workstation.",
            Some("direct") => "It was sent to you by name.",
            Some("digest") => "Your quiet hours ended: it sums up what arrived quietly during them.",
            _ => "It predates decision records: no rule is recorded.",
        }
        .to_owned(),
    );
    let window = e.quiet_hours.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
    match e.delivery.as_deref() {
        Some("quiet") => out.push(format!("It arrived in your quiet hours{window}: pushed quietly, no toast or bell.")),
        Some("urgent_bypass") => out.push(format!(
            "It arrived in your quiet hours{window}, but it is urgent and they let urgent ones through: pushed with a toast."
        )),
        Some(_) if e.quiet_hours.is_some() => out.push(format!("Outside your quiet hours{window}: pushed with a toast.")),
        Some(_) => out.push("You had no quiet hours: pushed with a toast.".to_owned()),
        None => {}
    }
    if e.updates > 0 {
        out.push(format!(
            "Later events about the same subject replaced it {} time{} while it was unread (see its history).",
            e.updates,
            if e.updates == 1 { "" } else { "s" }
        ));
    }
    out
}

/// Why the caller has this notification (the decision record kept with it).
#[utoipa::path(get, path = "/api/notifications/{id}/explain", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = Explanation), (status = 404, body = ErrorBody)))]
pub async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Explanation>> {
    caller.require_scope(scopes::READ)?;
    let id = notification_id(&id)?;
    let notification =
        state.store().notification(&caller.user.id, &id).await?.ok_or(ApiError::NotFound("notification"))?;
    let record = state.store().decision(&caller.user.id, &id).await?.flatten().unwrap_or_default();
    let event = match notification.source_event_id {
        Some(source) => state.store().event_by_id(&source).await?.map(|e| ExplainedEvent {
            id: e.id,
            kind: e.payload.type_name().to_owned(),
            trace_id: e.trace_id.clone(),
            ts: solo_domain::time::format_ms(e.ts),
            actor: e.actor.clone(),
        }),
        None => None,
    };
    let text = |key: &str| record[key].as_str().map(str::to_owned);
    let mut explanation = Explanation {
        notification_id: id,
        event,
        rule: text("rule"),
        delivery: text("delivery"),
        quiet_hours: text("quietHours"),
        updates: notification.updates,
        summary: Vec::new(),
    };
    explanation.summary = sentences(&explanation);
    Ok(Json(explanation))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventExplainQuery {
    /// Whose side to explain, by user name (default: the caller). Another
    /// member's needs the caller to be an admin of the event's workspace.
    user: Option<String>,
}

/// What an event did for one user.
#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct EventExplanation {
    #[ts(type = "string")]
    event_id: uuid::Uuid,
    #[serde(rename = "type")]
    kind: String,
    user_id: UserId,
    /// `sent`, `superseded`, `never_notifies`, `own_action`, `not_chosen`,
    /// `muted`, `urgent_only`, `inbox_off` or `different_then`.
    outcome: String,
    /// The notification it made (for `sent` and `superseded`).
    notification_id: Option<NotificationId>,
    /// The same, in sentences.
    summary: Vec<String>,
}

/// The workspace an event belongs to, for the events that have one.
fn workspace_of(payload: &EventPayload) -> Option<&WorkspaceId> {
    use EventPayload as P;
    match payload {
        P::MissionCreated { workspace_id, .. }
        | P::MissionStageChanged { workspace_id, .. }
        | P::ReviewDecided { workspace_id, .. }
        | P::FallbackGenerated { workspace_id, .. }
        | P::WorkstationCreated { workspace_id, .. }
        | P::WorkstationHeartbeat { workspace_id, .. }
        | P::WorkstationStatusChanged { workspace_id, .. }
        | P::AgentStatusChanged { workspace_id, .. }
        | P::CommunityPosted { workspace_id, .. } => Some(workspace_id),
        _ => None,
    }
}

/// Why an event did, or did not, notify someone: the notification it made, or
/// the reason it made none, by the rules and that person's preferences as they
/// are now.
#[utoipa::path(get, path = "/api/events/{id}/explain", tag = "notifications", params(("id" = String, Path), EventExplainQuery),
    responses((status = 200, body = EventExplanation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn explain_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<EventExplainQuery>,
) -> ApiResult<Json<EventExplanation>> {
    caller.require_scope(scopes::READ)?;
    let event_id: uuid::Uuid = id.parse().map_err(|_| ApiError::NotFound("event"))?;
    let event = state.store().event_by_id(&event_id).await?.ok_or(ApiError::NotFound("event"))?;
    // Only events of a workspace the caller is in; others are as missing as unknown ones.
    let workspace = workspace_of(&event.payload).ok_or(ApiError::NotFound("event"))?;
    let role = caller.role_in(&state, workspace, "event").await?;
    let user = match query.user.as_deref() {
        None => caller.user.clone(),
        Some(name) => state.store().user_by_name(name).await?.ok_or(ApiError::NotFound("user"))?,
    };
    if user.id != caller.user.id {
        state.store().role_in(&user.id, workspace).await?.ok_or(ApiError::NotFound("user"))?;
        if role != Role::Admin {
            return Err(ApiError::Forbidden(
                "explaining another member's notifications needs a workspace admin".into(),
            ));
        }
    }
    let outcome = state.store().event_outcome(&user.id, &event).await?;
    let kind = event.payload.type_name();
    let who = if user.id == caller.user.id { "you".to_owned() } else { user.name.clone() };
    let (code, notification_id, sentence) = match outcome {
        EventOutcome::Sent(n) => ("sent", Some(n), format!("It notified {who}.")),
        EventOutcome::Superseded(n) => (
            "superseded",
            Some(n),
            format!("It notified {who}; a later event about the same subject replaced that notification."),
        ),
        EventOutcome::NeverNotifies => ("never_notifies", None, format!("Events of type {kind} notify nobody.")),
        EventOutcome::OwnAction => {
            ("own_action", None, format!("{who} did it: nobody is notified of their own action."))
        }
        EventOutcome::NotChosen => (
            "not_chosen",
            None,
            format!("No rule chose {who}: not the owner or a watcher of its mission or workstation, nor mentioned."),
        ),
        EventOutcome::Muted(MissionRule::Mute) => ("muted", None, format!("{who} muted its mission.")),
        EventOutcome::Muted(MissionRule::UrgentOnly) => (
            "urgent_only",
            None,
            format!("{who} let only urgent notifications of its mission through, and it was not urgent."),
        ),
        EventOutcome::InboxOff(category) => {
            ("inbox_off", None, format!("{who} switched the inbox off for {} notifications.", category.as_str()))
        }
        EventOutcome::DifferentThen => (
            "different_then",
            None,
            format!("By the rules and preferences of now it would notify {who}; they were different when it happened."),
        ),
    };
    let mut sentence = sentence;
    if let Some(first) = sentence.get(..1) {
        sentence = format!("{}{}", first.to_uppercase(), &sentence[1..]);
    }
    Ok(Json(EventExplanation {
        event_id,
        kind: kind.to_owned(),
        user_id: user.id,
        outcome: code.to_owned(),
        notification_id,
        summary: vec![sentence],
    }))
}
