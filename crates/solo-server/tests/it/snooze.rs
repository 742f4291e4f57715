//! Snooze and done: the inbox's states, the unread count, the events each
//! change emits, bad input, and a snooze that comes due while no server runs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_domain::time::{format_ms, now_ms};
use solo_store::Role;

use crate::support::*;

async fn notify(server: &TestServer, user: &TestUser, title: &str) -> String {
    let (status, n) =
        post(server, user, "/api/notifications", json!({ "userId": user.id, "category": "system", "title": title }))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{n}");
    n["id"].as_str().expect("id").to_owned()
}

async fn titles(server: &TestServer, user: &TestUser, state: &str) -> Vec<String> {
    let (status, page) = get(server, user, &format!("/api/notifications?state={state}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").iter().map(|n| n["title"].as_str().unwrap_or("").to_owned()).collect()
}

async fn unread_total(server: &TestServer, user: &TestUser) -> u64 {
    get(server, user, "/api/notifications/unread-count").await.1["total"].as_u64().expect("total")
}

/// The types of the events on the user's notification channel, oldest first.
async fn channel_events(server: &TestServer, user: &TestUser) -> Vec<Value> {
    let (_, page) = get(server, user, &format!("/api/events?channel=notifications:{}&limit=1000", user.id)).await;
    page["items"].as_array().expect("items").iter().map(|i| i["event"].clone()).collect()
}

fn in_ms(ms: i64) -> String {
    format_ms(now_ms() + ms)
}

#[tokio::test]
async fn snooze_and_done_move_notifications_out_of_the_inbox_and_back() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let first = notify(&server, &ada, "first").await;
    let second = notify(&server, &ada, "second").await;
    notify(&server, &ada, "third").await;
    assert_eq!(unread_total(&server, &ada).await, 3);

    let (status, snoozed) =
        post(&server, &ada, &format!("/api/notifications/{first}/snooze"), json!({ "until": in_ms(3_600_000) })).await;
    assert_eq!(status, StatusCode::OK, "{snoozed}");
    assert!(snoozed["snoozedUntil"].is_string() && snoozed["readAt"].is_string(), "{snoozed}");
    let (status, done) = post(&server, &ada, &format!("/api/notifications/{second}/done"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(done["doneAt"].is_string() && done["readAt"].is_string(), "{done}");
    assert_eq!(titles(&server, &ada, "inbox").await, vec!["third"]);
    assert_eq!(titles(&server, &ada, "snoozed").await, vec!["first"]);
    assert_eq!(titles(&server, &ada, "done").await, vec!["second"]);
    assert_eq!(titles(&server, &ada, "all").await, vec!["third", "second", "first"]);
    assert_eq!(unread_total(&server, &ada).await, 1, "snoozed and done leave the unread count");

    // Done again changes nothing; undone brings it back, read.
    let (_, again) = post(&server, &ada, &format!("/api/notifications/{second}/done"), json!({})).await;
    assert_eq!(again["version"], done["version"]);
    let (_, undone) = post(&server, &ada, &format!("/api/notifications/{second}/undone"), json!({})).await;
    assert!(undone["doneAt"].is_null() && undone["readAt"].is_string(), "{undone}");
    // Woken early: back, unread.
    let (_, woken) = post(&server, &ada, &format!("/api/notifications/{first}/wake"), json!({})).await;
    assert!(woken["snoozedUntil"].is_null() && woken["readAt"].is_null(), "{woken}");
    assert_eq!(titles(&server, &ada, "inbox").await, vec!["third", "second", "first"]);
    assert_eq!(unread_total(&server, &ada).await, 2);

    // Each change is an event on the user's channel with the new counts.
    let changes: Vec<(String, u64)> = channel_events(&server, &ada)
        .await
        .iter()
        .filter(|e| e["type"] != "notification.created")
        .map(|e| (e["type"].as_str().unwrap_or("").to_owned(), e["data"]["unread"]["total"].as_u64().unwrap_or(99)))
        .collect();
    let expected =
        [("notification.snoozed", 2), ("notification.done", 1), ("notification.undone", 1), ("notification.woke", 2)];
    assert_eq!(changes, expected.map(|(t, n)| (t.to_owned(), n)).to_vec());

    // Unread brings a done notification back into the inbox too.
    post(&server, &ada, &format!("/api/notifications/{second}/done"), json!({})).await;
    let (_, unread) = post(&server, &ada, &format!("/api/notifications/{second}/unread"), json!({})).await;
    assert!(unread["doneAt"].is_null() && unread["readAt"].is_null(), "{unread}");

    // Bad input: precise codes, never a 500.
    let snooze = |id: &str| format!("/api/notifications/{id}/snooze");
    for (until, why) in [
        (json!("tomorrow"), "not a timestamp"),
        (json!(in_ms(-1_000)), "in the past"),
        (json!(in_ms(400 * 86_400_000)), "over a year"),
    ] {
        let (status, error) = post(&server, &ada, &snooze(&first), json!({ "until": until })).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_snooze")),
            "{why}"
        );
    }
    let (status, _) = post(&server, &ada, &snooze(&first), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "`until` is required");
    let (status, error) = post(&server, &bo, &snooze(&first), json!({ "until": in_ms(60_000) })).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "not bo's");
    let (status, _) = post(&server, &bo, &format!("/api/notifications/{first}/done"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&server, &ada, "/api/notifications/n_nope/wake", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = get(&server, &ada, "/api/notifications?state=later").await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "{error}");
}

#[tokio::test]
async fn a_snooze_that_comes_due_while_no_server_runs_is_woken_at_the_next_start() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let id = notify(&server, &ada, "later").await;
    let due = now_ms() + 3_000;
    let (status, _) =
        post(&server, &ada, &format!("/api/notifications/{id}/snooze"), json!({ "until": format_ms(due) })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unread_total(&server, &ada).await, 0);

    let stopped_at = Arc::new(AtomicI64::new(0));
    let stopped = stopped_at.clone();
    let server = server
        .restart_after(async move {
            stopped.store(now_ms(), Ordering::SeqCst);
            while now_ms() <= due {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    assert!(
        stopped_at.load(Ordering::SeqCst) < due,
        "the first server stopped before the snooze came due, so the restarted one must wake it"
    );

    let woke = eventually("the snooze woken", Duration::from_secs(20), || async {
        channel_events(&server, &ada).await.into_iter().find(|e| e["type"] == "notification.woke")
    })
    .await;
    assert_eq!(woke["actor"]["kind"], "system");
    assert_eq!(woke["data"]["notification"]["id"], id.as_str());
    assert_eq!(woke["data"]["unread"]["total"], 1);
    assert_eq!(titles(&server, &ada, "inbox").await, vec!["later"]);
    assert_eq!(unread_total(&server, &ada).await, 1);
    let events = channel_events(&server, &ada).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "notification.woke").count(), 1, "woken once");
}
