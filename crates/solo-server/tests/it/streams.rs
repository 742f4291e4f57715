//! The HTTP transports over real sockets: unidirectional HTTP-streaming and
//! SSE (a token in, the user's notifications out, resuming from
//! `Last-Event-ID`), the bidirectional streams with commands through the
//! emulation endpoint, and their bad input.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::*;
use crate::ws::token_for;

const WAIT: Duration = Duration::from_secs(10);

/// One event of a stream: its SSE `id:` (if any) and its JSON message.
#[derive(Debug)]
struct Event {
    id: Option<String>,
    message: Value,
}

/// A streaming response read message by message, in either format.
struct StreamReader {
    response: reqwest::Response,
    sse: bool,
    buf: String,
}

impl StreamReader {
    fn new(response: reqwest::Response, sse: bool) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        Self { response, sse, buf: String::new() }
    }

    /// The next message; panics when the stream ends or nothing comes in time.
    async fn next(&mut self) -> Event {
        self.try_next().await.expect("the stream ended")
    }

    /// The next message, or `None` at the end of the stream.
    async fn try_next(&mut self) -> Option<Event> {
        let separator = if self.sse { "\n\n" } else { "\n" };
        loop {
            if let Some(end) = self.buf.find(separator) {
                let block: String = self.buf.drain(..end + separator.len()).collect();
                if let Some(event) = parse(&block, self.sse) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk()).await.expect("a message in time");
            match chunk.expect("the body reads") {
                Some(bytes) => self.buf.push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                None => return None,
            }
        }
    }

    /// The next message that is not a ping (`{}`).
    async fn next_non_ping(&mut self) -> Event {
        loop {
            let event = self.next().await;
            if event.message != json!({}) {
                return event;
            }
        }
    }
}

fn parse(block: &str, sse: bool) -> Option<Event> {
    if !sse {
        let line = block.trim();
        return (!line.is_empty())
            .then(|| Event { id: None, message: serde_json::from_str(line).expect("a JSON line") });
    }
    let mut id = None;
    let mut data = None;
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.to_owned());
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str(value).expect("JSON data"));
        }
    }
    data.map(|message| Event { id, message })
}

async fn notify(server: &TestServer, user: &TestUser, title: &str) -> Value {
    let body = json!({ "userId": user.id, "category": "system", "title": title });
    let (status, created) = post(server, user, "/api/notifications", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

#[tokio::test]
async fn a_unidirectional_http_stream_gets_the_users_notifications_from_a_token_alone() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let response = client()
        .post(server.url("/connection/uni_http_stream"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("stream opens");
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut stream = StreamReader::new(response, false);

    let channel = format!("notifications:{}", ada.id);
    let connect = stream.next().await.message;
    assert!(connect["connect"]["client"].is_string(), "{connect}");
    assert_eq!(connect["connect"]["subs"][&channel]["recoverable"], true, "subscribed to the inbox: {connect}");
    assert!(connect["connect"].get("session").is_none(), "nothing to emulate on a one-way stream");

    let created = notify(&server, &ada, "Deploy at 5").await;
    let push = stream.next_non_ping().await.message;
    assert_eq!(push["channel"], channel.as_str(), "{push}");
    assert_eq!(push["pub"]["data"]["type"], "notification.created");
    assert_eq!(push["pub"]["data"]["data"]["notification"]["id"], created["id"]);
    assert!(push["pub"]["offset"].as_u64().is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_unidirectional_sse_stream_resumes_from_its_last_event_id() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let connect = json!({ "token": token }).to_string();
    let open = |last_event_id: Option<String>| {
        let mut request = client().get(server.url("/connection/uni_sse")).query(&[("cf_connect", connect.as_str())]);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send()
    };
    let response = open(None).await.expect("stream opens");
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    let mut stream = StreamReader::new(response, true);
    let channel = format!("notifications:{}", ada.id);
    assert!(stream.next().await.message["connect"]["subs"][&channel].is_object());

    notify(&server, &ada, "first").await;
    let first = stream.next_non_ping().await;
    let last_event_id = first.id.clone().expect("a publication carries its position as the event id");
    let offset = first.message["pub"]["offset"].as_u64().expect("offset");
    drop(stream);

    // Missed while away, recovered on return, in order and nothing else.
    for title in ["second", "third"] {
        notify(&server, &ada, title).await;
    }
    let mut stream = StreamReader::new(open(Some(last_event_id)).await.expect("stream reopens"), true);
    let connect = stream.next().await;
    let sub = &connect.message["connect"]["subs"][&channel];
    assert_eq!(sub["recovered"], true, "{}", connect.message);
    let recovered: Vec<(u64, String)> = sub["publications"]
        .as_array()
        .expect("publications")
        .iter()
        .map(|p| {
            (
                p["offset"].as_u64().unwrap_or(0),
                p["data"]["data"]["notification"]["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(recovered, [(offset + 1, "second".to_owned()), (offset + 2, "third".to_owned())]);
    assert!(connect.id.is_some(), "the connect event carries the position it recovered to");

    notify(&server, &ada, "fourth").await;
    let live = stream.next_non_ping().await;
    assert_eq!(live.message["pub"]["offset"].as_u64(), Some(offset + 3), "live again after the recovered ones");
    server.stop().await;
}

#[tokio::test]
async fn a_bidirectional_http_stream_takes_its_commands_through_the_emulation_endpoint() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let connect = json!({ "id": 1, "connect": { "token": token, "name": "test" } }).to_string();
    let response =
        client().post(server.url("/connection/http_stream")).body(connect).send().await.expect("stream opens");
    let mut stream = StreamReader::new(response, false);
    let reply = stream.next().await.message;
    assert_eq!(reply["id"], 1, "{reply}");
    let session = reply["connect"]["session"].as_str().expect("a session id for emulation").to_owned();
    let node = reply["connect"]["node"].as_str().expect("the node holding it").to_owned();
    assert_eq!(session.len(), 32, "128 random bits");

    let channel = format!("notifications:{}", ada.id);
    let emulate = |data: String| {
        client().post(server.url("/emulation")).json(&json!({ "session": session, "node": node, "data": data })).send()
    };
    let subscribe = json!({ "id": 2, "subscribe": { "channel": channel } }).to_string();
    assert_eq!(emulate(subscribe).await.expect("emulation").status(), StatusCode::NO_CONTENT);
    let reply = stream.next_non_ping().await.message;
    assert_eq!(reply["id"], 2, "{reply}");
    assert_eq!(reply["subscribe"]["recoverable"], true);

    notify(&server, &ada, "over a stream").await;
    let push = stream.next_non_ping().await.message;
    assert_eq!(push["push"]["channel"], channel.as_str(), "{push}");
    assert_eq!(push["push"]["pub"]["data"]["data"]["notification"]["title"], "over a stream");

    // A command the engine refuses gets its error code, as on a WebSocket.
    let other = json!({ "id": 3, "subscribe": { "channel": "notifications:u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f" } });
    assert_eq!(emulate(other.to_string()).await.expect("emulation").status(), StatusCode::NO_CONTENT);
    let reply = stream.next_non_ping().await.message;
    assert_eq!((reply["id"].as_u64(), reply["error"]["code"].as_u64()), (Some(3), Some(103)), "{reply}");

    // A broken command closes this stream as it would a WebSocket: the reason
    // comes as the protocol's disconnect push, then the stream ends.
    assert_eq!(emulate("{not json".into()).await.expect("emulation").status(), StatusCode::NO_CONTENT);
    let disconnect = stream.next_non_ping().await.message;
    assert_eq!(disconnect["push"]["disconnect"]["code"], 3501, "{disconnect}");
    assert_eq!(disconnect["push"]["disconnect"]["reconnect"], false);
    assert!(stream.try_next().await.is_none(), "the stream ends after its disconnect");

    // Its session is gone with it.
    let gone = eventually("the session to go", WAIT, || async {
        let status = emulate("{}".into()).await.expect("emulation").status();
        (status == StatusCode::NOT_FOUND).then_some(status)
    })
    .await;
    assert_eq!(gone, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn bad_stream_requests_get_precise_errors_and_others_keep_streaming() {
    let server = TestServer::start_with(
        |s| s.ws_max_message_bytes = 1024,
        std::sync::Arc::new(solo_server::bus::InProcessBus::new()),
    )
    .await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let live = client()
        .post(server.url("/connection/uni_http_stream"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("stream opens");
    let mut live = StreamReader::new(live, false);
    assert!(live.next().await.message["connect"].is_object());

    let post_raw = |path: &str, body: String| client().post(server.url(path)).body(body).send();
    let status = |r: reqwest::Result<reqwest::Response>| r.expect("response").status();
    assert_eq!(status(post_raw("/connection/uni_http_stream", "{not json".into()).await), StatusCode::BAD_REQUEST);
    assert_eq!(status(post_raw("/connection/uni_http_stream", "[1]".into()).await), StatusCode::BAD_REQUEST);
    assert_eq!(status(post_raw("/connection/http_stream", "".into()).await), StatusCode::BAD_REQUEST, "no connect");
    assert_eq!(
        status(post_raw("/connection/http_stream", "x".repeat(2048)).await),
        StatusCode::PAYLOAD_TOO_LARGE,
        "past the message limit"
    );
    assert_eq!(status(client().get(server.url("/connection/sse")).send().await), StatusCode::BAD_REQUEST);
    let bad_id = client()
        .get(server.url("/connection/uni_sse"))
        .query(&[("cf_connect", json!({ "token": token }).to_string())])
        .header("last-event-id", "not a position")
        .send()
        .await;
    assert_eq!(status(bad_id), StatusCode::BAD_REQUEST);
    let unknown = client()
        .post(server.url("/emulation"))
        .json(&json!({ "session": "nope", "node": "", "data": "{}" }))
        .send()
        .await;
    assert_eq!(status(unknown), StatusCode::NOT_FOUND);
    let not_json = client().post(server.url("/emulation")).body("{}").send().await;
    assert_eq!(status(not_json), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let foreign = client()
        .post(server.url("/connection/uni_http_stream"))
        .header("origin", "https://evil.example")
        .json(&json!({ "token": token }))
        .send()
        .await;
    assert_eq!(status(foreign), StatusCode::FORBIDDEN);

    // A bad token opens the stream only to say why it closes.
    let bad = client()
        .post(server.url("/connection/uni_http_stream"))
        .json(&json!({ "token": "not.a.token" }))
        .send()
        .await
        .expect("stream opens");
    let mut bad = StreamReader::new(bad, false);
    let disconnect = bad.next().await.message;
    assert_eq!(disconnect["disconnect"]["code"], 3500, "{disconnect}");
    assert_eq!(disconnect["disconnect"]["reconnect"], false);
    assert!(bad.try_next().await.is_none());

    // Through all of it the first stream kept serving.
    notify(&server, &ada, "still here").await;
    assert_eq!(live.next_non_ping().await.message["pub"]["data"]["data"]["notification"]["title"], "still here");
    server.stop().await;
}

#[tokio::test]
async fn a_unidirectional_websocket_sends_a_connect_request_then_only_reads() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let url = format!("{}/connection/uni_websocket", server.base.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url.clone()).await.expect("websocket opens");
    ws.send(Message::text(json!({ "token": token }).to_string())).await.expect("send");
    let connect = next_json(&mut ws).await;
    let channel = format!("notifications:{}", ada.id);
    assert!(connect["connect"]["subs"][&channel].is_object(), "{connect}");
    notify(&server, &ada, "over a one-way socket").await;
    let push = next_json(&mut ws).await;
    assert_eq!(push["channel"], channel.as_str(), "{push}");
    assert_eq!(push["pub"]["data"]["data"]["notification"]["title"], "over a one-way socket");

    // A first message that is no connect request: closed with 3501.
    let (mut bad, _) = tokio_tungstenite::connect_async(url).await.expect("websocket opens");
    bad.send(Message::text("{not json")).await.expect("send");
    let close = loop {
        match tokio::time::timeout(WAIT, bad.next()).await.expect("in time") {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    assert_eq!(close, Some(3501));
    server.stop().await;
}

type ClientSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text message that is not a ping.
async fn next_json(ws: &mut ClientSocket) -> Value {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(WAIT, ws.next()).await.expect("in time").expect("open").expect("frame");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).expect("JSON");
            if value != json!({}) {
                return value;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulated_commands_posted_to_another_node_reach_the_stream_through_the_bus() {
    let Some((a, b)) = crate::cluster::two_nodes(|_| {}).await else { return };
    let ada = a.user("ada", "acme", Role::Admin).await;
    let token = token_for(&a, &ada).await;
    let connect = json!({ "id": 1, "connect": { "token": token } }).to_string();
    let response = client().post(a.url("/connection/http_stream")).body(connect).send().await.expect("stream opens");
    let mut stream = StreamReader::new(response, false);
    let reply = stream.next().await.message;
    let session = reply["connect"]["session"].as_str().expect("session").to_owned();
    let node = reply["connect"]["node"].as_str().expect("node").to_owned();
    assert_eq!(node, a.state.node_id(), "the stream's own node");

    // The load balancer sent the SDK's subscribe to node B.
    let channel = format!("notifications:{}", ada.id);
    let subscribe = json!({ "id": 2, "subscribe": { "channel": channel } }).to_string();
    let posted = client()
        .post(b.url("/emulation"))
        .json(&json!({ "session": session, "node": node, "data": subscribe }))
        .send()
        .await
        .expect("emulation");
    assert_eq!(posted.status(), StatusCode::NO_CONTENT);
    let reply = stream.next_non_ping().await.message;
    assert_eq!(reply["id"], 2, "{reply}");
    assert!(reply["subscribe"].is_object(), "{reply}");

    // And a change through node B reaches it on node A.
    notify(&b, &ada, "across nodes").await;
    let push = stream.next_non_ping().await.message;
    assert_eq!(push["push"]["pub"]["data"]["data"]["notification"]["title"], "across nodes", "{push}");
    a.stop().await;
    b.stop().await;
}
