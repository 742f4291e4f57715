//! Authentication and tenancy: tokens, sessions, CSRF, and workspace isolation.

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_domain::time::now_ms;
use solo_domain::{TokenId, UserId};
use solo_server::auth::{password, secrets};
use solo_store::{AccessToken, NewUser, Role};

use crate::support::*;

async fn status_with_auth(server: &TestServer, path: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let mut request = client().get(server.url(path));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A token revoked behind this node's back (another node of the cluster, or
/// `solo admin` on the database) stops working once the revalidator sees the
/// store's revocation counter move, although this node had it cached.
#[tokio::test]
async fn a_token_revoked_elsewhere_is_refused_despite_the_cache() {
    let server = TestServer::start_with(
        |s| {
            s.revalidate_interval_ms = 200;
            s.pat_cache_ttl_ms = 3_600_000;
        },
        std::sync::Arc::new(solo_server::bus::InProcessBus::new()),
    )
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (status, _) = get(&server, &ada, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "verified once, now cached for an hour");
    let (_, list) = get(&server, &ada, "/api/tokens").await;
    let id = list["items"][0]["id"].as_str().expect("id").to_owned();
    let revoked = server
        .store()
        .revoke_access_token(&UserId::parse(&ada.id).expect("id"), &TokenId::parse(&id).expect("token id"), now_ms())
        .await
        .expect("revoke in the store");
    assert!(revoked);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = get(&server, &ada, "/api/me").await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "token_revoked");
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(std::time::Instant::now() < deadline, "the revoked token still works after 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn missing_wrong_revoked_and_expired_tokens_are_refused() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;

    let (status, body) = status_with_auth(&server, "/api/me", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));

    let wrong = secrets::new_pat();
    let (status, body) = status_with_auth(&server, "/api/me", Some(&format!("Bearer {wrong}"))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let (status, _) = status_with_auth(&server, "/api/me", Some("Bearer garbage")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = status_with_auth(&server, "/api/me", Some("Basic YWRhOnB3")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, me) = get(&server, &ada, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "ada");
    assert_eq!(me["workspaces"][0]["slug"], "acme");

    // Revoke through the API with a second token, then the first one stops working.
    let (status, created) = post(&server, &ada, "/api/tokens", json!({ "name": "second" })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let second = created["token"].as_str().expect("token").to_owned();
    let first_id = {
        let (_, list) = get(&server, &ada, "/api/tokens").await;
        list["items"].as_array().expect("items").iter().find(|t| t["name"] == "tests").expect("first")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let revoked = client()
        .delete(server.url(&format!("/api/tokens/{first_id}")))
        .bearer_auth(&second)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let (status, body) = get(&server, &ada, "/api/me").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_revoked")));

    // An expired token.
    let expired_secret = secrets::new_pat();
    server
        .store()
        .create_access_token(&AccessToken {
            id: TokenId::generate(),
            user_id: UserId::parse(&ada.id).expect("id"),
            name: "old".into(),
            token_hash: secrets::hash_secret(&expired_secret),
            scopes: vec!["read".into()],
            created_at: now_ms() - 10_000,
            expires_at: Some(now_ms() - 1_000),
            revoked_at: None,
            last_used_at: None,
        })
        .await
        .expect("token");
    let (status, body) = status_with_auth(&server, "/api/me", Some(&format!("Bearer {expired_secret}"))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_expired")));
    server.stop().await;
}

#[tokio::test]
async fn members_of_one_workspace_cannot_see_or_change_another() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let eve = server.user("eve", "globex", Role::Admin).await;
    let mission = create_mission(&server, &ada, "Secret plan").await;
    let id = mission["id"].as_str().expect("id");

    let (status, body) = get(&server, &eve, &format!("/api/missions/{id}")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _) = post(&server, &eve, &format!("/api/missions/{id}/stage"), json!({ "stage": "spec" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        post(&server, &eve, &format!("/api/missions/{id}/reviews"), json!({ "decision": "rejected" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = get(&server, &eve, "/api/missions").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let (status, _) = get(&server, &eve, &format!("/api/missions?workspaceId={}", ada.workspace_id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&server, &eve, &format!("/api/events?channel=mission:{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&server, &eve, &format!("/api/events?channel=notifications:{}", ada.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        post(&server, &eve, "/api/missions", json!({ "title": "x", "workspaceId": ada.workspace_id })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Unchanged for its owner.
    let (status, body) = get(&server, &ada, &format!("/api/missions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["stage"].as_str(), body["version"].as_i64()), (Some("backlog"), Some(1)));
    server.stop().await;
}

#[tokio::test]
async fn sessions_need_csrf_for_changes_and_end_at_logout() {
    let server = TestServer::start().await;
    let ws = server.store().ensure_workspace("acme", "Acme").await.expect("ws");
    let hash = password::hash("correct horse battery").expect("hash");
    let user = server
        .store()
        .create_user(NewUser { name: "ada".into(), display_name: "Ada".into(), password_hash: Some(hash) })
        .await
        .expect("user");
    server.store().set_membership(&ws.id, &user.id, Role::Member).await.expect("member");

    let http = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let bad = http
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "ada", "password": "nope nope"}))
        .send()
        .await
        .expect("login");
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let unknown = http
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "zed", "password": "nope nope"}))
        .send()
        .await
        .expect("login");
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    let login = http
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "ada", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let cookies: Vec<String> =
        login.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("cookie").to_owned()).collect();
    let session_cookie = cookies.iter().find(|c| c.starts_with("solo_session=")).expect("session cookie");
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    let body: Value = login.json().await.expect("json");
    let csrf = body["csrfToken"].as_str().expect("csrf").to_owned();

    let me = http.get(server.url("/api/me")).send().await.expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    let no_csrf = http.post(server.url("/api/missions")).json(&json!({"title": "x"})).send().await.expect("post");
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let with_csrf = http
        .post(server.url("/api/missions"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(with_csrf.status(), StatusCode::CREATED);

    let out = http.post(server.url("/api/auth/logout")).header("x-csrf-token", &csrf).send().await.expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = http.get(server.url("/api/me")).send().await.expect("me");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// The `Set-Cookie` headers of a sign-in as `server` sees it, with `extra` request headers.
async fn login_cookies(server: &TestServer, extra: &[(&str, &str)]) -> Vec<String> {
    let mut request = client()
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "ada", "password": "correct horse battery"}));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    response.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("cookie").to_owned()).collect()
}

async fn server_with_ada(configure: impl FnOnce(&mut solo_server::settings::Settings)) -> TestServer {
    let server = TestServer::start_with(configure, std::sync::Arc::new(solo_server::bus::InProcessBus::new())).await;
    let hash = password::hash("correct horse battery").expect("hash");
    server
        .store()
        .create_user(NewUser { name: "ada".into(), display_name: "Ada".into(), password_hash: Some(hash) })
        .await
        .expect("user");
    server
}

#[tokio::test]
async fn session_cookies_are_secure_whenever_the_browser_came_over_tls() {
    let secure = |cookies: &[String]| {
        assert_eq!(cookies.len(), 2, "session and CSRF cookies: {cookies:?}");
        cookies.iter().all(|c| c.ends_with("; Secure") && c.contains("SameSite=Lax"))
    };
    let plain = |cookies: &[String]| !cookies.iter().any(|c| c.contains("Secure"));

    // Plain HTTP straight to Solo (a laptop): not Secure, or the browser would drop them.
    let direct = server_with_ada(|_| {}).await;
    assert!(plain(&login_cookies(&direct, &[]).await));
    // A client cannot claim TLS when no proxy is trusted.
    assert!(plain(&login_cookies(&direct, &[("x-forwarded-proto", "https")]).await));
    direct.stop().await;

    // Behind a trusted TLS proxy: Secure when it says the browser used https.
    let proxied = server_with_ada(|s| s.trust_forwarded_for = true).await;
    assert!(secure(&login_cookies(&proxied, &[("x-forwarded-proto", "https")]).await));
    assert!(plain(&login_cookies(&proxied, &[("x-forwarded-proto", "http")]).await));
    proxied.stop().await;

    // Published at an https URL: always Secure; an explicit setting wins.
    let public = server_with_ada(|s| s.public_url = Some("HTTPS://solo.example.com".into())).await;
    let cookies = login_cookies(&public, &[]).await;
    assert!(secure(&cookies));
    let session = cookies.iter().find(|c| c.starts_with("solo_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly"), "the session cookie is out of scripts' reach: {session}");
    let csrf = cookies.iter().find(|c| !c.starts_with("solo_session=")).expect("csrf cookie");
    assert!(!csrf.contains("HttpOnly"), "the page reads the CSRF cookie to echo it: {csrf}");
    public.stop().await;
    let forced_off = server_with_ada(|s| {
        s.public_url = Some("https://solo.example.com".into());
        s.cookie_secure = Some(false);
    })
    .await;
    assert!(plain(&login_cookies(&forced_off, &[]).await));
    forced_off.stop().await;
}

#[tokio::test]
async fn tokens_are_limited_to_their_scopes() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (status, created) = post(&server, &ada, "/api/tokens", json!({ "name": "reader", "scopes": ["read"] })).await;
    assert_eq!(status, StatusCode::CREATED);
    let reader = TestUser { pat: created["token"].as_str().expect("token").to_owned(), ..ada.clone() };
    let (status, _) = get(&server, &reader, "/api/missions").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&server, &reader, "/api/missions", json!({ "title": "nope" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (status, _) = post(&server, &ada, "/api/tokens", json!({ "name": "x", "scopes": ["root"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await;
}
