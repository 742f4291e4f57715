//! A small protocol client for tests: a real WebSocket speaking Centrifugo JSON.

use std::collections::VecDeque;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{client, TestServer, TestUser};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Ws {
    write: SplitSink<Stream, Message>,
    read: SplitStream<Stream>,
    next_id: u32,
    pushes: VecDeque<Value>,
    /// Objects read from frames but not yet handed out, in arrival order.
    incoming: VecDeque<Value>,
    /// Answer server pings automatically.
    pub auto_pong: bool,
    pub pings_seen: usize,
}

/// A connection token for the user, from `POST /api/realtime/token`.
pub async fn token_for(server: &TestServer, user: &TestUser) -> String {
    let response: Value = client()
        .post(server.url("/api/realtime/token"))
        .bearer_auth(&user.pat)
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("json");
    response["token"].as_str().expect("token").to_owned()
}

impl Ws {
    pub async fn open(server: &TestServer) -> Ws {
        let url = format!("{}/connection/websocket", server.base.replacen("http://", "ws://", 1));
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("websocket opens");
        Ws::from_stream(stream)
    }

    /// Opens a WebSocket whose kernel receive buffer is small, for a client that stops reading.
    pub async fn open_small(server: &TestServer, recv_buffer: u32) -> Ws {
        let url = format!("{}/connection/websocket", server.base.replacen("http://", "ws://", 1));
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(recv_buffer).expect("recv buffer");
        let addr = server.base.trim_start_matches("http://").parse().expect("addr");
        let tcp = socket.connect(addr).await.expect("tcp connect");
        let (stream, _) =
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await.expect("websocket opens");
        Ws::from_stream(stream)
    }

    fn from_stream(stream: Stream) -> Ws {
        let (write, read) = stream.split();
        Ws {
            write,
            read,
            next_id: 1,
            pushes: VecDeque::new(),
            incoming: VecDeque::new(),
            auto_pong: true,
            pings_seen: 0,
        }
    }

    /// Opens and connects with a fresh token; returns the connect result.
    pub async fn connect(server: &TestServer, user: &TestUser) -> (Ws, Value) {
        let mut ws = Ws::open(server).await;
        let token = token_for(server, user).await;
        let reply = ws.command("connect", json!({ "token": token, "name": "tests" })).await;
        assert!(reply.get("error").is_none(), "connect failed: {reply}");
        (ws, reply["connect"].clone())
    }

    pub async fn send_text(&mut self, text: String) {
        self.write.send(Message::Text(text.into())).await.expect("send");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.write.send(Message::Binary(bytes.into())).await.expect("send");
    }

    /// Sends `{"id": N, method: body}` and waits for the reply with that id.
    pub async fn command(&mut self, method: &str, body: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send_text(json!({ "id": id, method: body }).to_string()).await;
        loop {
            let message = self.next_message(Duration::from_secs(10)).await.expect("reply before close");
            if message["id"] == id {
                return message;
            }
            self.pushes.push_back(message);
        }
    }

    /// As [`Ws::command`], but None when the server closes the connection instead of replying.
    pub async fn command_or_close(&mut self, method: &str, body: Value) -> Option<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_text(json!({ "id": id, method: body }).to_string()).await;
        loop {
            let message = self.next_message(Duration::from_secs(10)).await?;
            if message["id"] == id {
                return Some(message);
            }
            self.pushes.push_back(message);
        }
    }

    /// The next JSON object from the server (replies and pushes), answering pings.
    async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(value) = self.incoming.pop_front() {
                return Some(value);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(left, self.read.next()).await.ok()??;
            match frame {
                Ok(Message::Text(text)) => {
                    for line in text.split('\n') {
                        let value: Value =
                            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {line:?} is not JSON: {e}"));
                        if value.as_object().is_some_and(|o| o.is_empty()) {
                            self.pings_seen += 1;
                            if self.auto_pong {
                                self.send_text("{}".into()).await;
                            }
                        } else {
                            self.incoming.push_back(value);
                        }
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next push (`{"push": …}`), waiting up to `timeout`.
    pub async fn next_push(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(push) = self.pushes.pop_front() {
            return Some(push);
        }
        let message = self.next_message(timeout).await?;
        Some(message)
    }

    /// The next publication on any channel.
    pub async fn next_publication(&mut self, timeout: Duration) -> Option<Value> {
        loop {
            let push = self.next_push(timeout).await?;
            if push["push"]["pub"].is_object() {
                return Some(push);
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn close_code(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.read.next()).await.ok()? {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Text(text))) => {
                    if self.auto_pong && text.split('\n').any(|l| l == "{}") {
                        let _ = self.write.send(Message::Text("{}".into())).await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}
