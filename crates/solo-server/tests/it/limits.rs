//! Rate and connection limits, and the origin check on WebSocket upgrades.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_server::bus::InProcessBus;
use solo_server::settings::Settings;
use solo_store::Role;

use crate::support::*;
use crate::ws::{token_for, Ws};

async fn server_with(configure: impl FnOnce(&mut Settings)) -> TestServer {
    TestServer::start_with(configure, Arc::new(InProcessBus::new())).await
}

#[tokio::test]
async fn a_flooding_connection_gets_111_then_is_closed_3013_and_others_are_unaffected() {
    let server = server_with(|s| s.ws_commands_per_sec = 5).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (mut calm, _) = Ws::connect(&server, &ada).await;
    let (mut flood, _) = Ws::connect(&server, &ada).await;

    // The connect used one command of the burst of 10; 15 more in one frame
    // right away (the budget refills by 5 a second, so a slow machine sees a
    // few more run).
    let frame: Vec<String> = (10..25).map(|id| json!({ "id": id, "ping": {} }).to_string()).collect();
    flood.send_text(frame.join("\n")).await;
    let mut refused = 0;
    for _ in 0..15 {
        let reply = flood.next_push(Duration::from_secs(5)).await.expect("a reply to every command");
        if reply["error"]["code"] == 111 {
            assert_eq!(reply["error"]["temporary"], true, "{reply}");
            refused += 1;
        }
    }
    assert!(refused >= 3, "commands over the budget are refused with 111 ({refused} were)");

    // A client that keeps going is closed with 3013.
    let frame: Vec<String> = (100..200).map(|id| json!({ "id": id, "ping": {} }).to_string()).collect();
    flood.send_text(frame.join("\n")).await;
    assert_eq!(flood.close_code(Duration::from_secs(5)).await, Some(3013));

    let reply = calm.command("ping", json!({})).await;
    assert!(reply["ping"].is_object(), "another connection keeps its own budget: {reply}");
}

#[tokio::test]
async fn a_user_holds_at_most_the_configured_connections() {
    let server = server_with(|s| s.ws_max_connections_per_user = 2).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let (first, _) = Ws::connect(&server, &ada).await;
    let (_second, _) = Ws::connect(&server, &ada).await;

    let mut third = Ws::open(&server).await;
    let token = token_for(&server, &ada).await;
    third.send_text(json!({ "id": 1, "connect": { "token": token } }).to_string()).await;
    assert_eq!(third.close_code(Duration::from_secs(5)).await, Some(3504));
    let (_other_user, _) = Ws::connect(&server, &bo).await;

    // A closed connection frees its place.
    drop(first);
    let admitted = eventually("a freed place", Duration::from_secs(5), || async {
        let mut ws = Ws::open(&server).await;
        let token = token_for(&server, &ada).await;
        let reply = ws.command_or_close("connect", json!({ "token": token })).await;
        reply.filter(|r| r["connect"].is_object())
    })
    .await;
    assert!(admitted["connect"]["client"].is_string());
}

async fn upgrade_attempt(server: &TestServer, origin: &str) -> (StatusCode, Value) {
    let response =
        client().get(server.url("/connection/websocket")).header("Origin", origin).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    let server = server_with(|s| s.allowed_origins = "https://app.example.com".into()).await;
    let (status, body) = upgrade_attempt(&server, "https://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
    // Same origin and listed origins get past the check (then fail for not being upgrades).
    let (status, _) = upgrade_attempt(&server, &server.base).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = upgrade_attempt(&server, "https://app.example.com").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn api_requests_over_a_tokens_budget_get_429_with_retry_after() {
    let server = server_with(|s| s.api_requests_per_sec = 2).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let mut limited = None;
    for _ in 0..10 {
        let response = client().get(server.url("/api/me")).bearer_auth(&ada.pat).send().await.expect("request");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let limited = limited.expect("the burst of 4 is exceeded within 10 requests");
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["code"], "too_many_requests");
    let (status, _) = get(&server, &bo, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "another token has its own budget");
}

#[tokio::test]
async fn a_source_that_keeps_failing_authentication_is_refused_for_a_while() {
    let server = server_with(|s| s.auth_failures_per_minute = 3).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    for n in 0..3 {
        let response = client()
            .get(server.url("/api/me"))
            .bearer_auth(format!("solo_pat_wrong{n}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even a valid token from this source is refused, so guesses learn nothing.
    let response = client().get(server.url("/api/me")).bearer_auth(&ada.pat).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    let login = client()
        .post(server.url("/api/auth/login"))
        .json(&json!({ "username": "ada", "password": "anything" }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS, "sign-in is refused from this source too");
}

#[tokio::test]
async fn a_client_subscribing_to_thousands_of_channels_is_closed_3505_and_others_keep_going() {
    use solo_domain::{UserId, WorkspaceId};
    use solo_store::{NewMission, WriteContext};

    let server = server_with(|s| s.ws_commands_per_sec = 100_000).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let owner = UserId::parse(&ada.id).expect("user id");
    let workspace = WorkspaceId::parse(&ada.workspace_id).expect("workspace id");
    let ctx = WriteContext::user(owner.clone(), "");
    let mut channels = Vec::new();
    for n in 0..130 {
        let new = NewMission {
            workspace_id: workspace.clone(),
            title: format!("M{n}"),
            owner_id: owner.clone(),
            watchers: vec![],
        };
        let mission = server.store().create_mission(&ctx, new).await.expect("mission");
        channels.push(format!("mission:{}", mission.id));
    }
    // 10,000 subscribe commands, the readable 130 first, then unknown ones.
    let commands: Vec<String> = (0..10_000)
        .map(|n| {
            let channel = channels.get(n).cloned().unwrap_or_else(|| format!("mission:m_{n:032x}"));
            json!({ "id": n + 10, "subscribe": { "channel": channel } }).to_string()
        })
        .collect();
    let (mut greedy, _) = Ws::connect(&server, &ada).await;
    let (mut calm, _) = Ws::connect(&server, &ada).await;
    // Three frames hold 150 subscribes: the 129th closes the connection. (Writing
    // on after the close would make the kernel reset it before the close frame is read.)
    for frame in commands.chunks(50).take(3) {
        greedy.send_text(frame.join("\n")).await;
    }
    assert_eq!(greedy.close_code(Duration::from_secs(20)).await, Some(3505));
    // All 10,000 in one frame is over the message size limit.
    let (mut all_at_once, _) = Ws::connect(&server, &ada).await;
    all_at_once.send_text(commands.join("\n")).await;
    assert_eq!(all_at_once.close_code(Duration::from_secs(20)).await, Some(1009));
    let reply = calm.command("subscribe", json!({ "channel": channels[0] })).await;
    assert!(reply["subscribe"].is_object(), "the server keeps serving others: {reply}");
}
