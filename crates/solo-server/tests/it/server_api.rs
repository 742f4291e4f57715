//! The Centrifugo-compatible server API (`/centrifugo/api/{method}`) against a
//! real server: its key, its reply shapes and codes, publications that land
//! in history and reach subscribers, and orders about connections, on one node
//! and across two.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_server::bus::InProcessBus;
use solo_server::settings::Secret;
use solo_store::Role;

use crate::support::*;
use crate::ws::Ws;

const KEY: &str = "server-api-test-key-0123456789";

async fn with_key() -> TestServer {
    TestServer::start_with(|s| s.server_api_key = Some(Secret::new(KEY)), Arc::new(InProcessBus::new())).await
}

/// `POST /centrifugo/api/{method}` with the key; status and JSON body.
async fn api(server: &TestServer, method: &str, body: Value) -> (StatusCode, Value) {
    let response = client()
        .post(server.url(&format!("/centrifugo/api/{method}")))
        .header("X-API-Key", KEY)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A method's `result`, failing the test on an error.
async fn call(server: &TestServer, method: &str, body: Value) -> Value {
    let (status, reply) = api(server, method, body).await;
    assert_eq!(status, StatusCode::OK, "{method}: {reply}");
    assert!(reply.get("error").is_none(), "{method}: {reply}");
    reply["result"].clone()
}

/// A method's error code (HTTP 200 with `{"error"}`).
async fn refused(server: &TestServer, method: &str, body: Value) -> (u64, String) {
    let (status, reply) = api(server, method, body).await;
    assert_eq!(status, StatusCode::OK, "{method}: {reply}");
    let code = reply["error"]["code"].as_u64().unwrap_or_else(|| panic!("{method} is refused: {reply}"));
    (code, reply["error"]["message"].as_str().unwrap_or_default().to_owned())
}

/// The next push that carries `kind` (`pub`, `subscribe`, `unsubscribe`, `refresh`).
async fn next_push_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let push = ws.next_push(Duration::from_secs(10)).await.unwrap_or_else(|| panic!("a {kind} push"));
        if push["push"][kind].is_object() {
            return push;
        }
    }
}

#[tokio::test]
async fn the_api_is_off_without_a_key_and_refuses_a_missing_or_wrong_one() {
    let off = TestServer::start().await;
    let response = client().post(off.url("/centrifugo/api/info")).header("X-API-Key", KEY).json(&json!({})).send();
    assert_eq!(response.await.expect("request").status(), StatusCode::NOT_FOUND, "off when no key is set");
    off.stop().await;

    let server = with_key().await;
    let url = server.url("/centrifugo/api/info");
    let response = client().post(&url).json(&json!({})).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], 101, "{body}");
    let wrong = client().post(&url).header("X-API-Key", format!("{KEY}x")).json(&json!({})).send();
    assert_eq!(wrong.await.expect("request").status(), StatusCode::UNAUTHORIZED);
    let bearer = client().post(&url).header("Authorization", format!("Bearer {KEY}")).json(&json!({})).send();
    assert_eq!(bearer.await.expect("request").status(), StatusCode::UNAUTHORIZED);

    let apikey = client().post(&url).header("Authorization", format!("apikey {KEY}")).json(&json!({})).send();
    let apikey = apikey.await.expect("request");
    assert_eq!(apikey.status(), StatusCode::OK);
    let info: Value = apikey.json().await.expect("json");
    assert_eq!(info["result"]["nodes"].as_array().map(Vec::len), Some(1), "{info}");
    assert_eq!(call(&server, "info", json!({})).await, info["result"]);
    server.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_precise_errors() {
    let server = TestServer::start_with(
        |s| {
            s.server_api_key = Some(Secret::new(KEY));
            s.max_body_bytes = 4096;
        },
        Arc::new(InProcessBus::new()),
    )
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let post_raw = |method: &str, body: Vec<u8>| {
        client().post(server.url(&format!("/centrifugo/api/{method}"))).header("X-API-Key", KEY).body(body).send()
    };
    for (body, what) in [(b"{\"channel\":".to_vec(), "not JSON"), (b"[1,2]".to_vec(), "a JSON object")] {
        let response = post_raw("publish", body).await.expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let reply: Value = response.json().await.expect("json");
        assert_eq!(reply["error"]["code"], 107);
        assert!(reply["error"]["message"].as_str().unwrap_or_default().contains(what), "{reply}");
    }
    let big = json!({ "channel": format!("notifications:{}", ada.id), "data": "x".repeat(5000) });
    let response = post_raw("publish", big.to_string().into_bytes()).await.expect("request");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let reply: Value = response.json().await.expect("json");
    assert!(reply["error"]["message"].as_str().unwrap_or_default().contains("4096"), "{reply}");

    let (status, reply) = api(&server, "publsh", json!({})).await;
    assert_eq!((status, reply["error"]["code"].as_u64()), (StatusCode::NOT_FOUND, Some(104)), "{reply}");
    let get = client().get(server.url("/centrifugo/api/info")).header("X-API-Key", KEY).send();
    assert_eq!(get.await.expect("request").status(), StatusCode::METHOD_NOT_ALLOWED);

    let mine = format!("notifications:{}", ada.id);
    assert_eq!(refused(&server, "publish", json!({ "channel": mine })).await.0, 107, "data is required");
    assert_eq!(refused(&server, "publish", json!({ "channel": "chat:lobby", "data": {} })).await.0, 102);
    assert_eq!(refused(&server, "publish", json!({ "channel": mine, "data": 1, "b64data": "AQ==" })).await.0, 107);
    let (code, message) = refused(&server, "publish", json!({ "channel": 7, "data": {} })).await;
    assert!(code == 107 && message.contains("invalid type"), "{message}");
    assert_eq!(refused(&server, "disconnect", json!({ "user": "ada" })).await.0, 107, "users are u_… ids");
    let custom = json!({ "user": ada.id, "disconnect": { "code": 1000, "reason": "no" } });
    assert_eq!(refused(&server, "disconnect", custom).await.0, 107, "close codes are 3000-4999");
    assert_eq!(
        refused(&server, "history", json!({ "channel": mine, "since": { "offset": 9, "epoch": "x" } })).await.0,
        112
    );

    // A batch answers each command in its place, whatever the others did.
    let (status, reply) = api(
        &server,
        "batch",
        json!({ "commands": [
            { "publish": { "channel": mine, "data": { "n": 1 } } },
            { "nope": {} },
            { "publish": { "channel": "chat:lobby", "data": {} } },
            { "presence_stats": { "channel": mine } },
            { "batch": { "commands": [] } },
        ] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let replies = reply["replies"].as_array().expect("replies");
    assert_eq!(replies[0]["publish"]["offset"], 1, "{reply}");
    let codes: Vec<Option<u64>> = replies.iter().map(|r| r["error"]["code"].as_u64()).collect();
    assert_eq!(codes, [None, Some(104), Some(102), None, Some(107)], "{reply}");
    assert_eq!(replies[3]["presence_stats"]["num_clients"], 0);
    let (status, _) = api(&server, "batch", json!({ "commands": 3 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn publications_commit_to_history_reach_subscribers_and_survive_history_remove_as_a_position() {
    let server = with_key().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mine = format!("notifications:{}", ada.id);
    let board = format!("workspace:{}", ada.workspace_id);
    let (mut ws, _) = Ws::connect(&server, &ada).await;
    let subscribed = ws.command("subscribe", json!({ "channel": mine })).await;
    let epoch = subscribed["subscribe"]["epoch"].as_str().expect("epoch").to_owned();

    let result =
        call(&server, "publish", json!({ "channel": mine, "data": { "text": "hi" }, "tags": { "k": "v" } })).await;
    assert_eq!(result, json!({ "offset": 1, "epoch": epoch }));
    let push = ws.next_publication(Duration::from_secs(10)).await.expect("publication");
    let publication = &push["push"]["pub"];
    assert_eq!(push["push"]["channel"], mine.as_str());
    assert_eq!(publication["offset"], 1);
    assert_eq!(publication["data"]["type"], "server.published");
    assert_eq!(publication["data"]["data"]["data"], json!({ "text": "hi" }));
    assert_eq!(publication["data"]["data"]["tags"], json!({ "k": "v" }));
    assert_eq!(publication["data"]["actor"], json!({ "kind": "system" }));

    // One event on every channel of a broadcast; an unknown channel answers alone.
    let result = call(&server, "broadcast", json!({ "channels": [board, "chat:lobby", mine], "data": [1, 2] })).await;
    let responses = result["responses"].as_array().expect("responses");
    assert_eq!(responses[0]["result"]["offset"], 1, "{result}");
    assert_eq!(responses[1]["error"]["code"], 102, "{result}");
    assert_eq!(responses[2]["result"], json!({ "offset": 2, "epoch": epoch }));
    let push = ws.next_publication(Duration::from_secs(10)).await.expect("broadcast");
    assert_eq!(push["push"]["pub"]["data"]["data"]["data"], json!([1, 2]));

    // Kept like every publication: the server API's history, the product's history, recovery.
    let history = call(&server, "history", json!({ "channel": mine, "limit": 10 })).await;
    assert_eq!((history["offset"].as_u64(), history["epoch"].as_str()), (Some(2), Some(epoch.as_str())));
    let offsets: Vec<u64> =
        history["publications"].as_array().expect("pubs").iter().filter_map(|p| p["offset"].as_u64()).collect();
    assert_eq!(offsets, [1, 2]);
    let reverse = call(&server, "history", json!({ "channel": mine, "limit": 1, "reverse": true })).await;
    assert_eq!(reverse["publications"][0]["offset"], 2);
    let (status, events) = get(&server, &ada, &format!("/api/events?channel={mine}&since=0")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events["items"][0]["event"]["data"]["data"], json!({ "text": "hi" }), "{events}");
    let (mut again, _) = Ws::connect(&server, &ada).await;
    let recovered =
        again.command("subscribe", json!({ "channel": mine, "recover": true, "epoch": epoch, "offset": 0 })).await;
    assert_eq!(recovered["subscribe"]["recovered"], true, "{recovered}");
    assert_eq!(recovered["subscribe"]["publications"].as_array().map(Vec::len), Some(2));

    // history_remove keeps the position: a client behind it is told it cannot recover.
    assert_eq!(call(&server, "history_remove", json!({ "channel": mine })).await, json!({}));
    let history = call(&server, "history", json!({ "channel": mine, "limit": 10 })).await;
    assert_eq!(history["publications"], json!([]));
    assert_eq!((history["offset"].as_u64(), history["epoch"].as_str()), (Some(2), Some(epoch.as_str())));
    let (mut late, _) = Ws::connect(&server, &ada).await;
    let stale =
        late.command("subscribe", json!({ "channel": mine, "recover": true, "epoch": epoch, "offset": 1 })).await;
    assert_eq!(stale["subscribe"]["recovered"], false, "nothing is recovered from memory either: {stale}");
    let result = call(&server, "publish", json!({ "channel": mine, "data": "after" })).await;
    assert_eq!(result["offset"], 3, "offsets go on after a removal");
    server.stop().await;
}

#[tokio::test]
async fn orders_reach_the_users_connections() {
    let server = with_key().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let mine = format!("notifications:{}", ada.id);
    let board = format!("workspace:{}", ada.workspace_id);
    let (mut ws, connected) = Ws::connect(&server, &ada).await;
    let client_id = connected["client"].as_str().expect("client").to_owned();
    ws.command("subscribe", json!({ "channel": board })).await;

    // Presence, stats and channels see her.
    let presence = call(&server, "presence", json!({ "channel": board })).await;
    assert_eq!(presence["presence"][&client_id]["user"], ada.id.as_str(), "{presence}");
    let stats = call(&server, "presence_stats", json!({ "channel": board })).await;
    assert_eq!(stats, json!({ "num_clients": 1, "num_users": 1 }));
    let channels = call(&server, "channels", json!({ "pattern": "workspace:*" })).await;
    assert_eq!(channels["channels"][&board]["num_clients"], 1, "{channels}");
    assert_eq!(call(&server, "channels", json!({ "pattern": "mission:*" })).await["channels"], json!({}));
    let info = call(&server, "info", json!({})).await;
    assert_eq!((info["nodes"][0]["num_clients"].as_u64(), info["nodes"][0]["num_subs"].as_u64()), (Some(1), Some(1)));

    // A server-side subscription: announced with its position, then live.
    let denied = json!({ "user": ada.id, "channel": format!("notifications:{}", bo.id) });
    assert_eq!(refused(&server, "subscribe", denied).await.0, 103, "only channels she may read");
    call(&server, "subscribe", json!({ "user": ada.id, "channel": mine })).await;
    let push = next_push_of(&mut ws, "subscribe").await;
    assert_eq!(
        (push["push"]["channel"].as_str(), push["push"]["subscribe"]["offset"].as_u64()),
        (Some(mine.as_str()), Some(0))
    );
    call(&server, "publish", json!({ "channel": mine, "data": { "n": 1 } })).await;
    let publication = next_push_of(&mut ws, "pub").await;
    assert_eq!(
        (publication["push"]["channel"].as_str(), publication["push"]["pub"]["offset"].as_u64()),
        (Some(mine.as_str()), Some(1))
    );

    // Unsubscribe: an unsubscribe push, and nothing more from that channel.
    call(&server, "unsubscribe", json!({ "user": ada.id, "channel": board })).await;
    let push = next_push_of(&mut ws, "unsubscribe").await;
    assert_eq!(
        (push["push"]["channel"].as_str(), push["push"]["unsubscribe"]["code"].as_u64()),
        (Some(board.as_str()), Some(2000))
    );
    assert_eq!(call(&server, "presence_stats", json!({ "channel": board })).await["num_clients"], 0);

    // Refresh: a new expiry, told to the client.
    let expire_at = solo_domain::time::now_ms() / 1000 + 3600;
    call(&server, "refresh", json!({ "user": ada.id, "expire_at": expire_at })).await;
    let push = next_push_of(&mut ws, "refresh").await;
    let ttl = push["push"]["refresh"]["ttl"].as_i64().unwrap_or(0);
    assert!(push["push"]["refresh"]["expires"] == true && (3590..=3600).contains(&ttl), "{push}");

    // Disconnect: the whitelisted client stays, the others go with the code asked for.
    let (mut second, _) = Ws::connect(&server, &ada).await;
    call(
        &server,
        "disconnect",
        json!({ "user": ada.id, "whitelist": [client_id], "disconnect": { "code": 4001, "reason": "bye" } }),
    )
    .await;
    assert_eq!(second.close_code(Duration::from_secs(10)).await, Some(4001));
    let alive = ws.command("presence_stats", json!({ "channel": mine })).await;
    assert_eq!(alive["presence_stats"]["num_clients"], 1, "the whitelisted connection still answers: {alive}");
    call(&server, "disconnect", json!({ "user": ada.id })).await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(3503));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_nodes_publish_unsubscribe_and_disconnect_reach_a_client_of_another_node() {
    let Some((a, b)) = crate::cluster::two_nodes(|s| s.server_api_key = Some(Secret::new(KEY))).await else { return };
    let ada = b.user("ada", "acme", Role::Member).await;
    let board = format!("workspace:{}", ada.workspace_id);
    let mine = format!("notifications:{}", ada.id);
    // Ada is connected to node B; every call below goes to node A.
    let (mut ws, _) = Ws::connect(&b, &ada).await;
    ws.command("subscribe", json!({ "channel": board })).await;
    ws.command("subscribe", json!({ "channel": mine })).await;

    let stats = eventually("cluster presence", Duration::from_secs(10), || async {
        let stats = call(&a, "presence_stats", json!({ "channel": board })).await;
        (stats["num_clients"] == 1).then_some(stats)
    })
    .await;
    assert_eq!(stats["num_users"], 1);
    let channels = call(&a, "channels", json!({})).await;
    assert_eq!(channels["channels"][&board]["num_clients"], 1, "{channels}");

    let result = call(&a, "publish", json!({ "channel": mine, "data": { "via": "a" } })).await;
    let push = ws.next_publication(Duration::from_secs(15)).await.expect("publication through the cluster");
    assert_eq!(push["push"]["pub"]["offset"], result["offset"]);
    assert_eq!(push["push"]["pub"]["data"]["data"]["data"], json!({ "via": "a" }));

    call(&a, "unsubscribe", json!({ "user": ada.id, "channel": board })).await;
    let push = next_push_of(&mut ws, "unsubscribe").await;
    assert_eq!(push["push"]["channel"], board.as_str());

    call(&a, "disconnect", json!({ "user": ada.id })).await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(3503));
    a.stop().await;
    b.stop().await;
}

/// `POST /centrifugo/api` with Centrifugo's command lines; status and lines.
async fn lines(server: &TestServer, key: &str, body: &str) -> (StatusCode, Vec<Value>) {
    let response =
        client().post(server.url("/centrifugo/api")).header("X-API-Key", key).body(body.to_owned()).send().await;
    let response = response.expect("request");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let answers = text.lines().map(|line| serde_json::from_str(line).unwrap_or(Value::Null)).collect();
    (status, answers)
}

#[tokio::test]
async fn command_lines_are_answered_line_for_line_and_a_bad_line_alone_is_refused() {
    let server = with_key().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let channel = format!("notifications:{}", ada.id);
    let body = [
        json!({ "method": "publish", "params": { "channel": channel, "data": { "n": 1 } } }).to_string(),
        "not a command".to_owned(),
        json!({ "method": "batch", "params": { "commands": [] } }).to_string(),
        json!({ "method": "teleport", "params": {} }).to_string(),
        String::new(),
        json!({ "method": "history", "params": { "channel": channel, "limit": 10 } }).to_string(),
    ]
    .join("\n");
    let (status, answers) = lines(&server, KEY, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answers.len(), 5, "one answer per command line, blank lines skipped: {answers:?}");
    assert_eq!(answers[0]["result"]["offset"], 1, "{}", answers[0]);
    let codes: Vec<Option<u64>> = answers[1..4].iter().map(|a| a["error"]["code"].as_u64()).collect();
    assert_eq!(codes, [Some(107), Some(107), Some(104)], "{answers:?}");
    assert_eq!(answers[4]["result"]["publications"][0]["offset"], 1, "the lines after a bad one still run");

    let (status, _) = lines(&server, "wrong-key", &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let oversized = "x".repeat(server.state.settings().max_body_bytes + 1);
    let (status, _) = lines(&server, KEY, &oversized).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}
