//! Explain: the decision record kept with each notification, for a pushed, a
//! quiet, an urgent-bypassed, a direct and a superseded notification.

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_domain::time::now_ms;
use solo_store::Role;

use crate::support::*;

async fn explain(server: &TestServer, user: &TestUser, id: &str) -> Value {
    let (status, body) = get(server, user, &format!("/api/notifications/{id}/explain")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn newest(server: &TestServer, user: &TestUser) -> Value {
    let (_, page) = get(server, user, "/api/notifications").await;
    page["items"][0].clone()
}

/// `HH:MM` in UTC, `minutes` from now.
fn clock(minutes: i64) -> String {
    let m = (now_ms() / 60_000 + minutes).rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[tokio::test]
async fn each_notification_says_why_it_was_sent_and_how() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let cy = server.user("cy", "acme", Role::Member).await;
    let (_, mission) = post(&server, &ada, "/api/missions", json!({ "title": "Atlas", "watcherIds": [cy.id] })).await;
    let id = mission["id"].as_str().expect("id").to_owned();

    // Pushed with a toast: ada as the owner, cy as a watcher.
    let (_, changed) = post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "spec" })).await;
    let owner = explain(&server, &ada, newest(&server, &ada).await["id"].as_str().expect("id")).await;
    assert_eq!((owner["rule"].as_str(), owner["delivery"].as_str()), (Some("owner"), Some("toast")));
    assert_eq!(owner["event"]["type"], "mission.stage_changed");
    assert_eq!(owner["event"]["actor"]["id"], bo.id.as_str());
    assert_eq!(owner["event"]["traceId"].as_str().map(str::len), Some(32));
    assert!(owner["quietHours"].is_null());
    assert!(owner["summary"].as_array().expect("summary").iter().any(|s| s == "You own the mission."), "{owner}");
    assert_eq!(changed["version"], 2);
    let watcher = explain(&server, &cy, newest(&server, &cy).await["id"].as_str().expect("id")).await;
    assert_eq!(watcher["rule"], "watcher");

    // Superseded: the next change replaced ada's unread one, and says so.
    post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "build" })).await;
    let replaced = explain(&server, &ada, newest(&server, &ada).await["id"].as_str().expect("id")).await;
    assert_eq!(replaced["updates"], 1);
    assert!(replaced["summary"]
        .as_array()
        .expect("summary")
        .iter()
        .any(|s| s.as_str().is_some_and(|s| s.contains("replaced it 1 time"))));

    // Quiet hours around now, urgent ones let through.
    let window =
        json!({ "enabled": true, "start": clock(-60), "end": clock(60), "timezone": "UTC", "allowUrgent": true });
    let response = client()
        .put(server.url("/api/me/preferences"))
        .bearer_auth(&ada.pat)
        .json(&json!({ "quietHours": window }))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::OK);
    let (_, quiet) =
        post(&server, &ada, "/api/notifications", json!({ "userId": ada.id, "category": "system", "title": "Shh" }))
            .await;
    let quiet = explain(&server, &ada, quiet["id"].as_str().expect("id")).await;
    assert_eq!((quiet["rule"].as_str(), quiet["delivery"].as_str()), (Some("direct"), Some("quiet")));
    assert_eq!(quiet["quietHours"], format!("{}-{} UTC", clock(-60), clock(60)));
    assert!(quiet["event"].is_null(), "sent by name: no event");
    let body = json!({ "userId": ada.id, "category": "system", "title": "Fire", "severity": "urgent" });
    let (_, urgent) = post(&server, &ada, "/api/notifications", body).await;
    let urgent = explain(&server, &ada, urgent["id"].as_str().expect("id")).await;
    assert_eq!(urgent["delivery"], "urgent_bypass");

    // Someone else's, or none at all: 404.
    let (status, _) =
        get(&server, &bo, &format!("/api/notifications/{}/explain", quiet["notificationId"].as_str().expect("id")))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = get(&server, &ada, "/api/notifications/n_nope/explain").await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

/// The id of the latest event on a mission's channel.
async fn latest_event(server: &TestServer, user: &TestUser, mission: &str) -> String {
    let (_, page) = get(server, user, &format!("/api/events?channel=mission:{mission}&limit=1000")).await;
    let items = page["items"].as_array().expect("items");
    items.last().expect("an event")["event"]["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn an_event_says_why_it_did_not_notify_someone() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let dan = server.user("dan", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Atlas").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let why = |event: String, user: Option<&'static str>, caller: TestUser| {
        let server = &server;
        async move {
            let query = user.map(|u| format!("?user={u}")).unwrap_or_default();
            get(server, &caller, &format!("/api/events/{event}/explain{query}")).await
        }
    };

    post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "spec" })).await;
    let spec = latest_event(&server, &ada, &id).await;
    let (_, sent) = why(spec.clone(), None, ada.clone()).await;
    assert_eq!((sent["outcome"].as_str(), sent["notificationId"].is_string()), (Some("sent"), true), "{sent}");
    let (_, own) = why(spec.clone(), Some("bo"), ada.clone()).await;
    assert_eq!(own["outcome"], "own_action", "{own}");
    let (_, not_chosen) = why(spec.clone(), Some("dan"), ada.clone()).await;
    assert_eq!(not_chosen["outcome"], "not_chosen");
    assert!(not_chosen["summary"][0].as_str().is_some_and(|s| s.starts_with("No rule chose dan")), "{not_chosen}");

    // Replaced by the next change: the first event's notification now shows the second.
    post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "build" })).await;
    let (_, superseded) = why(spec.clone(), None, ada.clone()).await;
    assert_eq!(
        (superseded["outcome"].as_str(), superseded["notificationId"].clone()),
        (Some("superseded"), sent["notificationId"].clone())
    );

    // Muted: the next change makes nothing for ada, and says why.
    let response = client()
        .put(server.url(&format!("/api/me/preferences/missions/{id}")))
        .bearer_auth(&ada.pat)
        .json(&json!({ "rule": "mute" }))
        .send()
        .await
        .expect("mute");
    assert_eq!(response.status(), StatusCode::OK);
    post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "review" })).await;
    let review = latest_event(&server, &ada, &id).await;
    let (_, muted) = why(review.clone(), None, ada.clone()).await;
    assert_eq!(
        (muted["outcome"].as_str(), muted["summary"][0].as_str()),
        (Some("muted"), Some("You muted its mission."))
    );

    // Another member's side needs an admin; strangers and bad ids get 404.
    let (status, error) = why(review.clone(), Some("ada"), dan.clone()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{error}");
    let (status, _) = why(review.clone(), Some("nobody"), ada.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let eve = server.user("eve", "elsewhere", Role::Admin).await;
    let (status, _) = why(review, None, eve).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not eve's workspace");
    let (status, _) = why("not-a-uuid".into(), None, ada.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
