//! The [`Caller`] extractor: a request's user, from a bearer PAT or a session cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use solo_domain::time::now_ms;
use solo_domain::{TokenId, WorkspaceId};
use solo_store::{Membership, Role, User, WriteContext};
use subtle::ConstantTimeEq;

use super::pat_cache::VerifiedPat;
use super::secrets::{hash_secret, looks_like_pat};
use crate::error::{ApiError, ApiResult};
use crate::http::TraceId;
use crate::limits::source_of;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "solo_session";
pub const CSRF_COOKIE: &str = "solo_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Refresh a token's `last_used_at` at most this often, so reads stay reads.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// A web session (cookie); may do anything the user may do.
    Session { token_hash: String },
    /// A personal access token, limited to its scopes.
    Token { id: TokenId, scopes: Vec<String> },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
    pub trace_id: String,
}

impl Caller {
    /// Refuses tokens that lack `scope` (sessions carry every scope).
    pub fn require_scope(&self, scope: &str) -> ApiResult<()> {
        match &self.via {
            Via::Session { .. } => Ok(()),
            Via::Token { scopes, .. } if scopes.iter().any(|s| s == scope) => Ok(()),
            Via::Token { .. } => Err(ApiError::Forbidden(format!("this token lacks the `{scope}` scope"))),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.require_scope(scope).is_ok()
    }

    /// The write context for changes this caller makes.
    pub fn write_context(&self) -> WriteContext {
        WriteContext::user(self.user.id.clone(), self.trace_id.clone())
    }

    pub async fn memberships(&self, state: &AppState) -> ApiResult<Vec<Membership>> {
        Ok(state.store().memberships_of(&self.user.id).await?)
    }

    pub async fn workspace_ids(&self, state: &AppState) -> ApiResult<Vec<WorkspaceId>> {
        Ok(self.memberships(state).await?.into_iter().map(|m| m.workspace.id).collect())
    }

    /// The caller's role in a workspace; `NotFound` when not a member, so the
    /// workspace's existence is not revealed.
    pub async fn role_in(&self, state: &AppState, workspace: &WorkspaceId, what: &'static str) -> ApiResult<Role> {
        state.store().role_in(&self.user.id, workspace).await?.ok_or(ApiError::NotFound(what))
    }

    /// The workspaces a list request covers: the one asked for (if the caller is a
    /// member; otherwise 404) or all of the caller's.
    pub async fn workspaces_in_scope(&self, state: &AppState, requested: Option<&str>) -> ApiResult<Vec<WorkspaceId>> {
        match requested {
            Some(ws) => {
                let ws = WorkspaceId::parse(ws).map_err(|_| ApiError::NotFound("workspace"))?;
                self.role_in(state, &ws, "workspace").await?;
                Ok(vec![ws])
            }
            None => self.workspace_ids(state).await,
        }
    }

    /// Resolves an optional `workspaceId` to one the caller belongs to: the given
    /// one, or the caller's only workspace.
    pub async fn pick_workspace(&self, state: &AppState, requested: Option<WorkspaceId>) -> ApiResult<WorkspaceId> {
        match requested {
            Some(ws) => {
                self.role_in(state, &ws, "workspace").await?;
                Ok(ws)
            }
            None => {
                let mut workspaces = self.workspace_ids(state).await?;
                match workspaces.len() {
                    1 => Ok(workspaces.remove(0)),
                    0 => Err(ApiError::validation("you are not a member of any workspace")),
                    _ => Err(ApiError::validation("you belong to several workspaces: give `workspaceId`")),
                }
            }
        }
    }
}

/// The value of a cookie in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn invalid(code: &'static str, message: &str) -> ApiError {
    ApiError::InvalidCredentials { code, message: message.to_owned() }
}

/// Authenticates a personal access token.
pub async fn authenticate_pat(state: &AppState, token: &str) -> ApiResult<(User, TokenId, Vec<String>)> {
    if !looks_like_pat(token) {
        return Err(invalid("invalid_token", "the bearer token is not a valid personal access token"));
    }
    // The lookup is by SHA-256 of the secret: timing reveals nothing about the
    // stored secrets, and the final comparison is constant-time anyway.
    let hash = hash_secret(token);
    let now = now_ms();
    let pat = match state.pat_cache().get(&hash, now) {
        Some(pat) => pat,
        None => {
            let generation = state.pat_cache().generation();
            let pat = read_pat(state, &hash).await?;
            state.pat_cache().put(&hash, pat.clone(), generation, now);
            pat
        }
    };
    if pat.expires_at.is_some_and(|exp| exp <= now) {
        return Err(invalid("token_expired", "the personal access token has expired"));
    }
    if pat.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
        state.pat_cache().touched(&hash, now);
        let store = state.store_arc();
        let id = pat.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_access_token(&id, now).await {
                tracing::debug!(error = %e, "could not record token use");
            }
        });
    }
    Ok((pat.user, pat.id, pat.scopes))
}

/// The token with this secret hash and its user, from the store; refuses a
/// revoked token or one whose user is gone (expiry is the caller's check, made
/// on every request, cached or not).
async fn read_pat(state: &AppState, hash: &str) -> ApiResult<VerifiedPat> {
    let stored = state.store().access_token_by_hash(hash).await?;
    let Some(stored) = stored.filter(|t| bool::from(t.token_hash.as_bytes().ct_eq(hash.as_bytes()))) else {
        return Err(invalid("invalid_token", "the personal access token is not valid"));
    };
    if stored.revoked_at.is_some() {
        return Err(invalid("token_revoked", "the personal access token has been revoked"));
    }
    let user = state
        .store()
        .user_by_id(&stored.user_id)
        .await?
        .ok_or_else(|| invalid("invalid_token", "the token's user no longer exists"))?;
    Ok(VerifiedPat {
        user,
        id: stored.id,
        scopes: stored.scopes,
        expires_at: stored.expires_at,
        last_used_at: stored.last_used_at,
    })
}

/// Authenticates a session cookie; for state-changing methods also checks the CSRF header.
async fn authenticate_session(state: &AppState, parts: &Parts, value: &str) -> ApiResult<(User, String)> {
    let token_hash = hash_secret(value);
    let session = state
        .store()
        .session_by_hash(&token_hash, now_ms())
        .await?
        .ok_or_else(|| invalid("invalid_session", "the session has expired or was signed out; sign in again"))?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(session.csrf_token.as_bytes())) {
            return Err(ApiError::CsrfFailed);
        }
    }
    let user = state
        .store()
        .user_by_id(&session.user_id)
        .await?
        .ok_or_else(|| invalid("invalid_session", "the session's user no longer exists"))?;
    Ok((user, token_hash))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let trace_id = parts.extensions.get::<TraceId>().map(|t| t.0.clone()).unwrap_or_default();
        let limits = state.limits();
        let source = source_of(parts, state.settings().trust_forwarded_for);
        // A failed bearer token counts against its source; a source over budget
        // is refused before its credentials are even looked at.
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            limits.check_source(source)?;
            let authenticated = async {
                let value = value
                    .to_str()
                    .map_err(|_| invalid("invalid_token", "the Authorization header is not valid text"))?;
                let token = value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .ok_or_else(|| invalid("invalid_token", "expected `Authorization: Bearer <token>`"))?
                    .trim();
                authenticate_pat(state, token).await
            };
            let (user, id, scopes) = authenticated.await.inspect_err(|e| {
                if matches!(e, ApiError::InvalidCredentials { .. }) {
                    limits.record_failure(source);
                }
            })?;
            limits.api_request(id.as_str())?;
            return Ok(Caller { user, via: Via::Token { id, scopes }, trace_id });
        }
        // An expired session cookie is routine (a browser left open), not an
        // attack: it does not count against the source.
        if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
            let (user, token_hash) = authenticate_session(state, parts, value).await?;
            limits.api_request(&token_hash)?;
            return Ok(Caller { user, via: Via::Session { token_hash }, trace_id });
        }
        Err(ApiError::Unauthenticated)
    }
}
