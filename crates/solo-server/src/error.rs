//! The API's one error type. Every error leaves as
//! `{"code": "<stable>", "message": "<for humans>"}` with a status that matches;
//! internals are logged with their cause chain, never returned.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use solo_store::{StoreError, Unavailability};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    /// 400: the body is not valid JSON or a query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials were presented.
    #[error("authentication required: send `Authorization: Bearer <token>` or sign in")]
    Unauthenticated,
    /// 401: the credentials presented are not valid (unknown, expired or revoked).
    #[error("{message}")]
    InvalidCredentials { code: &'static str, message: String },
    /// 403: authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// 403: a cookie-authenticated change without the matching `X-CSRF-Token` header.
    #[error("missing or wrong X-CSRF-Token header")]
    CsrfFailed,
    /// 404: no such thing, or not visible to the caller (we do not reveal which).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: a conflicting concurrent change or a duplicate.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413: the body is larger than the configured limit.
    #[error("request body is larger than the configured limit")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("expected a JSON body with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 422: well-formed JSON whose content is invalid.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 429.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: a dependency (database, bus) is unavailable; retry later.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// 503: the database is locked by another writer; nothing was saved.
    #[error("the database is busy: nothing was saved; retry shortly")]
    DatabaseBusy,
    /// 507: the disk is full; nothing was saved.
    #[error("the server's storage is full: nothing was saved; retry once space is freed")]
    StorageFull,
    /// 503 (as `Unavailable`): the database cannot be reached or refused the connection.
    #[error("the service is temporarily unavailable")]
    DatabaseUnavailable,
    /// 500 (as `Internal`): the database failed in a way nobody anticipated.
    #[error("internal error")]
    DatabaseFailed,
    /// 500: a bug or an unexpected failure; details are in the server log.
    #[error("internal error")]
    Internal,
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct ErrorBody {
    /// Stable, machine-readable code (e.g. `not_found`, `invalid_transition`).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Unprocessable { code: "validation_failed", message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::InvalidCredentials { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::CsrfFailed => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::DatabaseBusy | ApiError::DatabaseUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal | ApiError::DatabaseFailed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidCredentials { code, .. } => code,
            ApiError::Forbidden(_) => "forbidden",
            ApiError::CsrfFailed => "csrf_failed",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable | ApiError::DatabaseUnavailable => "unavailable",
            ApiError::DatabaseBusy => "database_busy",
            ApiError::StorageFull => "storage_full",
            ApiError::Internal | ApiError::DatabaseFailed => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody { code: self.code(), message: self.to_string() };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(kind) = self.database_error_kind() {
            // Counted by the metrics middleware (`solo_database_errors_total`).
            response.extensions_mut().insert(DatabaseErrorKind(kind));
        }
        let retry_after_secs = match self {
            ApiError::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
            ApiError::Unavailable | ApiError::DatabaseBusy | ApiError::DatabaseUnavailable => Some(1),
            _ => None,
        };
        if let Some(value) = retry_after_secs.and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A response's database error, by kind: `busy`, `storage_full`,
/// `unavailable` or `failed` (see [`store_error_kind`]).
#[derive(Debug, Clone, Copy)]
pub struct DatabaseErrorKind(pub &'static str);

impl ApiError {
    /// The kind of database error this is, if it came from the database.
    pub fn database_error_kind(&self) -> Option<&'static str> {
        match self {
            ApiError::DatabaseBusy => Some("busy"),
            ApiError::StorageFull => Some("storage_full"),
            ApiError::DatabaseUnavailable => Some("unavailable"),
            ApiError::DatabaseFailed => Some("failed"),
            _ => None,
        }
    }
}

/// The kind of a store failure that is the database's (not the caller's: a
/// missing row or a conflict is none).
pub fn store_error_kind(err: &StoreError) -> Option<&'static str> {
    match err {
        StoreError::NotFound
        | StoreError::AlreadyExists(_)
        | StoreError::VersionMismatch { .. }
        | StoreError::InvalidTransition(_)
        | StoreError::Invalid(_)
        | StoreError::IdempotencyMismatch => None,
        e => Some(match e.unavailability() {
            Some(Unavailability::Busy) => "busy",
            Some(Unavailability::StorageFull) => "storage_full",
            Some(_) => "unavailable",
            None => "failed",
        }),
    }
}

impl From<solo_realtime::presence::PresenceError> for ApiError {
    fn from(err: solo_realtime::presence::PresenceError) -> Self {
        tracing::warn!(error = %err, "presence query failed");
        ApiError::Unavailable
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::AlreadyExists(what) => {
                ApiError::Conflict { code: "already_exists", message: format!("{what} already exists") }
            }
            StoreError::VersionMismatch { subject, current, expected } => ApiError::Conflict {
                code: "version_conflict",
                message: format!("the {subject} is at version {current}, not {expected}: reload and retry"),
            },
            StoreError::InvalidTransition(e) => {
                ApiError::Unprocessable { code: "invalid_transition", message: e.to_string() }
            }
            StoreError::Invalid(message) => ApiError::validation(message),
            StoreError::IdempotencyMismatch => ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was already used with a different request".into(),
            },
            ref e if e.unavailability().is_some() => {
                tracing::warn!(error = %err, "database unavailable");
                match e.unavailability() {
                    Some(Unavailability::Busy) => ApiError::DatabaseBusy,
                    Some(Unavailability::StorageFull) => ApiError::StorageFull,
                    _ => ApiError::DatabaseUnavailable,
                }
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::DatabaseFailed
            }
        }
    }
}

/// axum's rejection text starts with a generic prefix; keep the part that says what is wrong.
fn body_error_text(text: &str) -> String {
    text.rsplit_once(": ").map_or(text, |(_, detail)| detail).to_owned()
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!("invalid query string: {}", body_error_text(&rejection.body_text())))
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::NotFound("resource")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_never_leak() {
        let err = ApiError::from(StoreError::Corrupt("table events: secret detail".into()));
        assert_eq!(err.code(), "internal");
        assert!(!err.to_string().contains("secret"));
    }
}
