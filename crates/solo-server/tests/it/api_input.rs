//! Bad input gets a precise error and the server keeps serving; pollers get 304s.

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::*;

async fn raw_post(
    server: &TestServer,
    user: &TestUser,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = client()
        .post(server.url(path))
        .bearer_auth(&user.pat)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_unknown_oversized_and_invalid_input_get_clear_errors() {
    let server =
        TestServer::start_with(|s| s.max_body_bytes = 4096, std::sync::Arc::new(solo_server::bus::InProcessBus::new()))
            .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Inputs").await;
    let stage_path = format!("/api/missions/{}/stage", mission["id"].as_str().expect("id"));

    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        ("malformed JSON", "application/json", b"{\"stage\": ".to_vec(), StatusCode::BAD_REQUEST, "bad_request"),
        ("not JSON at all", "application/json", b"\xff\xfe garbage".to_vec(), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "wrong content type",
            "text/plain",
            b"{\"stage\":\"spec\"}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "unknown field",
            "application/json",
            br#"{"stage":"spec","force":true}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "unknown stage",
            "application/json",
            br#"{"stage":"shipped"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "an array where an object belongs (serde would fill the struct by position)",
            "application/json",
            br#"["spec", null]"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "wrong type",
            "application/json",
            br#"{"stage":5}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "skipping stages",
            "application/json",
            br#"{"stage":"done"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_transition",
        ),
        (
            "same stage",
            "application/json",
            br#"{"stage":"backlog"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_transition",
        ),
        (
            "stale version",
            "application/json",
            br#"{"stage":"spec","expectedVersion":7}"#.to_vec(),
            StatusCode::CONFLICT,
            "version_conflict",
        ),
        (
            "oversized body",
            "application/json",
            format!("{{\"stage\":\"spec\",\"pad\":\"{}\"}}", "x".repeat(10_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let (got, error) = raw_post(&server, &ada, &stage_path, content_type, body).await;
        assert_eq!(got, status, "{what}: {error}");
        assert_eq!(error["code"], code, "{what}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what} has a message");
    }

    let (status, error) = post(&server, &ada, "/api/missions", json!({ "title": "   " })).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
    let (status, _) = post(&server, &ada, "/api/missions", json!({ "title": "t".repeat(201) })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, error) = get(&server, &ada, "/api/missions?stage=shipped").await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
    let (status, _) = get(&server, &ada, "/api/missions/not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&server, &ada, "/api/events?channel=chat:general").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get(&server, &ada, "/api/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing above changed the mission, and the server still serves.
    let (status, body) = get(&server, &ada, &format!("/api/missions/{}", mission["id"].as_str().expect("id"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["stage"].as_str(), body["version"].as_i64()), (Some("backlog"), Some(1)));
    let (status, body) = post(&server, &ada, &stage_path, json!({ "stage": "spec" })).await;
    assert_eq!((status, body["version"].as_i64()), (StatusCode::OK, Some(2)));
    server.stop().await;
}

#[tokio::test]
async fn list_endpoints_answer_if_none_match_with_304() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Polled").await;
    let (status, station) = post(&server, &ada, "/api/workstations", json!({ "name": "rig" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let paths = [
        "/api/missions".to_owned(),
        "/api/workstations".to_owned(),
        format!("/api/workstations/{}", station["id"].as_str().expect("id")),
        "/api/tokens".to_owned(),
        "/api/presence".to_owned(),
        "/api/community/posts".to_owned(),
        format!("/api/events?channel=mission:{}", mission["id"].as_str().expect("id")),
    ];
    for path in &paths {
        let first = client().get(server.url(path)).bearer_auth(&ada.pat).send().await.expect("get");
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        assert_eq!(first.headers()["x-poll-interval"], "15", "{path}");
        let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
        let again = client()
            .get(server.url(path))
            .bearer_auth(&ada.pat)
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("get");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"].to_str().expect("etag"), etag);
        assert!(again.bytes().await.expect("body").is_empty());
    }
    // A change makes the old ETag stale.
    let first = client().get(server.url("/api/missions")).bearer_auth(&ada.pat).send().await.expect("get");
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
    post(
        &server,
        &ada,
        &format!("/api/missions/{}/stage", mission["id"].as_str().expect("id")),
        json!({ "stage": "spec" }),
    )
    .await;
    let after = client()
        .get(server.url("/api/missions"))
        .bearer_auth(&ada.pat)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(after.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn health_and_openapi_are_served() {
    let server = TestServer::start().await;
    let health: Value = client().get(server.url("/healthz")).send().await.expect("healthz").json().await.expect("json");
    assert_eq!(health["status"], "ok");
    let ready = client().get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let doc: Value =
        client().get(server.url("/api/openapi.json")).send().await.expect("openapi").json().await.expect("json");
    for path in [
        "/api/missions/{id}/stage",
        "/api/workstations/{id}/heartbeat",
        "/api/events",
        "/api/tokens/{id}",
        "/api/presence",
        "/api/notifications",
        "/api/notifications/{id}/read",
        "/api/notifications/read-all",
        "/api/me/preferences",
        "/api/realtime/token",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    // The shared layers' answers are documented on every operation they apply to.
    let stage = &doc["paths"]["/api/missions/{id}/stage"]["post"]["responses"];
    for status in ["400", "401", "403", "404", "413", "415", "422", "429", "503", "507"] {
        assert!(stage[status].is_object(), "POST /api/missions/{{id}}/stage documents {status}");
    }
    let health = &doc["paths"]["/healthz"]["get"];
    assert_eq!(health["security"], serde_json::json!([{}]), "health checks are public");
    assert!(health["responses"]["401"].is_null());
    assert!(doc["components"]["schemas"]["EventEnvelope"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn the_web_ui_is_served_with_client_side_routes() {
    let server = TestServer::start().await;
    for path in ["/", "/board", "/notifications", "/workstations/wk_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f"] {
        let response = client().get(server.url(path)).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/html"), "{path}");
        assert!(response.headers()["content-security-policy"].to_str().expect("csp").contains("default-src 'self'"));
        let etag = response.headers()["etag"].to_str().expect("etag").to_owned();
        let body = response.text().await.expect("body");
        assert!(body.contains("<html"), "{path}");
        let again = client().get(server.url(path)).header("if-none-match", etag).send().await.expect("get");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    let missing = client().get(server.url("/assets/nothing-here.js")).send().await.expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let api = client().get(server.url("/api/nothing-here")).send().await.expect("get");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.json::<Value>().await.expect("json")["code"], "not_found");
    let post = client().post(server.url("/board")).send().await.expect("post");
    assert_eq!(post.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
