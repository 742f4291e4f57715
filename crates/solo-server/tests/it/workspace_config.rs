//! `GET/PUT /api/workspaces/{id}/config`: any member reads the workspace's
//! settings, only its admins change them, bad input gets a precise 4xx, and a
//! change is a versioned `config.updated` on the workspace's channel that the
//! quiet hours of members without their own follow.

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::{client, get, TestServer, TestUser};

async fn put(server: &TestServer, user: &TestUser, path: &str, body: Value) -> (StatusCode, Value) {
    let response = client().put(server.url(path)).bearer_auth(&user.pat).json(&body).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn quiet(start: &str, end: &str, zone: &str) -> Value {
    json!({ "enabled": true, "start": start, "end": end, "timezone": zone, "allowUrgent": false })
}

#[tokio::test]
async fn admins_change_the_settings_members_read_them_and_members_without_their_own_follow() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let path = format!("/api/workspaces/{}/config", ada.workspace_id);

    let (status, view) = get(&server, &bo, &path).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view, json!({ "workspaceId": ada.workspace_id, "config": { "defaultQuietHours": null }, "version": 0 }));

    let default = quiet("21:00", "06:30", "Europe/Paris");
    let (status, view) = put(&server, &ada, &path, json!({ "defaultQuietHours": default.clone() })).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!((view["version"].as_i64(), &view["config"]["defaultQuietHours"]), (Some(1), &default));
    let (_, view) = get(&server, &bo, &path).await;
    assert_eq!(view["version"], 1, "a member reads what the admin set");

    // Bo set none of his own: the workspace's default is in force for him, at version 0.
    let (_, prefs) = get(&server, &bo, "/api/me/preferences").await;
    assert_eq!((&prefs["quietHours"], prefs["version"].as_i64()), (&default, Some(0)));

    let (status, error) = put(&server, &bo, &path, json!({ "defaultQuietHours": null })).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("admin")), "{error}");

    // Left out is unset: back to the server's default (off here).
    let (status, view) = put(&server, &ada, &path, json!({})).await;
    assert_eq!((status, view["version"].as_i64()), (StatusCode::OK, Some(2)), "{view}");
    assert!(view["config"]["defaultQuietHours"].is_null());
    let (_, prefs) = get(&server, &bo, "/api/me/preferences").await;
    assert_eq!(prefs["quietHours"]["enabled"], false);

    // Each change is an event of the workspace's stream, versioned 1 and 2.
    let channel = format!("workspace:{}", ada.workspace_id);
    let (_, page) = get(&server, &bo, &format!("/api/events?channel={channel}")).await;
    let changes: Vec<(i64, bool)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| &item["event"])
        .filter(|e| e["type"] == "config.updated")
        .map(|e| (e["version"].as_i64().unwrap_or(0), e["data"]["config"]["defaultQuietHours"].is_null()))
        .collect();
    assert_eq!(changes, vec![(1, false), (2, true)]);
}

#[tokio::test]
async fn bad_input_and_strangers_get_precise_errors() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let eve = server.user("eve", "globex", Role::Admin).await;
    let path = format!("/api/workspaces/{}/config", ada.workspace_id);

    let cases = [
        (
            json!({ "defaultQuietHours": quiet("24:00", "07:00", "UTC") }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quiet_hours",
        ),
        (
            json!({ "defaultQuietHours": quiet("22:00", "07:00", "Mars/Olympus") }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quiet_hours",
        ),
        (
            json!({ "defaultQuietHours": quiet("22:00", "22:00", "UTC") }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quiet_hours",
        ),
        (json!({ "quietHours": null }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({ "defaultQuietHours": { "enabled": true } }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({ "defaultQuietHours": "22:00-07:00" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!([]), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let (got, error) = put(&server, &ada, &path, body.clone()).await;
        assert_eq!((got, error["code"].as_str()), (status, Some(code)), "{body} → {error}");
    }
    let response = client()
        .put(server.url(&path))
        .bearer_auth(&ada.pat)
        .header("content-type", "application/json")
        .body("{\"defaultQuietHours\":")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "malformed JSON");
    let response = client().put(server.url(&path)).bearer_auth(&ada.pat).body("{}").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Another workspace's admin, a malformed id and an unknown one: not found, whatever the method.
    for (who, path) in [
        (&eve, path.clone()),
        (&ada, "/api/workspaces/acme/config".to_owned()),
        (&ada, format!("/api/workspaces/ws_{}/config", "0".repeat(32))),
    ] {
        let (status, error) = get(&server, who, &path).await;
        assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "GET {path}");
        let (status, _) = put(&server, who, &path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "PUT {path}");
    }

    // A token that may only read: it reads the settings, and may not change them even for an admin.
    let user = server.store().user_by_name("ada").await.expect("read").expect("ada");
    let (pat, _) = solo_server::routes::tokens::issue_token(server.store(), &user, "reader", vec!["read".into()], None)
        .await
        .expect("token");
    let reader = TestUser { pat, ..ada.clone() };
    let (status, _) = get(&server, &reader, &path).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = put(&server, &reader, &path, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("`write` scope")), "{error}");

    // Nothing above changed anything.
    let (_, view) = get(&server, &ada, &path).await;
    assert_eq!(view["version"], 0);
}
