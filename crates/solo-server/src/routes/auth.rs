//! Sign-in, sign-out and "who am I".

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use solo_domain::time::now_ms;
use solo_store::Session;

use crate::auth::caller::{cookie, CSRF_COOKIE, SESSION_COOKIE};
use crate::auth::secrets::{hash_secret, new_session_token, random_base62};
use crate::auth::{password, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::ApiJson;
use crate::http::Source;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(max_length = 256)]
    username: String,
    #[schema(max_length = 1024)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub role: &'static str,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub workspaces: Vec<WorkspaceView>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    user: Me,
    /// Send this in `X-CSRF-Token` with every state-changing request made with the session cookie.
    csrf_token: String,
}

async fn me_of(state: &AppState, user: &solo_store::User) -> ApiResult<Me> {
    let memberships = state.store().memberships_of(&user.id).await?;
    Ok(Me {
        id: user.id.to_string(),
        name: user.name.clone(),
        display_name: user.display_name.clone(),
        avatar_url: user.avatar_url.clone(),
        workspaces: memberships
            .into_iter()
            .map(|m| WorkspaceView {
                id: m.workspace.id.to_string(),
                slug: m.workspace.slug,
                name: m.workspace.name,
                role: m.role.as_str(),
            })
            .collect(),
    })
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Whether the browser reached Solo over TLS, so cookies must be `Secure`
/// (never sent over plain HTTP). Solo itself speaks plain HTTP: TLS ends at a
/// proxy, known from the public URL or from a trusted `X-Forwarded-Proto`.
fn over_tls(settings: &crate::settings::Settings, headers: &HeaderMap) -> bool {
    if let Some(forced) = settings.cookie_secure {
        return forced;
    }
    let public_https = settings
        .public_url
        .as_deref()
        .is_some_and(|url| url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")));
    let forwarded_https = settings.trust_forwarded_for
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.split(',').next_back().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")));
    public_https || forwarded_https
}

/// Signs in with a password; sets the session cookie (HttpOnly, SameSite=Lax) and a CSRF cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    if req.username.chars().count() > 256 || req.password.chars().count() > 1024 {
        return Err(ApiError::validation("username or password is too long"));
    }
    state.limits().check_source(source)?;
    let user = state.store().user_by_name(&req.username).await?;
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // Verify against a decoy when the user is unknown, so timing does not reveal who exists.
    let hash = stored_hash.clone().unwrap_or_else(|| password::decoy_hash().to_owned());
    let candidate = req.password;
    let verified = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
        .await
        .map_err(|_| ApiError::Internal)?;
    let user = match user {
        Some(user) if verified && stored_hash.is_some() => user,
        _ => {
            state.limits().record_failure(source);
            return Err(ApiError::InvalidCredentials {
                code: "invalid_credentials",
                message: "wrong username or password".into(),
            });
        }
    };
    let secret = new_session_token();
    let csrf = random_base62(32);
    let now = now_ms();
    let ttl = state.settings().session_ttl_secs;
    state
        .store()
        .create_session(&Session {
            token_hash: hash_secret(&secret),
            user_id: user.id.clone(),
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at: now + (ttl as i64) * 1000,
        })
        .await?;
    let body = LoginResponse { user: me_of(&state, &user).await?, csrf_token: csrf.clone() };
    let secure = if over_tls(state.settings(), &headers) { "; Secure" } else { "" };
    let mut response = Json(body).into_response();
    set_cookie(
        &mut response,
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={ttl}{secure}"),
    );
    set_cookie(&mut response, format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Lax; Max-Age={ttl}{secure}"));
    tracing::info!(user_id = %user.id, "signed in");
    Ok(response)
}

/// Ends the session and clears its cookies.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> ApiResult<Response> {
    if let Some(value) = cookie(&headers, SESSION_COOKIE) {
        state.store().delete_session(&hash_secret(value)).await?;
    }
    let secure = if over_tls(state.settings(), &headers) { "; Secure" } else { "" };
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"));
    set_cookie(&mut response, format!("{CSRF_COOKIE}=; Path=/; SameSite=Lax; Max-Age=0{secure}"));
    tracing::info!(user_id = %caller.user.id, "signed out");
    Ok(response)
}

/// The signed-in user and their workspaces.
#[utoipa::path(get, path = "/api/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    caller.require_scope(crate::auth::scopes::READ)?;
    Ok(Json(me_of(&state, &caller.user).await?))
}
