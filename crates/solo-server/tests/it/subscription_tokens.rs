//! Integrators' channels and subscription tokens against a real server: the
//! server API publishes into a configured namespace, a client reads it only
//! with a token for its user and that channel, refreshes it, and loses the
//! subscription (2501) when the token runs out unrefreshed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_domain::time::now_ms;
use solo_server::bus::InProcessBus;
use solo_server::settings::Secret;
use solo_store::Role;

use crate::support::*;
use crate::ws::Ws;

const KEY: &str = "server-api-test-key-0123456789";
const WAIT: Duration = Duration::from_secs(10);

async fn start() -> TestServer {
    TestServer::start_with(
        |s| {
            s.server_api_key = Some(Secret::new(KEY));
            s.integration_namespaces = "chat, billing".into();
            s.refresh_grace_secs = 0;
        },
        Arc::new(InProcessBus::new()),
    )
    .await
}

async fn publish(server: &TestServer, channel: &str, data: Value) -> Value {
    let response = client()
        .post(server.url("/centrifugo/api/publish"))
        .header("X-API-Key", KEY)
        .json(&json!({ "channel": channel, "data": data }))
        .send()
        .await
        .expect("publish");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// A subscription token as the integrator's backend would sign it, valid for `secs`.
fn token(server: &TestServer, user: &TestUser, channel: &str, secs: i64) -> String {
    server.state.engine().tokens().issue_subscription(&user.id, channel, now_ms() / 1000 + secs).expect("token")
}

#[tokio::test]
async fn a_subscription_token_opens_an_integration_channel_to_its_user_only() {
    let server = start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;

    let lobby = "chat:lobby";
    let reply = ws.command("subscribe", json!({ "channel": lobby })).await;
    assert_eq!(reply["error"]["code"], 103, "no token: {reply}");
    let reply = ws.command("subscribe", json!({ "channel": lobby, "token": token(&server, &bo, lobby, 60) })).await;
    assert_eq!(reply["error"]["code"], 103, "another user's token: {reply}");
    let reply =
        ws.command("subscribe", json!({ "channel": lobby, "token": token(&server, &ada, "chat:other", 60) })).await;
    assert_eq!(reply["error"]["code"], 103, "another channel's token: {reply}");
    let reply = ws.command("subscribe", json!({ "channel": lobby, "token": token(&server, &ada, lobby, -5) })).await;
    assert_eq!(reply["error"]["code"], 109, "an expired token asks for a new one: {reply}");
    let reply =
        ws.command("subscribe", json!({ "channel": "games:x", "token": token(&server, &ada, "games:x", 60) })).await;
    assert_eq!(reply["error"]["code"], 102, "a namespace nobody configured: {reply}");
    let reply = ws.command("history", json!({ "channel": lobby, "limit": 10 })).await;
    assert_eq!(reply["error"]["code"], 103, "history only through the subscription: {reply}");

    let reply = ws.command("subscribe", json!({ "channel": lobby, "token": token(&server, &ada, lobby, 60) })).await;
    let subscribed = &reply["subscribe"];
    assert_eq!(
        (subscribed["expires"].as_bool(), subscribed["recoverable"].as_bool()),
        (Some(true), Some(true)),
        "{reply}"
    );
    assert!((55..=60).contains(&subscribed["ttl"].as_i64().unwrap_or(0)), "{reply}");

    let published = publish(&server, lobby, json!({ "text": "hello" })).await;
    assert!(published["result"]["offset"].as_u64().is_some(), "{published}");
    let publication = ws.next_publication(WAIT).await.expect("a publication");
    assert_eq!(publication["push"]["channel"], lobby);
    assert_eq!(publication["push"]["pub"]["data"]["data"]["data"], json!({ "text": "hello" }), "{publication}");
    let history = ws.command("history", json!({ "channel": lobby, "limit": 10 })).await;
    assert_eq!(history["history"]["publications"].as_array().map(Vec::len), Some(1), "{history}");
    let presence = ws.command("presence", json!({ "channel": lobby })).await;
    assert_eq!(presence["presence"].as_object().map(|p| p.len()), Some(1), "{presence}");

    // A new token moves the end; a token that is not for this subscription does not.
    let refreshed =
        ws.command("sub_refresh", json!({ "channel": lobby, "token": token(&server, &ada, lobby, 120) })).await;
    assert_eq!(refreshed["sub_refresh"]["expires"], true, "{refreshed}");
    assert!(refreshed["sub_refresh"]["ttl"].as_i64().unwrap_or(0) > 60, "{refreshed}");
    let wrong = ws.command("sub_refresh", json!({ "channel": lobby, "token": token(&server, &bo, lobby, 120) })).await;
    assert_eq!(wrong["error"]["code"], 103, "{wrong}");
    let product =
        ws.command("sub_refresh", json!({ "channel": format!("notifications:{}", ada.id), "token": "x" })).await;
    assert_eq!(product["error"]["code"], 103, "product channels have no token: {product}");
    server.stop().await;
}

#[tokio::test]
async fn a_subscription_whose_token_runs_out_unrefreshed_ends_with_2501() {
    let server = start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.auto_pong = true;
    let channel = "billing:acct-7";
    let reply = ws.command("subscribe", json!({ "channel": channel, "token": token(&server, &ada, channel, 1) })).await;
    assert!(reply["subscribe"].is_object(), "{reply}");

    let push = loop {
        let push = ws.next_push(WAIT).await.expect("the unsubscribe push");
        if push["push"]["unsubscribe"].is_object() {
            break push;
        }
    };
    assert_eq!(push["push"]["channel"], channel);
    assert_eq!(push["push"]["unsubscribe"]["code"], 2501, "{push}");
    publish(&server, channel, json!({ "n": 1 })).await;
    assert!(ws.next_publication(Duration::from_millis(500)).await.is_none(), "nothing after it ended");
    server.stop().await;
}

#[tokio::test]
async fn integration_namespaces_are_checked_when_the_server_starts() {
    let mut settings =
        solo_server::settings::Settings { integration_namespaces: "chat, mission".into(), ..Default::default() };
    assert!(settings.validate().is_err(), "a product namespace is not an integrator's");
    settings.integration_namespaces = "chat room".into();
    assert!(settings.validate().is_err());
    settings.integration_namespaces = "chat, billing-eu".into();
    assert!(settings.validate().is_ok());
}
