//! Per-mission rules: `mute` silences a mission even for its owner,
//! `urgent_only` lets only urgent notifications through; each change is a
//! `preferences.updated` event; bad input gets a precise error.

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::*;

async fn put(server: &TestServer, user: &TestUser, path: &str, body: Value) -> (StatusCode, Value) {
    let response = client().put(server.url(path)).bearer_auth(&user.pat).json(&body).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn titles(server: &TestServer, user: &TestUser) -> Vec<String> {
    let (_, page) = get(server, user, "/api/notifications").await;
    page["items"].as_array().expect("items").iter().map(|n| n["title"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn a_muted_mission_notifies_nobody_who_muted_it_even_its_owner() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let eve = server.user("eve", "elsewhere", Role::Member).await;
    let mission = create_mission(&server, &ada, "Atlas").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let rule_path = format!("/api/me/preferences/missions/{id}");
    let stage = |to: &'static str| {
        let path = format!("/api/missions/{id}/stage");
        let (server, bo) = (&server, &bo);
        async move { post(server, bo, &path, json!({ "stage": to })).await }
    };

    let (status, prefs) = put(&server, &ada, &rule_path, json!({ "rule": "mute" })).await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(prefs["missionRules"][&id], "mute");
    assert_eq!((prefs["quietHoursSet"].as_bool(), prefs["version"].as_i64()), (Some(false), Some(1)));
    stage("spec").await;
    assert!(titles(&server, &ada).await.is_empty(), "muted, even as its owner");

    // Only urgent: mission notifications are info or warning, so none pass.
    put(&server, &ada, &rule_path, json!({ "rule": "urgent_only" })).await;
    stage("build").await;
    assert!(titles(&server, &ada).await.is_empty());

    let (_, prefs) = put(&server, &ada, &rule_path, json!({ "rule": null })).await;
    assert_eq!(prefs["missionRules"], json!({}));
    stage("review").await;
    assert_eq!(titles(&server, &ada).await, vec!["“Atlas” moved to review"]);

    // Every change reached ada's channel as preferences.updated, versioned.
    let (_, events) = get(&server, &ada, &format!("/api/events?channel=notifications:{}", ada.id)).await;
    let changes: Vec<(i64, Value)> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["event"])
        .filter(|e| e["type"] == "preferences.updated")
        .map(|e| (e["version"].as_i64().unwrap_or(0), e["data"]["missionRules"].clone()))
        .collect();
    assert_eq!(changes, vec![(1, json!({ &id: "mute" })), (2, json!({ &id: "urgent_only" })), (3, json!({}))]);
    let (_, prefs) = get(&server, &ada, "/api/me/preferences").await;
    assert_eq!((prefs["version"].as_i64(), prefs["quietHoursSet"].as_bool()), (Some(3), Some(false)));

    // Bad input.
    let (status, error) = put(&server, &ada, &rule_path, json!({ "rule": "loud" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error["code"].is_string() && error["message"].is_string());
    let (status, _) = put(&server, &eve, &rule_path, json!({ "rule": "mute" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not eve's workspace");
    let (status, _) = put(&server, &ada, "/api/me/preferences/missions/m_nope", json!({ "rule": "mute" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn surfaces_per_category_are_kept_and_inbox_off_drops_a_rules_notifications() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Atlas").await;
    let id = mission["id"].as_str().expect("id").to_owned();

    let (_, prefs) = get(&server, &ada, "/api/me/preferences").await;
    assert_eq!(
        prefs["surfaces"]["missions"],
        json!({ "toast": true, "inbox": true, "cli": true }),
        "all on by default"
    );
    let off = json!({ "missions": { "toast": false, "inbox": false, "cli": false }, "system": { "toast": false, "inbox": true, "cli": true } });
    let (status, prefs) = put(&server, &ada, "/api/me/preferences/surfaces", off).await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(prefs["surfaces"]["system"]["toast"], false);
    assert_eq!(prefs["surfaces"]["community"]["toast"], true, "a category left out stays on");

    post(&server, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "spec" })).await;
    assert!(titles(&server, &ada).await.is_empty(), "missions: inbox off, not created");
    let (status, _) = post(
        &server,
        &ada,
        "/api/notifications",
        json!({ "userId": ada.id, "category": "missions", "title": "By name" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(titles(&server, &ada).await, vec!["By name"], "a direct notification is still kept");

    let (_, events) = get(&server, &ada, &format!("/api/events?channel=notifications:{}", ada.id)).await;
    let last = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .rev()
        .map(|i| &i["event"])
        .find(|e| e["type"] == "preferences.updated")
        .cloned();
    assert_eq!(last.expect("the change's event")["data"]["surfaces"]["missions"]["cli"], false);

    for bad in
        [json!({ "chat": { "toast": false, "inbox": true, "cli": true } }), json!({ "missions": { "toast": "no" } })]
    {
        let (status, error) = put(&server, &ada, "/api/me/preferences/surfaces", bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    }
}
