//! The authorization matrix: every resource endpoint and channel, asked by the
//! owner, a member of the same workspace, a member of another workspace, a
//! revoked token and no token at all.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::*;
use crate::ws::Ws;

/// What a caller was told, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 2xx, or a refusal about the request itself (409, 422): the caller got in.
    Allowed,
    /// 403 or 404: the caller may not, or may not even know it exists.
    Denied,
    /// 401: no valid credential.
    Unauthenticated,
}

use Outcome::{Allowed as A, Denied as D, Unauthenticated as U};

fn outcome(status: StatusCode) -> Outcome {
    match status.as_u16() {
        200..=299 | 409 | 422 => A,
        403 | 404 => D,
        401 => U,
        other => panic!("unexpected status {other}"),
    }
}

async fn ask(server: &TestServer, bearer: Option<&str>, method: &Method, path: &str, body: &Value) -> StatusCode {
    let mut request = client().request(method.clone(), server.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if *method != Method::GET && *method != Method::DELETE {
        request = request.json(body);
    }
    request.send().await.expect("request").status()
}

#[tokio::test]
async fn every_endpoint_and_channel_against_every_kind_of_caller() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let eve = server.user("eve", "globex", Role::Member).await;

    // Ada's things: a mission, a workstation, a notification, spare tokens.
    let mission = create_mission(&server, &ada, "Ada's").await["id"].as_str().expect("id").to_owned();
    let (_, station) = post(&server, &ada, "/api/workstations", json!({ "name": "ada-box" })).await;
    let station = station["id"].as_str().expect("workstation id").to_owned();
    let (status, _) = post(&server, &bo, &format!("/api/missions/{mission}/stage"), json!({ "stage": "spec" })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, inbox) = get(&server, &ada, "/api/notifications").await;
    let notification = inbox["items"][0]["id"].as_str().expect("Ada was notified").to_owned();
    let (_, spare) = post(&server, &ada, "/api/tokens", json!({ "name": "spare" })).await;
    let spare_id = spare["id"].as_str().expect("token id").to_owned();
    let (_, doomed) = post(&server, &ada, "/api/tokens", json!({ "name": "revoked" })).await;
    let revoked = doomed["token"].as_str().expect("token").to_owned();
    let response = client()
        .delete(server.url(&format!("/api/tokens/{}", doomed["id"].as_str().expect("id"))))
        .bearer_auth(&ada.pat)
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let acme = &ada.workspace_id;
    let post_ = Method::POST;
    let get_ = Method::GET;
    // (method, path, body, expected for [owner, member, other workspace, revoked, none])
    let matrix: Vec<(Method, String, Value, [Outcome; 5])> = vec![
        (get_.clone(), format!("/api/missions/{mission}"), json!({}), [A, A, D, U, U]),
        (get_.clone(), format!("/api/missions?workspaceId={acme}"), json!({}), [A, A, D, U, U]),
        (post_.clone(), format!("/api/missions/{mission}/stage"), json!({ "stage": "build" }), [A, A, D, U, U]),
        (post_.clone(), format!("/api/missions/{mission}/reviews"), json!({ "decision": "approved" }), [A, A, D, U, U]),
        (
            post_.clone(),
            format!("/api/missions/{mission}/fallbacks"),
            json!({ "reason": "agent crashed", "summary": "retry by hand" }),
            [A, A, D, U, U],
        ),
        (post_.clone(), format!("/api/missions/{mission}/watch"), json!({}), [A, A, D, U, U]),
        (post_.clone(), "/api/missions".into(), json!({ "title": "x", "workspaceId": acme }), [A, A, D, U, U]),
        (get_.clone(), format!("/api/workstations/{station}"), json!({}), [A, A, D, U, U]),
        // Only the owner (or a workspace admin) speaks for a workstation.
        (post_.clone(), format!("/api/workstations/{station}/heartbeat"), json!({}), [A, D, D, U, U]),
        (get_.clone(), format!("/api/presence?workspaceId={acme}"), json!({}), [A, A, D, U, U]),
        (
            post_.clone(),
            "/api/community/posts".into(),
            json!({ "body": "hello", "workspaceId": acme }),
            [A, A, D, U, U],
        ),
        (get_.clone(), format!("/api/events?channel=mission:{mission}"), json!({}), [A, A, D, U, U]),
        (get_.clone(), format!("/api/events?channel=workspace:{acme}"), json!({}), [A, A, D, U, U]),
        (get_.clone(), format!("/api/events?channel=notifications:{}", ada.id), json!({}), [A, D, D, U, U]),
        (post_.clone(), format!("/api/notifications/{notification}/read"), json!({}), [A, D, D, U, U]),
        (get_.clone(), "/api/notifications".into(), json!({}), [A, A, A, U, U]),
        (get_.clone(), "/api/me".into(), json!({}), [A, A, A, U, U]),
        (Method::DELETE, format!("/api/tokens/{spare_id}"), json!({}), [A, D, D, U, U]),
    ];
    let callers: [Option<&str>; 5] = [Some(&ada.pat), Some(&bo.pat), Some(&eve.pat), Some(&revoked), None];
    let names = ["owner", "member", "other workspace", "revoked token", "no token"];
    let mut mismatches = Vec::new();
    for (method, path, body, expected) in &matrix {
        // The owner goes last, so what it changes (a revoked token, a stage) cannot mask the others.
        for caller in [1, 2, 3, 4, 0] {
            let status = ask(&server, callers[caller], method, path, body).await;
            let got = outcome(status);
            if got != expected[caller] {
                mismatches
                    .push(format!("{method} {path} as {}: {status}, expected {:?}", names[caller], expected[caller]));
            }
        }
    }
    assert!(mismatches.is_empty(), "authorization mismatches:\n{}", mismatches.join("\n"));

    // Channels: who may subscribe (revoked and anonymous callers cannot get a connection token).
    let channels = [
        (format!("mission:{mission}"), [true, true, false]),
        (format!("workstation:{station}"), [true, true, false]),
        (format!("workspace:{acme}"), [true, true, false]),
        (format!("notifications:{}", ada.id), [true, false, false]),
    ];
    for (n, user) in [&ada, &bo, &eve].into_iter().enumerate() {
        let (mut ws, _) = Ws::connect(&server, user).await;
        for (channel, allowed) in &channels {
            let reply = ws.command("subscribe", json!({ "channel": channel })).await;
            let subscribed = reply["subscribe"].is_object();
            assert_eq!(subscribed, allowed[n], "{} subscribing to {channel}: {reply}", names[n]);
            if !subscribed {
                assert_eq!(reply["error"]["code"], 103, "{reply}");
            }
        }
    }
    for token in [revoked.as_str(), ""] {
        let status =
            ask(&server, Some(token).filter(|t| !t.is_empty()), &post_, "/api/realtime/token", &json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
