//! `solo-bench`: load generator for Solo Realtime.
//!
//! `solo-bench connections` starts a `solo serve` of its own (fresh SQLite data
//! directory, loopback), opens authenticated realtime connections that each
//! subscribe to the workspace channel and answer pings, holds them, and reports
//! connections held, the connect rate and the server's memory per connection
//! (from `/proc`). Clients bind round-robin to 127.0.0.2–127.0.0.9 so the
//! ephemeral port range of one source address is no limit.

mod server;
mod storm;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::server::SoloServer;

#[derive(Parser)]
#[command(name = "solo-bench", about = "Load generator for Solo Realtime")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Idle authenticated connections: how many one server holds, how fast they
    /// connect, and the server's memory per connection.
    Connections {
        /// The `solo` binary to start.
        #[arg(long, default_value = "target/release/solo")]
        solo: String,
        /// Connections to open.
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        /// Connection attempts in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Seconds to hold every connection open (answering pings) before measuring.
        #[arg(long, default_value_t = 10)]
        hold_secs: u64,
    },
    /// Every client drops at once, publications happen while they are away, and
    /// all reconnect at once with recovery: time until all caught up, gaps found
    /// (must be 0), the server's peak memory and CPU.
    ReconnectStorm {
        #[arg(long, default_value = "target/release/solo")]
        solo: String,
        /// Clients.
        #[arg(long, default_value_t = 5_000)]
        count: u64,
        /// Publications made while the clients are away.
        #[arg(long, default_value_t = 50)]
        missed: u64,
        /// Connection attempts in flight at once while setting up (the storm itself is unthrottled).
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Connections { solo, count, concurrency, hold_secs } => {
            connections(&solo, count, concurrency, Duration::from_secs(hold_secs)).await
        }
        Scenario::ReconnectStorm { solo, count, missed, concurrency } => {
            storm::run(&solo, count, missed, concurrency).await
        }
    }
}

/// The loopback source address of the `n`th client.
pub(crate) fn source_address(n: u64) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (n % 8) as u8)), 0)
}

async fn connections(solo: &str, count: u64, concurrency: usize, hold: Duration) -> anyhow::Result<()> {
    let mut env = SoloServer::unlimited(count);
    env.push(("SOLO_PING_INTERVAL_SECS", "5".into()));
    let server = SoloServer::start(solo, &env).await?;
    let (token, channel) = server.realtime_token().await?;
    let idle_rss = server.rss_kib()?;
    let target: SocketAddr = server.addr.parse().context("server address")?;

    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(concurrency));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut clients = Vec::with_capacity(count as usize);
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await.context("semaphore")?;
        let (token, channel, opened, failed, stop) =
            (token.clone(), channel.clone(), opened.clone(), failed.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            match open_client(source_address(n), target, &token, &channel).await {
                Ok(mut socket) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                    hold_client(&mut socket, &stop).await;
                }
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("connection {n} failed: {e:#}");
                    }
                }
            }
        }));
    }
    while opened.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(hold).await;
    let held = server.metric("solo_connections").await?;
    let rss = server.rss_kib()?;
    let peak = server.peak_rss_kib()?;
    let cpu = server.cpu_seconds()?;
    stop.cancel();
    for client in clients {
        let _ = client.await;
    }
    let opened = opened.load(Ordering::Relaxed);
    let per_connection = (rss.saturating_sub(idle_rss)) as f64 * 1024.0 / opened.max(1) as f64;
    let report = json!({
        "scenario": "connections",
        "server": "solo",
        "requested": count,
        "opened": opened,
        "failed": failed.load(Ordering::Relaxed),
        "held": held,
        "connect_per_sec": (opened as f64 / connect_secs).round(),
        "rss_idle_kib": idle_rss,
        "rss_kib": rss,
        "rss_peak_kib": peak,
        "rss_bytes_per_connection": per_connection.round(),
        "server_cpu_secs": cpu,
    });
    println!("{report}");
    if opened < count {
        bail!("{} of {count} connections failed", count - opened);
    }
    Ok(())
}

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Connects from `source`, authenticates, subscribes to `channel`, and waits for both replies.
async fn open_client(source: SocketAddr, target: SocketAddr, token: &str, channel: &str) -> anyhow::Result<Socket> {
    let (ws, _) = open_subscribed(source, target, token, json!({ "channel": channel })).await?;
    Ok(ws)
}

/// Connects from `source`, authenticates and sends `subscribe` (the request
/// given); returns the socket and the subscribe result.
pub(crate) async fn open_subscribed(
    source: SocketAddr,
    target: SocketAddr,
    token: &str,
    subscribe: Value,
) -> anyhow::Result<(Socket, Value)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(source)?;
    let stream = socket.connect(target).await?;
    let url = format!("ws://{target}/connection/websocket");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    let hello =
        format!("{}\n{}", json!({"id": 1, "connect": {"token": token}}), json!({"id": 2, "subscribe": subscribe}));
    ws.send(Message::Text(hello.into())).await?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("no reply")?;
        let Some(Ok(Message::Text(text))) = frame else { bail!("closed before subscribing") };
        for line in text.split('\n') {
            let message: Value = serde_json::from_str(line)?;
            if message["error"].is_object() {
                bail!("server error: {message}");
            }
            if message["id"] == 2 {
                return Ok((ws, message["subscribe"].clone()));
            }
        }
    }
}

/// Answers pings until told to stop.
async fn hold_client(ws: &mut Socket, stop: &CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if text.split('\n').any(|l| l == "{}") && ws.send(Message::Text("{}".into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    }
}
