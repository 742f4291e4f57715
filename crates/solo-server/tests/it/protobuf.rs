//! The protobuf format of the client protocol over real sockets: a WebSocket
//! that negotiates it (by subprotocol, and by `?format=protobuf`), the
//! HTTP-streaming transport in protobuf with its emulation endpoint, and bad
//! input in either.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use prost::Message as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_realtime::protobuf::{decode_replies, EmulationRequest, Reply};
use solo_realtime::protocol::{ChannelRequest, ConnectRequest, HistoryRequest, SubscribeRequest};
use solo_store::Role;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;
use crate::ws::token_for;

const WAIT: Duration = Duration::from_secs(10);

/// A command as a protobuf client encodes it (the field numbers of
/// Centrifugo's `client.proto`), written here rather than taken from the
/// server so the test checks the server's numbering against its own.
#[derive(prost::Message)]
struct Command {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(message, optional, tag = "4")]
    connect: Option<ConnectRequest>,
    #[prost(message, optional, tag = "5")]
    subscribe: Option<SubscribeRequest>,
    #[prost(message, optional, tag = "8")]
    presence: Option<ChannelRequest>,
    #[prost(message, optional, tag = "10")]
    history: Option<HistoryRequest>,
}

fn encode(commands: &[Command]) -> Vec<u8> {
    commands.iter().flat_map(|c| c.encode_length_delimited_to_vec()).collect()
}

fn connect_command(id: u32, token: &str) -> Command {
    Command {
        id,
        connect: Some(ConnectRequest { token: token.to_owned(), name: "tests".into(), ..Default::default() }),
        ..Default::default()
    }
}

fn subscribe_command(id: u32, channel: &str) -> Command {
    Command {
        id,
        subscribe: Some(SubscribeRequest { channel: channel.to_owned(), ..Default::default() }),
        ..Default::default()
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket at `path` offering `subprotocol`; the subprotocol the server chose.
async fn open(server: &TestServer, path: &str, subprotocol: Option<&str>) -> (Socket, Option<String>) {
    let url = format!("{}{path}", server.base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("request");
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert("sec-websocket-protocol", subprotocol.parse().expect("header"));
    }
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("websocket opens");
    let chosen = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap_or("").to_owned());
    (socket, chosen)
}

/// The next reply that is not a ping, answering pings with an empty command.
async fn next_reply(socket: &mut Socket, pending: &mut Vec<Reply>) -> Reply {
    loop {
        if !pending.is_empty() {
            return pending.remove(0);
        }
        let frame = tokio::time::timeout(WAIT, socket.next()).await.expect("a frame in time").expect("open");
        match frame.expect("frame") {
            Message::Binary(bytes) => {
                for reply in decode_replies(&bytes).expect("length-delimited replies") {
                    if reply.id == 0 && reply.push.is_none() {
                        socket.send(Message::Binary(vec![0].into())).await.expect("pong");
                    } else {
                        pending.push(reply);
                    }
                }
            }
            Message::Text(text) => panic!("a protobuf connection got a text frame: {text}"),
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads until the server closes; its close code.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

async fn notify(server: &TestServer, user: &TestUser, title: &str) {
    let body = json!({ "userId": user.id, "category": "system", "title": title });
    let (status, created) = post(server, user, "/api/notifications", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn a_protobuf_websocket_connects_subscribes_and_reads_history_and_presence() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let (mut socket, chosen) = open(&server, "/connection/websocket", Some("centrifuge-protobuf")).await;
    assert_eq!(chosen.as_deref(), Some("centrifuge-protobuf"), "the server answers with the format it speaks");
    let channel = format!("notifications:{}", ada.id);

    // Two commands in one frame, as the SDK batches them.
    let frame = encode(&[connect_command(1, &token), subscribe_command(2, &channel)]);
    socket.send(Message::Binary(frame.into())).await.expect("send");
    let mut pending = Vec::new();
    let connect = next_reply(&mut socket, &mut pending).await;
    let result = connect.connect.expect("a connect result");
    assert_eq!(connect.id, 1);
    assert!(!result.client.is_empty() && result.expires && result.ttl > 0 && result.ping > 0, "{result:?}");
    let subscribe = next_reply(&mut socket, &mut pending).await;
    assert_eq!(subscribe.id, 2);
    let position = subscribe.subscribe.expect("a subscribe result");
    assert!(position.recoverable && position.positioned && !position.epoch.is_empty(), "{position:?}");

    notify(&server, &ada, "in protobuf").await;
    let push = next_reply(&mut socket, &mut pending).await.push.expect("a push");
    assert_eq!(push.channel, channel);
    let publication = push.publication.expect("a publication");
    assert_eq!(publication.offset, position.offset + 1);
    let envelope: Value = serde_json::from_slice(&publication.data).expect("data is the event's JSON");
    assert_eq!(envelope["type"], "notification.created");
    assert_eq!(envelope["data"]["notification"]["title"], "in protobuf");
    assert_eq!(publication.tags["type"], "notification.created");

    let history = Command {
        id: 3,
        history: Some(HistoryRequest { channel: channel.clone(), limit: 10, ..Default::default() }),
        ..Default::default()
    };
    let presence = Command { id: 4, presence: Some(ChannelRequest { channel: channel.clone() }), ..Default::default() };
    socket.send(Message::Binary(encode(&[history, presence]).into())).await.expect("send");
    let history = next_reply(&mut socket, &mut pending).await.history.expect("a history result");
    assert_eq!(history.publications.len(), 1);
    let kept: Value = serde_json::from_slice(&history.publications[0].data).expect("JSON data");
    assert_eq!(kept, envelope, "history holds the same event");
    let presence = next_reply(&mut socket, &mut pending).await.presence.expect("a presence result");
    let me = presence.presence.get(&result.client).expect("this connection is present");
    assert_eq!(me.user, ada.id);

    // A channel it may not read: the error code, as in JSON.
    let foreign = subscribe_command(5, "notifications:u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f");
    socket.send(Message::Binary(encode(&[foreign]).into())).await.expect("send");
    let refused = next_reply(&mut socket, &mut pending).await;
    assert_eq!((refused.id, refused.error.map(|e| e.code)), (5, Some(103)));
    server.stop().await;
}

#[tokio::test]
async fn the_format_query_selects_protobuf_too_and_json_stays_the_default() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let (mut socket, chosen) = open(&server, "/connection/websocket?format=protobuf", None).await;
    assert_eq!(chosen, None);
    socket.send(Message::Binary(encode(&[connect_command(1, &token)]).into())).await.expect("send");
    let reply = next_reply(&mut socket, &mut Vec::new()).await;
    assert!(reply.connect.is_some_and(|c| !c.client.is_empty()));

    let (mut json_socket, chosen) = open(&server, "/connection/websocket", Some("centrifuge-json")).await;
    assert_eq!(chosen.as_deref(), Some("centrifuge-json"));
    let connect = json!({ "id": 1, "connect": { "token": token } }).to_string();
    json_socket.send(Message::Text(connect.into())).await.expect("send");
    let frame = tokio::time::timeout(WAIT, json_socket.next()).await.expect("reply").expect("open").expect("frame");
    let Message::Text(text) = frame else { panic!("a JSON connection gets text frames: {frame:?}") };
    let reply: Value = serde_json::from_str(&text).expect("JSON");
    assert!(reply["connect"]["client"].is_string(), "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn bad_protobuf_input_gets_precise_errors_and_others_keep_being_served() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let (mut bystander, _) = open(&server, "/connection/websocket", Some("centrifuge-protobuf")).await;
    bystander.send(Message::Binary(encode(&[connect_command(1, &token)]).into())).await.expect("send");
    let mut pending = Vec::new();
    assert!(next_reply(&mut bystander, &mut pending).await.connect.is_some());

    // Not a command: a length that runs past the frame, or bytes that are no message.
    for garbage in [vec![0x05, 0x08], vec![0x03, 0xff, 0xff, 0xff], b"{\"id\":1}".to_vec()] {
        let (mut socket, _) = open(&server, "/connection/websocket", Some("centrifuge-protobuf")).await;
        socket.send(Message::Binary(garbage.clone().into())).await.expect("send");
        assert_eq!(close_code(&mut socket).await, Some(3501), "{garbage:?}");
    }
    // A text frame on a protobuf connection, a binary one on a JSON connection.
    let (mut socket, _) = open(&server, "/connection/websocket", Some("centrifuge-protobuf")).await;
    let connect = json!({ "id": 1, "connect": { "token": token } }).to_string();
    socket.send(Message::Text(connect.into())).await.expect("send");
    assert_eq!(close_code(&mut socket).await, Some(3501));
    let (mut socket, _) = open(&server, "/connection/websocket", None).await;
    socket.send(Message::Binary(encode(&[connect_command(1, &token)]).into())).await.expect("send");
    assert_eq!(close_code(&mut socket).await, Some(3501));

    // Formats Solo does not speak, or not on that endpoint: refused before the upgrade.
    let upgrade = |path: &str, subprotocol: Option<&str>| {
        let mut request = client()
            .get(server.url(path))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(subprotocol) = subprotocol {
            request = request.header("sec-websocket-protocol", subprotocol);
        }
        request.send()
    };
    let xml = upgrade("/connection/websocket?format=xml", None).await.expect("response");
    assert_eq!(xml.status(), StatusCode::BAD_REQUEST);
    let uni = upgrade("/connection/uni_websocket", Some("centrifuge-protobuf")).await.expect("response");
    assert_eq!(uni.status(), StatusCode::BAD_REQUEST, "the unidirectional WebSocket speaks JSON");

    // The first connection was served throughout.
    let channel = format!("notifications:{}", ada.id);
    bystander.send(Message::Binary(encode(&[subscribe_command(2, &channel)]).into())).await.expect("send");
    let reply = next_reply(&mut bystander, &mut pending).await;
    assert_eq!(reply.id, 2);
    assert!(reply.subscribe.is_some(), "{reply:?}");
    server.stop().await;
}

/// Reads length-delimited replies off a streaming response.
struct ProtobufStream {
    response: reqwest::Response,
    buf: Vec<u8>,
}

impl ProtobufStream {
    async fn next_non_ping(&mut self) -> Reply {
        loop {
            let mut rest = &self.buf[..];
            if let Ok(reply) = Reply::decode_length_delimited(&mut rest) {
                let used = self.buf.len() - rest.len();
                self.buf.drain(..used);
                if reply.id == 0 && reply.push.is_none() {
                    continue;
                }
                return reply;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk()).await.expect("a reply in time");
            self.buf.extend_from_slice(&chunk.expect("the body reads").expect("the stream goes on"));
        }
    }
}

#[tokio::test]
async fn a_protobuf_http_stream_takes_its_commands_as_emulation_requests() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let token = token_for(&server, &ada).await;
    let response = client()
        .post(server.url("/connection/http_stream"))
        .header("content-type", "application/octet-stream")
        .body(encode(&[connect_command(1, &token)]))
        .send()
        .await
        .expect("stream opens");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    let mut stream = ProtobufStream { response, buf: Vec::new() };
    let connect = stream.next_non_ping().await.connect.expect("a connect result");
    assert_eq!(connect.session.len(), 32, "a session id for emulation: {connect:?}");

    let emulate = |data: Vec<u8>| {
        let request = EmulationRequest { node: connect.node.clone(), session: connect.session.clone(), data };
        client()
            .post(server.url("/emulation"))
            .header("content-type", "application/octet-stream")
            .body(request.encode_to_vec())
            .send()
    };
    let channel = format!("notifications:{}", ada.id);
    let status = emulate(encode(&[subscribe_command(2, &channel)])).await.expect("emulation").status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reply = stream.next_non_ping().await;
    assert_eq!(reply.id, 2);
    assert!(reply.subscribe.is_some_and(|s| s.recoverable));

    notify(&server, &ada, "streamed in protobuf").await;
    let publication = stream.next_non_ping().await.push.and_then(|p| p.publication).expect("a publication");
    let envelope: Value = serde_json::from_slice(&publication.data).expect("JSON data");
    assert_eq!(envelope["data"]["notification"]["title"], "streamed in protobuf");

    // An emulation body that is no EmulationRequest: 400, and the stream lives on.
    let garbage = client()
        .post(server.url("/emulation"))
        .header("content-type", "application/octet-stream")
        .body(vec![0x0a, 0x40, 0x01])
        .send()
        .await
        .expect("response");
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    // Commands that do not decode close the stream with the protocol's disconnect push.
    assert_eq!(emulate(vec![0x07, 0x01]).await.expect("emulation").status(), StatusCode::NO_CONTENT);
    let disconnect = stream.next_non_ping().await.push.and_then(|p| p.disconnect).expect("a disconnect push");
    assert_eq!((disconnect.code, disconnect.reconnect), (3501, false));

    // A protobuf stream opened without its connect command.
    let empty = client()
        .post(server.url("/connection/http_stream"))
        .header("content-type", "application/octet-stream")
        .body(Vec::new())
        .send()
        .await
        .expect("response");
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST, "no connect command");
    server.stop().await;
}
