//! The HTTP API: one module per resource, one router, one OpenAPI document
//! generated from the handlers' annotations.

pub mod auth;
pub mod community;
pub mod events;
pub mod explain;
pub mod health;
pub mod inbox_state;
pub mod mission_rules;
pub mod missions;
pub mod notification_history;
pub mod notifications;
pub mod tokens;
pub mod web;
pub mod workspaces;
pub mod workstations;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Solo Realtime API", description = "Presence, mission events and notifications for Solo. Errors are `{code, message}`; list endpoints support `ETag`/`If-None-Match` and send `X-Poll-Interval`."),
    paths(
        health::healthz, health::readyz, health::metrics,
        auth::login, auth::logout, auth::me,
        tokens::list, tokens::create, tokens::revoke,
        missions::list, missions::create, missions::get, missions::change_stage,
        missions::create_review, missions::create_fallback, missions::watch, missions::unwatch,
        workstations::list, workstations::create, workstations::get, workstations::heartbeat, workstations::presence,
        community::list, community::create,
        events::list,
        notifications::list, notifications::create, notifications::read, notifications::unread,
        notifications::read_all, notifications::unread_count,
        notifications::get_preferences, notifications::put_preferences,
        inbox_state::snooze, inbox_state::wake, inbox_state::done, inbox_state::undone,
        notification_history::history, explain::explain, explain::explain_event, mission_rules::set_rule, mission_rules::set_surfaces,
        workspaces::get_config, workspaces::put_config,
        crate::realtime::connection_token,
    ),
    components(schemas(crate::error::ErrorBody, solo_domain::EventEnvelope)),
    modifiers(&SecurityAddon, &CommonErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("solo_pat_…").build()),
        );
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("solo_session"))));
    }
}

/// Adds the error answers every operation can give, from the layers all
/// handlers share (authentication, rate limits, body and query extraction,
/// the store), so each handler's annotation lists only its own outcomes.
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, ParameterIn};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                // `security(())` marks the public operations (sign-in, health, metrics).
                let public = operation.security.as_ref().is_some_and(|s| {
                    s.iter().all(|r| serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty())))
                });
                let has_query = operation
                    .parameters
                    .as_ref()
                    .is_some_and(|ps| ps.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query)));
                let mut add = |status: &str, description: &str| {
                    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
                };
                if operation.request_body.is_some() {
                    add("400", "the body is not valid JSON");
                    add("413", "the body is larger than the configured limit");
                    add("415", "the body is not `application/json`");
                    add("422", "the body's content is invalid");
                }
                if has_query {
                    add("400", "a query parameter is malformed or unknown");
                }
                add("429", "too many requests (per token, or failed authentications per address); see `Retry-After`");
                if public {
                    continue;
                }
                add("401", "no valid credentials");
                add("403", "the token lacks the scope, or a cookie-authenticated change lacks `X-CSRF-Token`");
                if path.contains('{') || operation.request_body.is_some() || has_query {
                    add("404", "no such resource, or not visible to the caller");
                }
                add("503", "the database is busy or unavailable: nothing was done; see `Retry-After`");
                if !matches!(method, HttpMethod::Get) {
                    add("507", "the server's storage is full: nothing was saved");
                }
            }
        }
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn api_not_found(method: Method) -> Response {
    let _ = method;
    ApiError::NotFound("route").into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// Every HTTP route of the API, and the web UI for every other path (the
/// WebSocket endpoint is added by the caller).
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", delete(tokens::revoke))
        .route("/api/missions", get(missions::list).post(missions::create))
        .route("/api/missions/{id}", get(missions::get))
        .route("/api/missions/{id}/stage", post(missions::change_stage))
        .route("/api/missions/{id}/reviews", post(missions::create_review))
        .route("/api/missions/{id}/fallbacks", post(missions::create_fallback))
        .route("/api/missions/{id}/watch", post(missions::watch).delete(missions::unwatch))
        .route("/api/workstations", get(workstations::list).post(workstations::create))
        .route("/api/workstations/{id}", get(workstations::get))
        .route("/api/workstations/{id}/heartbeat", post(workstations::heartbeat))
        .route("/api/presence", get(workstations::presence))
        .route("/api/community/posts", get(community::list).post(community::create))
        .route("/api/events", get(events::list))
        .route("/api/events/{id}/explain", get(explain::explain_event))
        .route("/api/notifications", get(notifications::list).post(notifications::create))
        .route("/api/notifications/read-all", post(notifications::read_all))
        .route("/api/notifications/unread-count", get(notifications::unread_count))
        .route("/api/notifications/{id}/read", post(notifications::read))
        .route("/api/notifications/{id}/unread", post(notifications::unread))
        .route("/api/notifications/{id}/history", get(notification_history::history))
        .route("/api/notifications/{id}/explain", get(explain::explain))
        .route("/api/notifications/{id}/snooze", post(inbox_state::snooze))
        .route("/api/notifications/{id}/wake", post(inbox_state::wake))
        .route("/api/notifications/{id}/done", post(inbox_state::done))
        .route("/api/notifications/{id}/undone", post(inbox_state::undone))
        .route("/api/me/preferences", get(notifications::get_preferences).put(notifications::put_preferences))
        .route("/api/me/preferences/missions/{id}", axum::routing::put(mission_rules::set_rule))
        .route("/api/me/preferences/surfaces", axum::routing::put(mission_rules::set_surfaces))
        .route("/api/workspaces/{id}/config", get(workspaces::get_config).put(workspaces::put_config))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(web::ui)
}
