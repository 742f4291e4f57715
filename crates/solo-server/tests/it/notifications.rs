//! Notifications: rules, the inbox API, idempotency, quiet hours, read-all
//! watermarks, and the live unread count.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_server::bus::InProcessBus;
use solo_store::Role;

use crate::support::*;
use crate::ws::Ws;

async fn inbox(server: &TestServer, user: &TestUser) -> Vec<Value> {
    let (status, page) = get(server, user, "/api/notifications?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").clone()
}

async fn notify(server: &TestServer, user: &TestUser, target: &TestUser, body: Value) -> (StatusCode, Value) {
    let mut body = body;
    body["userId"] = json!(target.id);
    post(server, user, "/api/notifications", body).await
}

#[tokio::test]
async fn rules_notify_the_right_people_once_even_when_the_dispatcher_retries() {
    let bus = FlakyBus::new();
    let server = TestServer::start_with(
        |s| {
            s.heartbeat_interval_secs = 1;
            s.sweep_interval_ms = 100;
            s.dispatch_max_backoff_ms = 100;
        },
        bus.clone(),
    )
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let cy = server.user("cy", "acme", Role::Member).await;
    let (_, mission) = post(&server, &ada, "/api/missions", json!({ "title": "Rules", "watcherIds": [bo.id] })).await;
    let id = mission["id"].as_str().expect("id").to_owned();

    bus.failing.store(true, Ordering::SeqCst);
    post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "spec" })).await;
    post(&server, &ada, &format!("/api/missions/{id}/stage"), json!({ "stage": "build" })).await;
    post(
        &server,
        &bo,
        &format!("/api/missions/{id}/reviews"),
        json!({ "decision": "changes_requested", "comment": "tests?" }),
    )
    .await;
    post(
        &server,
        &bo,
        &format!("/api/missions/{id}/fallbacks"),
        json!({ "reason": "agent crashed", "summary": "retry on rig 2" }),
    )
    .await;
    post(&server, &bo, "/api/community/posts", json!({ "body": "thanks @ada and @cy, and me @bo" })).await;
    let before = bus.attempts.load(Ordering::SeqCst);
    eventually("retries", Duration::from_secs(10), || async {
        (bus.attempts.load(Ordering::SeqCst) >= before + 3).then_some(())
    })
    .await;
    bus.failing.store(false, Ordering::SeqCst);
    eventually("outbox drained", Duration::from_secs(10), || async {
        (server.store().unpublished_count().await.ok()? == 0).then_some(())
    })
    .await;

    let types = |items: &[Value]| -> Vec<String> {
        items.iter().rev().map(|n| n["type"].as_str().expect("type").to_owned()).collect()
    };
    let ada_inbox = inbox(&server, &ada).await;
    assert_eq!(
        types(&ada_inbox),
        vec!["mission.stage_changed", "review.decided", "fallback.generated", "community.posted"]
    );
    let review = ada_inbox.iter().find(|n| n["type"] == "review.decided").expect("review");
    assert_eq!((review["severity"].as_str(), review["category"].as_str()), (Some("warning"), Some("missions")));
    assert_eq!(review["body"], "tests?");
    let bo_inbox = inbox(&server, &bo).await;
    assert_eq!(types(&bo_inbox), vec!["mission.stage_changed"], "the watcher hears ada's move, not their own");
    assert_eq!(bo_inbox[0]["title"], "“Rules” moved to build");
    let cy_inbox = inbox(&server, &cy).await;
    assert_eq!(types(&cy_inbox), vec!["community.posted"]);
    assert_eq!(cy_inbox[0]["category"], "community");

    // Each notification has exactly one notification.created event on its user's channel.
    let (_, events) = get(&server, &ada, &format!("/api/events?channel=notifications:{}", ada.id)).await;
    let created: Vec<&Value> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["event"]["type"] == "notification.created")
        .collect();
    assert_eq!(created.len(), 4);
    assert_eq!(created[3]["event"]["data"]["unread"]["total"], 4);

    // Workstation health notifies its owner, warning then urgent: the urgent
    // one replaces the unread warning (same workstation, same type).
    let (_, station) = post(&server, &ada, "/api/workstations", json!({ "name": "rig" })).await;
    post(
        &server,
        &ada,
        &format!("/api/workstations/{}/heartbeat", station["id"].as_str().expect("id")),
        json!({ "agents": [] }),
    )
    .await;
    let items = eventually("offline notification", Duration::from_secs(15), || async {
        let items = inbox(&server, &ada).await;
        items.iter().any(|n| n["category"] == "workstations" && n["severity"] == "urgent").then_some(items)
    })
    .await;
    let health: Vec<(&str, &str, i64)> = items
        .iter()
        .filter(|n| n["category"] == "workstations")
        .map(|n| {
            (
                n["title"].as_str().expect("title"),
                n["severity"].as_str().expect("severity"),
                n["updates"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(health, vec![("Workstation “rig” is offline", "urgent", 1)]);
    let (_, events) = get(&server, &ada, &format!("/api/events?channel=notifications:{}", ada.id)).await;
    let updated = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["event"]["type"] == "notification.updated")
        .count();
    assert_eq!(updated, 1, "the replacement is announced as notification.updated");
    server.stop().await;
}

#[tokio::test]
async fn direct_creation_is_authorized_and_idempotent() {
    let server = TestServer::start().await;
    let admin = server.user("ada", "acme", Role::Admin).await;
    let member = server.user("bo", "acme", Role::Member).await;
    let stranger = server.user("eve", "globex", Role::Admin).await;
    let note = json!({ "category": "system", "title": "Deploy at 5", "severity": "warning", "link": "/board" });

    let (status, own) = notify(&server, &member, &member, note.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    assert_eq!(
        (own["type"].as_str(), own["quiet"].as_bool(), own["readAt"].is_null()),
        (Some("direct"), Some(false), true)
    );
    let (status, _) = notify(&server, &member, &admin, note.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a plain member cannot notify others");
    let (status, _) = notify(&server, &admin, &member, note.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "a workspace admin can");
    let (status, _) = notify(&server, &stranger, &member, note.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no shared workspace: the user is not revealed");
    // A token cannot grant more than the token creating it, so the bot's comes from the admin path.
    let (status, refused) =
        post(&server, &member, "/api/tokens", json!({ "name": "bot", "scopes": ["notifications:write"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let member_record = server
        .store()
        .user_by_id(&solo_domain::UserId::parse(&member.id).expect("id"))
        .await
        .expect("lookup")
        .expect("user");
    let scopes = vec!["read".to_owned(), "write".to_owned(), "notifications:write".to_owned()];
    let (secret, _) = solo_server::routes::tokens::issue_token(server.store(), &member_record, "bot", scopes, None)
        .await
        .expect("token");
    let bot = TestUser { pat: secret, ..member.clone() };
    let (status, _) = notify(&server, &bot, &admin, note.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "a token with notifications:write can");

    let send = |key: &'static str, body: Value| {
        let (server, user, target) = (&server, &admin, &member);
        async move {
            let mut body = body;
            body["userId"] = json!(target.id);
            let r = client()
                .post(server.url("/api/notifications"))
                .bearer_auth(&user.pat)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .expect("post");
            let status = r.status();
            (status, r.json::<Value>().await.expect("json"))
        }
    };
    let (first_status, first) = send("deploy-42", note.clone()).await;
    let (again_status, again) = send("deploy-42", note.clone()).await;
    assert_eq!((first_status, again_status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["id"], again["id"]);
    let (status, error) = send("deploy-42", json!({ "category": "system", "title": "Deploy at 6" })).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key_reused")));
    let titles: Vec<String> =
        inbox(&server, &member).await.iter().map(|n| n["title"].as_str().expect("t").to_owned()).collect();
    assert_eq!(titles.len(), 3, "own + admin's + the idempotent one once (the bot's went to the admin): {titles:?}");

    for (body, code) in [
        (json!({ "category": "gossip", "title": "x" }), "invalid_body"),
        (json!({ "category": "system", "title": "" }), "validation_failed"),
        (json!({ "category": "system", "title": "x", "link": "javascript:alert(1)" }), "validation_failed"),
        (json!({ "category": "system", "title": "x", "severity": "apocalyptic" }), "invalid_body"),
    ] {
        let (status, error) = notify(&server, &member, &member, body).await;
        assert_eq!((status, error["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)));
    }
    server.stop().await;
}

#[tokio::test]
async fn inbox_filters_pages_read_state_and_the_read_all_watermark() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mut ids = Vec::new();
    for (i, category) in ["missions", "workstations", "community", "system", "missions"].iter().enumerate() {
        let (_, n) = notify(&server, &ada, &ada, json!({ "category": category, "title": format!("n{i}") })).await;
        ids.push(n["id"].as_str().expect("id").to_owned());
    }
    let (_, missions) = get(&server, &ada, "/api/notifications?category=missions").await;
    assert_eq!(missions["items"].as_array().map(Vec::len), Some(2));
    let (status, _) = get(&server, &ada, "/api/notifications?category=gossip").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Cursor pages, newest first, covering everything once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/notifications?limit=2&cursor={c}"),
            None => "/api/notifications?limit=2".to_owned(),
        };
        let (_, page) = get(&server, &ada, &path).await;
        seen.extend(
            page["items"].as_array().expect("items").iter().map(|n| n["title"].as_str().expect("t").to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec!["n4", "n3", "n2", "n1", "n0"]);

    let (_, read) = post(&server, &ada, &format!("/api/notifications/{}/read", ids[0]), json!({})).await;
    assert!(read["readAt"].is_string());
    assert_eq!(read["version"], 2);
    let (_, again) = post(&server, &ada, &format!("/api/notifications/{}/read", ids[0]), json!({})).await;
    assert_eq!(again["version"], 2, "reading twice changes nothing");
    let (_, unread) = get(&server, &ada, "/api/notifications?unread=true").await;
    assert_eq!(unread["items"].as_array().map(Vec::len), Some(4));
    assert_eq!(unread["unreadCount"], 4);
    let (_, back) = post(&server, &ada, &format!("/api/notifications/{}/unread", ids[0]), json!({})).await;
    assert!(back["readAt"].is_null());

    // Read-all up to what the user saw: a notification arriving afterwards stays unread.
    let (_, page) = get(&server, &ada, "/api/notifications?limit=1").await;
    let watermark = page["items"][0]["createdAt"].as_str().expect("createdAt").to_owned();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, late) = notify(&server, &ada, &ada, json!({ "category": "missions", "title": "late" })).await;
    let (status, result) = post(&server, &ada, "/api/notifications/read-all", json!({ "watermark": watermark })).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["marked"], 5);
    assert_eq!(result["unread"]["total"], 1);
    let (_, still) = get(&server, &ada, "/api/notifications?unread=true").await;
    assert_eq!(still["items"][0]["id"], late["id"]);
    // By category.
    let (_, r) = post(&server, &ada, "/api/notifications/read-all", json!({ "category": "system" })).await;
    assert_eq!(r["marked"], 0);
    let (_, counts) = get(&server, &ada, "/api/notifications/unread-count").await;
    assert_eq!(counts["total"], 1);
    assert_eq!(counts["byCategory"]["missions"], 1);
    let (status, _) =
        post(&server, &ada, &format!("/api/notifications/{}/read", "n_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f"), json!({}))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn quiet_hours_are_stored_validated_and_honoured() {
    let server = TestServer::start_with(|s| s.default_quiet_hours = "off".into(), Arc::new(InProcessBus::new())).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (_, prefs) = get(&server, &ada, "/api/me/preferences").await;
    assert_eq!(prefs["quietHours"]["enabled"], false);

    // A window around "now" in UTC.
    let now_minutes = (solo_domain::time::now_ms() / 60_000) % 1440;
    let hhmm = |m: i64| format!("{:02}:{:02}", m.rem_euclid(1440) / 60, m.rem_euclid(1440) % 60);
    let window = json!({ "enabled": true, "start": hhmm(now_minutes - 60), "end": hhmm(now_minutes + 60), "timezone": "UTC", "allowUrgent": true });
    let response = client()
        .put(server.url("/api/me/preferences"))
        .bearer_auth(&ada.pat)
        .json(&json!({ "quietHours": window }))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::OK);
    let (_, quiet) = notify(&server, &ada, &ada, json!({ "category": "system", "title": "shh" })).await;
    assert_eq!(quiet["quiet"], true);
    let (_, urgent) =
        notify(&server, &ada, &ada, json!({ "category": "system", "title": "fire", "severity": "urgent" })).await;
    assert_eq!(urgent["quiet"], false, "urgent passes when allowed");

    for bad in [
        json!({ "enabled": true, "start": "25:00", "end": "07:00", "timezone": "UTC", "allowUrgent": true }),
        json!({ "enabled": true, "start": "22:00", "end": "07:00", "timezone": "Mars/Base", "allowUrgent": true }),
        json!({ "enabled": true, "start": "22:00", "end": "22:00", "timezone": "UTC", "allowUrgent": true }),
    ] {
        let r = client()
            .put(server.url("/api/me/preferences"))
            .bearer_auth(&ada.pat)
            .json(&json!({ "quietHours": bad }))
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["code"], "invalid_quiet_hours");
    }
    server.stop().await;

    // A server default applies to users who set none.
    let server =
        TestServer::start_with(|s| s.default_quiet_hours = "00:00-23:59 UTC".into(), Arc::new(InProcessBus::new()))
            .await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let (_, prefs) = get(&server, &bo, "/api/me/preferences").await;
    assert_eq!(
        (prefs["quietHours"]["enabled"].as_bool(), prefs["quietHours"]["end"].as_str()),
        (Some(true), Some("23:59"))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_pushed_unread_count_matches_the_api_after_a_concurrent_burst() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    ws.command("subscribe", json!({ "channel": format!("notifications:{}", ada.id) })).await;

    let mut tasks = Vec::new();
    for i in 0..24 {
        let (base, user) = (server.base.clone(), ada.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            let n: Value = http
                .post(format!("{base}/api/notifications"))
                .bearer_auth(&user.pat)
                .json(&json!({ "userId": user.id, "category": "system", "title": format!("burst {i}") }))
                .send()
                .await
                .expect("create")
                .json()
                .await
                .expect("json");
            if i % 3 == 0 {
                let id = n["id"].as_str().expect("id");
                http.post(format!("{base}/api/notifications/{id}/read"))
                    .bearer_auth(&user.pat)
                    .send()
                    .await
                    .expect("read");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let (_, counts) = get(&server, &ada, "/api/notifications/unread-count").await;
    assert_eq!(counts["total"], 16);
    let target_version = counts["countsVersion"].as_i64().expect("version");
    assert_eq!(target_version, 32, "one version per change: 24 creates and 8 reads");

    let mut latest: HashMap<&str, i64> = HashMap::new();
    let mut last_counts = Value::Null;
    let mut versions = Vec::new();
    while latest.get("v").copied().unwrap_or(0) < target_version {
        let push = ws.next_publication(Duration::from_secs(10)).await.expect("notification push");
        let unread = push["push"]["pub"]["data"]["data"]["unread"].clone();
        let version = unread["countsVersion"].as_i64().expect("countsVersion");
        versions.push(version);
        if version > latest.get("v").copied().unwrap_or(0) {
            latest.insert("v", version);
            last_counts = unread;
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=32).collect::<Vec<i64>>(), "every change pushed once, none missing");
    assert_eq!(last_counts["total"], counts["total"]);
    assert_eq!(last_counts["byCategory"], counts["byCategory"]);
    server.stop().await;
}

/// Every notification of `user`'s, in every state (inbox, snoozed, done), sorted.
async fn all_ids(server: &TestServer, user: &TestUser) -> Vec<String> {
    let (_, page) = get(server, user, "/api/notifications?state=all&limit=100").await;
    let mut ids: Vec<String> =
        page["items"].as_array().expect("items").iter().filter_map(|n| n["id"].as_str().map(str::to_owned)).collect();
    ids.sort();
    ids
}

/// Retention: notifications read longer ago than the limit leave the inbox;
/// unread ones and recently read ones stay, and the unread count is untouched.
#[tokio::test]
async fn read_notifications_past_the_retention_age_leave_the_inbox_and_unread_ones_stay() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mut ids = Vec::new();
    for title in ["one", "two", "three", "four"] {
        let (status, created) = notify(&server, &ada, &ada, json!({ "category": "system", "title": title })).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    for id in &ids[..2] {
        let (status, _) = post(&server, &ada, &format!("/api/notifications/{id}/read"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    // Snoozed for 200 days: out of the inbox, read until it wakes, never trimmed meanwhile.
    let until = solo_domain::time::format_ms(solo_domain::time::now_ms() + 200 * 86_400_000);
    let (status, body) =
        post(&server, &ada, &format!("/api/notifications/{}/snooze", ids[3]), json!({ "until": until })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let policy = |days: i64| solo_store::RetentionPolicy {
        channel_max_publications: 10_000,
        channel_max_age_ms: i64::MAX / 4,
        events_max_age_ms: i64::MAX / 4,
        heartbeat_events_max_age_ms: i64::MAX / 4,
        notifications_read_max_age_ms: days * 86_400_000,
        batch: 5_000,
    };
    let now = solo_domain::time::now_ms();
    server.store().trim_history(policy(90), now).await.expect("trim");
    assert_eq!(all_ids(&server, &ada).await.len(), 4, "read today: kept for 90 days");

    // 91 days on, the two read ones go; the unread and the snoozed ones stay, and so does the count.
    server.store().trim_history(policy(90), now + 91 * 86_400_000).await.expect("trim");
    let mut kept = vec![ids[2].clone(), ids[3].clone()];
    kept.sort();
    assert_eq!(all_ids(&server, &ada).await, kept);
    let (_, counts) = get(&server, &ada, "/api/notifications/unread-count").await;
    assert_eq!(counts["total"], 1, "{counts}");
    server.stop().await;
}
