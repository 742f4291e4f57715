//! Clients that open TCP connections and then send nothing, or half a request,
//! or stay idle after a request: each is closed after the header timeout, and
//! meanwhile everyone else is served.

use std::sync::Arc;
use std::time::{Duration, Instant};

use solo_server::bus::InProcessBus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Reads until the server closes the connection; returns what it sent, or
/// `None` if it was still open after `limit` (the test's safety net, far above
/// the configured timeout).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

fn address(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|s| s.http_header_timeout_secs = 1, Arc::new(InProcessBus::new())).await;
    let addr = address(&server);

    // 200 connections that never send a byte, one that sends half a request
    // line and stops, one that sends headers without the blank line that ends
    // them, and one keep-alive connection that goes idle after a request.
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    let mut half_line = TcpStream::connect(&addr).await.expect("connect");
    half_line.write_all(b"GET /heal").await.expect("write");
    let mut unfinished_headers = TcpStream::connect(&addr).await.expect("connect");
    unfinished_headers.write_all(b"GET /healthz HTTP/1.1\r\nHost: solo\r\nX-Slow: 1\r\n").await.expect("write");
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: solo\r\n\r\n").await.expect("write");

    // Everyone else is served meanwhile.
    let healthy = client().get(server.url("/healthz")).send().await.expect("healthz");
    assert!(healthy.status().is_success(), "a normal request is served while slow clients wait");

    let limit = Duration::from_secs(30);
    let idle_bytes = read_until_closed(&mut idle, limit).await.expect("the idle keep-alive connection is closed");
    let idle_text = String::from_utf8_lossy(&idle_bytes);
    assert!(idle_text.starts_with("HTTP/1.1 200"), "the idle connection's request was answered first: {idle_text}");
    for (what, stream) in [("half a request line", &mut half_line), ("unfinished headers", &mut unfinished_headers)] {
        let sent = read_until_closed(stream, limit).await.unwrap_or_else(|| panic!("{what}: still open"));
        let text = String::from_utf8_lossy(&sent);
        assert!(!text.starts_with("HTTP/1.1 2"), "{what} was not served as a request: {text}");
    }
    for (i, stream) in silent.iter_mut().enumerate() {
        let sent = read_until_closed(stream, limit).await.unwrap_or_else(|| panic!("silent connection {i} still open"));
        assert!(!String::from_utf8_lossy(&sent).starts_with("HTTP/1.1 2"), "nothing to answer on a silent connection");
    }

    let healthy = client().get(server.url("/healthz")).send().await.expect("healthz");
    assert!(healthy.status().is_success(), "the server keeps serving after closing them");
    server.stop().await;
}

#[tokio::test]
async fn a_request_sent_byte_by_byte_within_the_timeout_is_served() {
    // The timeout bounds the whole header, not the gap between bytes; a slow but
    // honest client that finishes in time is served.
    let server = TestServer::start_with(|s| s.http_header_timeout_secs = 5, Arc::new(InProcessBus::new())).await;
    let mut stream = TcpStream::connect(address(&server)).await.expect("connect");
    for byte in b"GET /healthz HTTP/1.1\r\nHost: solo\r\nConnection: close\r\n\r\n" {
        stream.write_all(&[*byte]).await.expect("write");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let answer = read_until_closed(&mut stream, Duration::from_secs(30)).await.expect("closed after the answer");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    server.stop().await;
}

/// A TCP proxy that forwards both ways until `cut` fires, then stops
/// forwarding without closing either socket: to the server, the client has
/// vanished with no FIN or RST (a half-open connection: a laptop lid closed,
/// a NAT entry expired, a cable pulled).
async fn blackhole_proxy(upstream: std::net::SocketAddr, cut: tokio_util::sync::CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else { continue };
            let cut = cut.clone();
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let forward = async {
                    let _ = tokio::join!(
                        tokio::io::copy(&mut client_read, &mut server_write),
                        tokio::io::copy(&mut server_read, &mut client_write)
                    );
                };
                tokio::select! {
                    () = forward => {}
                    () = cut.cancelled() => {
                        // Keep all four halves open, forwarding nothing, for the rest of the test.
                        let _held = (client_read, client_write, server_read, server_write);
                        std::future::pending::<()>().await;
                    }
                }
            });
        }
    });
    addr.to_string()
}

#[tokio::test]
async fn a_half_open_connection_is_detected_by_missed_pongs_and_released() {
    use futures::{SinkExt, StreamExt};
    use serde_json::json;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start_with(
        |s| {
            s.ping_interval_secs = 1;
            s.pong_timeout_secs = 1;
        },
        Arc::new(InProcessBus::new()),
    )
    .await;
    let ada = server.user("ada", "acme", solo_store::Role::Member).await;
    let cut = tokio_util::sync::CancellationToken::new();
    let proxy = blackhole_proxy(address(&server).parse().expect("server addr"), cut.clone()).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{proxy}/connection/websocket")).await.expect("ws via proxy");
    let token = crate::ws::token_for(&server, &ada).await;
    let channel = format!("notifications:{}", ada.id);
    let hello = format!(
        "{}\n{}",
        json!({ "id": 1, "connect": { "token": token } }),
        json!({ "id": 2, "subscribe": { "channel": channel } })
    );
    ws.send(Message::Text(hello.into())).await.expect("send");
    let mut subscribed = false;
    while !subscribed {
        let Some(Ok(Message::Text(text))) = ws.next().await else { panic!("closed before subscribing") };
        subscribed = text.split('\n').any(|l| l.contains("\"id\":2"));
    }
    assert_eq!(server.state.hub().connection_count(), 1);

    // The client vanishes; the server keeps publishing to it meanwhile.
    cut.cancel();
    for n in 0..20 {
        let body = json!({ "userId": ada.id, "category": "system", "title": format!("while away {n}") });
        let (status, _) = post(&server, &ada, "/api/notifications", body).await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
    }
    eventually("the half-open connection is released", Duration::from_secs(20), || async {
        (server.state.hub().connection_count() == 0).then_some(())
    })
    .await;
    // Everyone else is unaffected.
    let (mut direct, _) = crate::ws::Ws::connect(&server, &ada).await;
    let reply = direct.command("subscribe", json!({ "channel": channel })).await;
    assert_eq!(reply["subscribe"]["offset"], 20, "a new connection is served, history intact: {reply}");
    drop(ws);
    server.stop().await;
}
