//! The web UI: built files embedded in the binary (`solo-web`), served at `/`
//! with client-side routes falling back to `index.html`.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// What the UI may load: only this origin, plus WebSocket connections to it.
/// Inline styles are allowed because the toast library positions with them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

fn serve(asset: solo_web::Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", asset.etag);
    let cache = if asset.immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response =
        if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.bytes.into_owned().into_response() };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&asset.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Every path that is not an API route: a built file, or the app for client routes.
pub async fn ui(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::NotFound("route").into_response();
    }
    let path = uri.path();
    if let Some(asset) = solo_web::get(path) {
        return serve(asset, &headers);
    }
    // A missing file (it has an extension) is a 404; anything else is a client-side route.
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match solo_web::index() {
        Some(index) => serve(index, &headers),
        None => (StatusCode::NOT_FOUND, "the web UI is not built").into_response(),
    }
}
