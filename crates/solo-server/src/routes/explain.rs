//! `GET /api/notifications/{id}/explain`: why the caller has this
//! notification, from the decision record kept with it: the event that caused
//! it, the rule that chose them, what their quiet hours decided, and whether
//! later events replaced it.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use solo_domain::{Actor, NotificationId};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::ApiPath;
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
    /// `workstation_owner` or `direct`; null for a notification older than decision records.
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
        None if e.rule.as_deref() == Some("direct") => {}
        None => out.push("The event that caused it is no longer in the event log.".to_owned()),
    }
    out.push(
        match e.rule.as_deref() {
            Some("owner") => "You own the mission.",
            Some("watcher") => "You watch the mission.",
            Some("mention") => "You were mentioned.",
            Some("workstation_owner") => "You own the workstation.",
            Some("direct") => "It was sent to you by name.",
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
    let id = NotificationId::parse(&id).map_err(|_| ApiError::NotFound("notification"))?;
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
