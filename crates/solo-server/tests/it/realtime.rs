//! The realtime endpoint over real WebSockets: connect, subscribe, publications,
//! recovery, permissions, tokens, pings, bad frames, slow readers, presence,
//! revocation and shutdown.
//!
//! (Past 500 lines: one scenario per protocol rule, each short, sharing this
//! file's client helpers.)

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_domain::{UserId, WorkspaceId};
use solo_server::bus::InProcessBus;
use solo_server::settings::Settings;
use solo_store::Role;

use crate::support::*;
use crate::ws::{token_for, Ws};

const WAIT: Duration = Duration::from_secs(10);

async fn start(configure: impl FnOnce(&mut Settings)) -> TestServer {
    TestServer::start_with(configure, Arc::new(InProcessBus::new())).await
}

async fn stage(server: &TestServer, user: &TestUser, mission: &str, stage: &str) {
    let (status, body) = post(server, user, &format!("/api/missions/{mission}/stage"), json!({ "stage": stage })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Recovery is answered from the publications the hub keeps in memory when it
/// holds them, from the store otherwise; both must give the same answer.
#[tokio::test]
async fn a_stage_change_reaches_a_subscriber_and_a_returning_client_recovers_exactly_what_it_missed() {
    recovers_exactly_what_it_missed(true).await;
}

#[tokio::test]
async fn recovery_from_the_store_when_nothing_is_kept_in_memory() {
    recovers_exactly_what_it_missed(false).await;
}

async fn recovers_exactly_what_it_missed(kept_in_memory: bool) {
    let server = start(|s| {
        if !kept_in_memory {
            s.recovery_cache_bytes = 0;
        }
    })
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Realtime").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let channel = format!("mission:{id}");

    let (mut ws, connected) = Ws::connect(&server, &ada).await;
    assert!(connected["client"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        (connected["ping"].as_i64(), connected["pong"].as_bool(), connected["expires"].as_bool()),
        (Some(25), Some(true), Some(true))
    );
    let sub = ws.command("subscribe", json!({ "channel": channel })).await;
    let sub = &sub["subscribe"];
    assert_eq!(
        (sub["recoverable"].as_bool(), sub["positioned"].as_bool(), sub["offset"].as_u64()),
        (Some(true), Some(true), Some(1))
    );
    let epoch = sub["epoch"].as_str().expect("epoch").to_owned();

    stage(&server, &ada, &id, "spec").await;
    let push = ws.next_publication(WAIT).await.expect("publication");
    assert_eq!(push["push"]["channel"], channel.as_str());
    let publication = &push["push"]["pub"];
    assert_eq!(publication["offset"], 2);
    assert_eq!(publication["data"]["type"], "mission.stage_changed");
    assert_eq!(publication["data"]["data"]["to"], "spec");
    assert_eq!(publication["data"]["version"], 2);
    assert_eq!(publication["tags"]["type"], "mission.stage_changed");
    assert_eq!(publication["tags"]["traceId"], publication["data"]["traceId"]);
    drop(ws);

    // Away for five changes.
    for s in ["build", "review", "done", "review", "build"] {
        stage(&server, &ada, &id, s).await;
    }
    // All five handed to the hub (a change still on its way would arrive live instead).
    eventually("the outbox to drain", WAIT, || async {
        (server.store().unpublished_count().await.expect("outbox") == 0).then_some(())
    })
    .await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let sub =
        ws.command("subscribe", json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": 2 })).await;
    let sub = &sub["subscribe"];
    assert_eq!(sub["recovered"], true);
    assert_eq!(sub["was_recovering"], true);
    assert_eq!(sub["offset"], 7);
    let pubs = sub["publications"].as_array().expect("publications");
    let offsets: Vec<u64> = pubs.iter().map(|p| p["offset"].as_u64().expect("offset")).collect();
    assert_eq!(offsets, vec![3, 4, 5, 6, 7]);
    let stages: Vec<&str> = pubs.iter().map(|p| p["data"]["data"]["to"].as_str().expect("to")).collect();
    assert_eq!(stages, vec!["build", "review", "done", "review", "build"]);
    let metrics = client().get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let from_memory = if kept_in_memory { 1 } else { 0 };
    assert!(metrics.contains(&format!("solo_recoveries_from_memory_total {from_memory}\n")), "{metrics}");

    // And it is live again afterwards, from the next offset.
    stage(&server, &ada, &id, "review").await;
    let push = ws.next_publication(WAIT).await.expect("publication");
    assert_eq!(push["push"]["pub"]["offset"], 8);

    // A stale epoch cannot be recovered: the client is told to reload.
    let (mut other, _) = Ws::connect(&server, &ada).await;
    let sub =
        other.command("subscribe", json!({ "channel": channel, "recover": true, "epoch": "stale", "offset": 2 })).await;
    assert_eq!(sub["subscribe"]["recovered"], false);
    assert!(sub["subscribe"]["publications"].is_null());
    assert_eq!(sub["subscribe"]["offset"], 8);
    server.stop().await;
}

#[tokio::test]
async fn a_client_past_the_recovery_limit_gets_recovered_false_or_error_112() {
    let server = start(|s| s.recovery_max_publications = 3).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Far behind").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let channel = format!("mission:{id}");
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let sub = ws.command("subscribe", json!({ "channel": channel })).await;
    let epoch = sub["subscribe"]["epoch"].as_str().expect("epoch").to_owned();
    drop(ws);
    for s in ["spec", "build", "review", "done"] {
        stage(&server, &ada, &id, s).await;
    }
    // Once all four are published this node holds the latest three in memory;
    // before, it could truthfully recover the two it had delivered so far and
    // let the rest follow live, which is not the case under test.
    eventually("outbox drained", WAIT, || async {
        (server.store().unpublished_count().await.expect("outbox") == 0).then_some(())
    })
    .await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let sub =
        ws.command("subscribe", json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": 1 })).await;
    assert_eq!(sub["subscribe"]["recovered"], false, "{sub}");
    assert_eq!(sub["subscribe"]["offset"], 5);
    let (mut strict, _) = Ws::connect(&server, &ada).await;
    let sub = strict
        .command("subscribe", json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": 1, "flag": 3 }))
        .await;
    assert_eq!(sub["error"]["code"], 112);
    server.stop().await;
}

#[tokio::test]
async fn permissions_unknown_channels_and_methods_get_their_codes() {
    let server = start(|_| {}).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let eve = server.user("eve", "globex", Role::Member).await;
    let mission = create_mission(&server, &ada, "Private").await;
    let mission_channel = format!("mission:{}", mission["id"].as_str().expect("id"));

    let (mut ws, _) = Ws::connect(&server, &eve).await;
    let reply = ws.command("subscribe", json!({ "channel": mission_channel })).await;
    assert_eq!(reply["error"]["code"], 103, "another workspace's mission");
    let reply = ws.command("subscribe", json!({ "channel": format!("notifications:{}", ada.id) })).await;
    assert_eq!(reply["error"]["code"], 103, "another user's notifications");
    let reply = ws.command("subscribe", json!({ "channel": format!("workspace:{}", ada.workspace_id) })).await;
    assert_eq!(reply["error"]["code"], 103);
    let reply = ws.command("subscribe", json!({ "channel": "chat:lobby" })).await;
    assert_eq!(reply["error"]["code"], 102);
    let reply = ws.command("subscribe", json!({ "channel": format!("notifications:{}", eve.id) })).await;
    assert!(reply["subscribe"].is_object(), "own notifications: {reply}");
    let reply = ws.command("subscribe", json!({ "channel": format!("notifications:{}", eve.id) })).await;
    assert_eq!(reply["error"]["code"], 105);
    let reply =
        ws.command("publish", json!({ "channel": format!("notifications:{}", eve.id), "data": {"x": 1} })).await;
    assert_eq!(reply["error"]["code"], 103, "clients cannot publish");
    let reply = ws.command("rpc", json!({ "method": "anything", "data": {} })).await;
    assert_eq!(reply["error"]["code"], 104);
    let reply = ws.command("presence", json!({ "channel": mission_channel })).await;
    assert_eq!(reply["error"]["code"], 103);
    let reply = ws.command("history", json!({ "channel": mission_channel, "limit": 10 })).await;
    assert_eq!(reply["error"]["code"], 103);

    // A member of the same workspace may, and reads history too.
    let (mut ws, _) = Ws::connect(&server, &bo).await;
    let reply = ws.command("history", json!({ "channel": mission_channel, "limit": 10 })).await;
    assert_eq!(reply["history"]["publications"][0]["data"]["type"], "mission.created", "{reply}");
    let reply = ws.command("unsubscribe", json!({ "channel": mission_channel })).await;
    assert!(reply["unsubscribe"].is_object());

    // Anything before connect is a protocol violation.
    let mut early = Ws::open(&server).await;
    early.send_text(json!({ "id": 1, "subscribe": { "channel": mission_channel } }).to_string()).await;
    assert_eq!(early.close_code(WAIT).await, Some(3501));
    server.stop().await;
}

#[tokio::test]
async fn invalid_tokens_close_3500_and_expired_ones_get_109_then_refresh_works() {
    let server = start(|_| {}).await;
    let ada = server.user("ada", "acme", Role::Member).await;

    let mut ws = Ws::open(&server).await;
    ws.send_text(json!({ "id": 1, "connect": { "token": "not.a.jwt" } }).to_string()).await;
    assert_eq!(ws.close_code(WAIT).await, Some(3500));

    let past = solo_domain::time::now_ms() / 1000 - 3600;
    let (expired, _) = server.state.tokens().issue(&ada.id, json!({ "name": "ada" }), "pat_x", past).expect("issue");
    let mut ws = Ws::open(&server).await;
    let reply = ws.command("connect", json!({ "token": expired })).await;
    assert_eq!(reply["error"]["code"], 109);
    let fresh = token_for(&server, &ada).await;
    let reply = ws.command("connect", json!({ "token": fresh })).await;
    assert!(reply["connect"]["client"].is_string(), "{reply}");
    let reply = ws.command("refresh", json!({ "token": token_for(&server, &ada).await })).await;
    assert_eq!(reply["refresh"]["expires"], true);
    assert!(reply["refresh"]["ttl"].as_i64().is_some_and(|t| t > 500));
    let reply = ws.command("refresh", json!({ "token": expired })).await;
    assert_eq!(reply["error"]["code"], 109);

    // A token minted for a deleted-or-unknown user is refused too.
    let stranger = UserId::generate();
    let (orphan, _) = server.state.tokens().issue(stranger.as_str(), json!({}), "pat_x", past + 3600).expect("issue");
    let mut ws = Ws::open(&server).await;
    ws.send_text(json!({ "id": 1, "connect": { "token": orphan } }).to_string()).await;
    assert_eq!(ws.close_code(WAIT).await, Some(3500));
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_pong_is_closed_3012_and_one_that_never_connects_3502() {
    let server = start(|s| {
        s.ping_interval_secs = 1;
        s.pong_timeout_secs = 1;
        s.connect_timeout_secs = 1;
    })
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (mut ws, connected) = Ws::connect(&server, &ada).await;
    assert_eq!(connected["ping"], 1);
    ws.auto_pong = false;
    assert_eq!(ws.close_code(WAIT).await, Some(3012));

    let (mut polite, _) = Ws::connect(&server, &ada).await;
    // Keep reading (and so answering pings) for a few ping intervals.
    assert!(polite.next_push(Duration::from_millis(3500)).await.is_none(), "nothing but pings arrives");
    let reply = polite.command("presence_stats", json!({ "channel": format!("workspace:{}", ada.workspace_id) })).await;
    assert!(reply["presence_stats"].is_object(), "a client that pongs stays: {reply}");
    assert!(polite.pings_seen >= 2);

    let mut silent = Ws::open(&server).await;
    assert_eq!(silent.close_code(WAIT).await, Some(3502));
    server.stop().await;
}

#[tokio::test]
async fn garbage_and_oversized_frames_close_that_client_only() {
    let server = start(|s| s.ws_max_message_bytes = 4096).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Robust").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let (mut bystander, _) = Ws::connect(&server, &ada).await;
    bystander.command("subscribe", json!({ "channel": format!("mission:{id}") })).await;

    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.send_text("this is not json".into()).await;
    assert_eq!(ws.close_code(WAIT).await, Some(3501));
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.send_text(json!({ "id": 5, "subscribe": { "channel": "x" }, "unsubscribe": { "channel": "y" } }).to_string())
        .await;
    assert_eq!(ws.close_code(WAIT).await, Some(3501), "two methods in one command");
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.send_binary(vec![0, 159, 146, 150]).await;
    assert_eq!(ws.close_code(WAIT).await, Some(3501));
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.send_text(format!("{{\"id\":1,\"rpc\":{{\"method\":\"{}\"}}}}", "x".repeat(10_000))).await;
    assert_eq!(ws.close_code(WAIT).await, Some(1009));
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.send_text("{}".into()).await;
    assert_eq!(ws.close_code(WAIT).await, Some(3501), "a pong with no ping outstanding");

    // Everyone else is still served.
    stage(&server, &ada, &id, "spec").await;
    let push = bystander.next_publication(WAIT).await.expect("publication");
    assert_eq!(push["push"]["pub"]["offset"], 2);
    server.stop().await;
}

#[tokio::test]
async fn several_commands_in_one_frame_are_answered_in_order() {
    let server = start(|_| {}).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let ws_channel = format!("workspace:{}", ada.workspace_id);
    let own = format!("notifications:{}", ada.id);
    ws.send_text(format!(
        "{}\n{}\n{}\n",
        json!({ "id": 10, "subscribe": { "channel": ws_channel } }),
        json!({ "id": 11, "subscribe": { "channel": own } }),
        json!({ "id": 12, "presence_stats": { "channel": ws_channel } }),
    ))
    .await;
    let reply = ws.command("presence_stats", json!({ "channel": ws_channel })).await;
    assert_eq!(reply["presence_stats"]["num_clients"], 1);
    let mut ids = Vec::new();
    while let Some(push) = ws.next_push(Duration::from_millis(200)).await {
        ids.push(push["id"].as_u64().unwrap_or(0));
    }
    assert_eq!(ids, vec![10, 11, 12]);
    server.stop().await;
}

#[tokio::test]
async fn presence_counts_users_not_tabs_and_announces_joins_and_leaves() {
    let server = start(|_| {}).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let channel = format!("workspace:{}", ada.workspace_id);

    let (mut watcher, _) = Ws::connect(&server, &bo).await;
    watcher.command("subscribe", json!({ "channel": channel, "join_leave": true })).await;
    let (mut tab1, _) = Ws::connect(&server, &ada).await;
    tab1.command("subscribe", json!({ "channel": channel })).await;
    let (mut tab2, _) = Ws::connect(&server, &ada).await;
    tab2.command("subscribe", json!({ "channel": channel })).await;

    let stats = watcher.command("presence_stats", json!({ "channel": channel })).await;
    assert_eq!(
        (stats["presence_stats"]["num_clients"].as_u64(), stats["presence_stats"]["num_users"].as_u64()),
        (Some(3), Some(2))
    );
    let presence = watcher.command("presence", json!({ "channel": channel })).await;
    let clients = presence["presence"]["presence"].as_object().expect("presence map");
    assert_eq!(clients.len(), 3);
    assert!(clients.values().any(|c| c["user"] == ada.id.as_str() && c["conn_info"]["name"] == "ada"));

    let joins: Vec<Value> = {
        let mut joins = Vec::new();
        while joins.len() < 2 {
            let push = watcher.next_push(WAIT).await.expect("join");
            if push["push"]["join"].is_object() {
                joins.push(push);
            }
        }
        joins
    };
    assert!(joins.iter().all(|j| j["push"]["join"]["info"]["user"] == ada.id.as_str()));

    let (_, summary) = get(&server, &ada, "/api/presence").await;
    assert_eq!(summary["items"][0]["people"]["online"], 2, "{summary}");

    drop(tab1);
    let leave = loop {
        let push = watcher.next_push(WAIT).await.expect("leave");
        if push["push"]["leave"].is_object() {
            break push;
        }
    };
    assert_eq!(leave["push"]["leave"]["info"]["user"], ada.id.as_str());
    let stats = watcher.command("presence_stats", json!({ "channel": channel })).await;
    assert_eq!(stats["presence_stats"]["num_users"], 2, "ada still has a tab open");
    drop(tab2);
    server.stop().await;
}

#[tokio::test]
async fn revoking_a_token_or_a_membership_ends_live_access_within_seconds() {
    let server = start(|s| s.revalidate_interval_ms = 200).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Guarded").await;
    let channel = format!("mission:{}", mission["id"].as_str().expect("id"));

    let (mut ws, _) = Ws::connect(&server, &bo).await;
    ws.command("subscribe", json!({ "channel": channel })).await;
    let removed = server
        .store()
        .remove_membership(&WorkspaceId::parse(&bo.workspace_id).expect("ws"), &UserId::parse(&bo.id).expect("id"))
        .await
        .expect("remove");
    assert!(removed);
    let started = tokio::time::Instant::now();
    let push = loop {
        let push = ws.next_push(Duration::from_secs(5)).await.expect("unsubscribe push");
        if push["push"]["unsubscribe"].is_object() {
            break push;
        }
    };
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(push["push"]["channel"], channel.as_str());
    assert_eq!(push["push"]["unsubscribe"]["code"], 2000);

    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.command("subscribe", json!({ "channel": channel })).await;
    let (_, tokens) = get(&server, &ada, "/api/tokens").await;
    let token_id = tokens["items"][0]["id"].as_str().expect("id").to_owned();
    // Revoke with a second token, so the request itself is allowed.
    let (_, second) = post(&server, &ada, "/api/tokens", json!({ "name": "admin" })).await;
    let revoke = client()
        .delete(server.url(&format!("/api/tokens/{token_id}")))
        .bearer_auth(second["token"].as_str().expect("token"))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(3500));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_clients_with_3001() {
    let server = start(|_| {}).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(ws.close_code(WAIT).await, Some(3001));
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn a_slow_reader_is_closed_3008_while_a_thousand_others_keep_receiving() {
    const HEALTHY: usize = 1000;
    const EVENTS: usize = 200;
    let server = TestServer::start_custom(
        |s| {
            s.ws_queue_capacity = 64;
            s.dispatch_batch = 16;
            // One user holds every connection here.
            s.ws_max_connections_per_user = HEALTHY + 10;
        },
        Arc::new(InProcessBus::new()),
        Some(4096),
    )
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let channel = format!("workspace:{}", ada.workspace_id);
    let token = token_for(&server, &ada).await;

    let mut healthy = Vec::with_capacity(HEALTHY);
    for _ in 0..HEALTHY {
        let mut ws = Ws::open(&server).await;
        let reply = ws.command("connect", json!({ "token": token })).await;
        assert!(reply["connect"].is_object());
        ws.command("subscribe", json!({ "channel": channel })).await;
        healthy.push(ws);
    }
    let mut slow = Ws::open_small(&server, 4096).await;
    slow.command("connect", json!({ "token": token })).await;
    slow.command("subscribe", json!({ "channel": channel })).await;
    // From here on the slow client reads nothing until the server gives up on it.

    // Each healthy reader reports how far it got, so the publisher can pace
    // itself to them: a healthy reader must never fall a queue behind, however
    // slow this machine is, while the slow one never reads at all.
    let progress: Vec<Arc<std::sync::atomic::AtomicUsize>> =
        (0..HEALTHY).map(|_| Arc::new(std::sync::atomic::AtomicUsize::new(0))).collect();
    let readers: Vec<_> = healthy
        .into_iter()
        .zip(&progress)
        .map(|(mut ws, progress)| {
            let progress = Arc::clone(progress);
            tokio::spawn(async move {
                let mut offsets = Vec::with_capacity(EVENTS);
                while offsets.len() < EVENTS {
                    let Some(push) = ws.next_publication(Duration::from_secs(60)).await else { break };
                    offsets.push(push["push"]["pub"]["offset"].as_u64().unwrap_or(0));
                    progress.store(offsets.len(), std::sync::atomic::Ordering::Release);
                }
                offsets
            })
        })
        .collect();
    let body = "x".repeat(300);
    let ctx = solo_store::WriteContext::user(UserId::parse(&ada.id).expect("id"), "");
    for round in 0..EVENTS / 20 {
        for _ in 0..20 {
            server
                .store()
                .create_post(
                    &ctx,
                    solo_store::NewPost {
                        workspace_id: WorkspaceId::parse(&ada.workspace_id).expect("ws"),
                        author_id: UserId::parse(&ada.id).expect("id"),
                        body: body.clone(),
                        mentions: vec![],
                    },
                )
                .await
                .expect("post");
        }
        let published = (round + 1) * 20;
        let caught_up = async {
            while progress.iter().any(|p| p.load(std::sync::atomic::Ordering::Acquire) < published) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        // A reader that stopped (closed) never catches up: the assertion below says which.
        let _ = tokio::time::timeout(Duration::from_secs(60), caught_up).await;
    }
    let expected: Vec<u64> = (1..=EVENTS as u64).collect();
    for reader in readers {
        assert_eq!(reader.await.expect("reader"), expected, "every healthy subscriber gets every publication in order");
    }
    assert_eq!(slow.close_code(Duration::from_secs(30)).await, Some(3008));
    let metrics = client().get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.lines().any(|l| l.starts_with("solo_slow_consumer_closes_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn recovery_survives_a_server_restart() {
    let server = start(|_| {}).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Durable").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let channel = format!("mission:{id}");
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let sub = ws.command("subscribe", json!({ "channel": channel })).await;
    let epoch = sub["subscribe"]["epoch"].as_str().expect("epoch").to_owned();
    drop(ws);
    stage(&server, &ada, &id, "spec").await;
    stage(&server, &ada, &id, "build").await;

    let server = server.restart().await;
    stage(&server, &ada, &id, "review").await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let sub =
        ws.command("subscribe", json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": 1 })).await;
    assert_eq!(sub["subscribe"]["recovered"], true, "{sub}");
    assert_eq!(sub["subscribe"]["epoch"], epoch.as_str(), "the epoch survives the restart");
    let offsets: Vec<u64> = sub["subscribe"]["publications"]
        .as_array()
        .expect("pubs")
        .iter()
        .map(|p| p["offset"].as_u64().expect("o"))
        .collect();
    assert_eq!(offsets, vec![2, 3, 4]);
    server.stop().await;
}

/// Every open connection holds its task: tokio allocates a task in steps of
/// 128 bytes, and a future of at most 272 bytes keeps it at 384 (the task's own
/// header and trailer take the rest). A field added to the session, the reader
/// or the wait, or an argument kept twice, crosses the step and costs every idle
/// connection another 128 bytes (bench/RESULTS.md, "Memory per connection").
#[tokio::test]
async fn an_idle_connections_task_fits_its_allocation_step() {
    let server = start(|_| {}).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let _client = tokio::net::TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
    let (socket, _) = listener.accept().await.expect("accept");
    let engine = server.state.engine().clone();
    let serving = engine.clone().serve_websocket(socket, Default::default(), Default::default());
    let size = std::mem::size_of_val(&serving);
    assert!(size <= 272, "the connection task's future is {size} bytes");
    assert_eq!(engine.hub().connection_count(), 1, "the connection is registered before its task runs");
    drop(serving);
    assert_eq!(engine.hub().connection_count(), 0, "a task dropped unstarted still leaves the hub");
}
