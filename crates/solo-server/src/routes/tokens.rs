//! Personal access tokens: list, create (the secret is shown once), revoke.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use solo_domain::time::{format_ms, now_ms};
use solo_domain::TokenId;
use solo_store::{AccessToken, User};

use crate::auth::secrets::{hash_secret, new_pat};
use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    id: String,
    name: String,
    scopes: Vec<String>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
}

impl From<&AccessToken> for TokenView {
    fn from(t: &AccessToken) -> Self {
        TokenView {
            id: t.id.to_string(),
            name: t.name.clone(),
            scopes: t.scopes.clone(),
            created_at: format_ms(t.created_at),
            expires_at: t.expires_at.map(format_ms),
            revoked_at: t.revoked_at.map(format_ms),
            last_used_at: t.last_used_at.map(format_ms),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct TokenList {
    items: Vec<TokenView>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateToken {
    /// A label to recognise the token by, e.g. "laptop CLI".
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    /// Default `["read", "write"]`; known scopes: `read`, `write`, `notifications:write`.
    #[serde(default)]
    #[schema(min_items = 1, value_type = Option<Vec<TokenScope>>)]
    scopes: Option<Vec<String>>,
    /// Days until the token expires; none means it never expires.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    /// The secret, shown this once: only its hash is kept.
    token: String,
    #[serde(flatten)]
    meta: TokenView,
}

/// The scopes a token may carry, as the OpenAPI document lists them; on the
/// wire and in the store they are plain strings (`crate::auth::scopes`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: never constructed
enum TokenScope {
    #[schema(rename = "read")]
    Read,
    #[schema(rename = "write")]
    Write,
    #[schema(rename = "notifications:write")]
    NotificationsWrite,
}

/// Why a token request is invalid, if it is.
pub fn check_token_request(
    name: &str,
    scopes_requested: &[String],
    expires_in_days: Option<u32>,
) -> Result<(), String> {
    if name.chars().all(crate::validate::is_blank) || name.chars().count() > 100 {
        return Err("`name` must be 1 to 100 characters".into());
    }
    if scopes_requested.is_empty() {
        return Err("a token needs at least one scope".into());
    }
    if let Some(bad) = scopes_requested.iter().find(|s| !scopes::is_known(s)) {
        return Err(format!("unknown scope `{bad}`; known scopes: {}", scopes::ALL.join(", ")));
    }
    if expires_in_days == Some(0) || expires_in_days.is_some_and(|d| d > 3650) {
        return Err("`expiresInDays` must be between 1 and 3650".into());
    }
    Ok(())
}

/// Creates and stores a token for `user`; returns the secret and the record.
pub async fn issue_token(
    store: &dyn solo_store::Store,
    user: &User,
    name: &str,
    scopes_requested: Vec<String>,
    expires_in_days: Option<u32>,
) -> Result<(String, AccessToken), solo_store::StoreError> {
    let secret = new_pat();
    let now = now_ms();
    let token = AccessToken {
        id: TokenId::generate(),
        user_id: user.id.clone(),
        name: name.trim_matches(crate::validate::is_blank).to_owned(),
        token_hash: hash_secret(&secret),
        scopes: scopes_requested,
        created_at: now,
        expires_at: expires_in_days.map(|d| now + i64::from(d) * 86_400_000),
        revoked_at: None,
        last_used_at: None,
    };
    store.create_access_token(&token).await?;
    Ok((secret, token))
}

/// The caller's tokens (never their secrets).
#[utoipa::path(get, path = "/api/tokens", tag = "tokens", responses((status = 200, body = TokenList), (status = 304)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let tokens = state.store().access_tokens_of(&caller.user.id).await?;
    Ok(conditional_json(&headers, &TokenList { items: tokens.iter().map(TokenView::from).collect() }))
}

/// Creates a token; the response is the only time its secret is shown.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    let requested = req.scopes.unwrap_or_else(|| scopes::DEFAULT.iter().map(|s| s.to_string()).collect());
    check_token_request(&req.name, &requested, req.expires_in_days).map_err(ApiError::validation)?;
    // A token cannot grant more than the token that creates it.
    if let Some(missing) = requested.iter().find(|s| !caller.has_scope(s)) {
        return Err(ApiError::Forbidden(format!("cannot grant `{missing}`: the creating token lacks it")));
    }
    let (secret, token) = issue_token(state.store(), &caller.user, &req.name, requested, req.expires_in_days).await?;
    tracing::info!(user_id = %caller.user.id, token_id = %token.id, "token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { token: secret, meta: TokenView::from(&token) })).into_response())
}

/// Revokes one of the caller's tokens; it stops working at once, and its live
/// realtime connections end within seconds.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require_scope(scopes::WRITE)?;
    let id = TokenId::parse(&id).map_err(|_| ApiError::NotFound("token"))?;
    if !state.store().revoke_access_token(&caller.user.id, &id, now_ms()).await? {
        return Err(ApiError::NotFound("token"));
    }
    // Before answering: no request after this one may be served from the cache.
    state.pat_cache().clear();
    tracing::info!(user_id = %caller.user.id, token_id = %id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
