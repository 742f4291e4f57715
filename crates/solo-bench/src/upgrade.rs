//! The rolling-upgrade drill (`solo-bench upgrade`, run by `scripts/upgrade-drill`):
//! node A on the previous release and node B on the next build share one
//! PostgreSQL database and Redis; B's start migrates the schema under A; A is
//! then stopped (SIGTERM) and started again on the next build. Clients on both
//! nodes follow one channel throughout, as the SDKs do (reconnect, recover from
//! their last offset), while notifications are created through both nodes.
//! Nothing may be lost: every client ends with every offset of the channel,
//! and every write that was acknowledged is among them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::ingest::ScratchDatabase;
use crate::server::SoloServer;
use crate::{open_subscribed, source_address, Socket};

pub struct UpgradeOptions {
    /// The previous release's `solo` binary.
    pub previous: String,
    /// The next build's `solo` binary.
    pub next: String,
    pub postgres: String,
    pub redis: String,
    pub clients: u64,
    /// Notifications created per second, alternately through each node.
    pub rate: f64,
    /// How long each phase lasts (both nodes up before and after A's upgrade).
    pub phase: Duration,
}

#[derive(Debug, Serialize)]
pub struct UpgradeResult {
    pub scenario: &'static str,
    pub clients: u64,
    /// Writes answered 201, before, during and after A's restart.
    pub acknowledged: u64,
    /// Writes refused or cut while A restarted (retried by nobody: not acknowledged).
    pub refused: u64,
    /// Publications on the channel over the drill (its offset moved by this much).
    pub published: u64,
    /// Offsets missing from some client at the end, over all clients (must be 0).
    pub gaps: u64,
    pub clients_with_gaps: u64,
    /// Clients that reconnected, each recovering what it missed.
    pub reconnects: u64,
    /// From A's SIGTERM until it served again on the next build.
    pub restart_secs: f64,
}

/// One client's view of the channel, shared with the drill.
#[derive(Default)]
struct Seen {
    offsets: std::sync::Mutex<BTreeSet<u64>>,
}

impl Seen {
    fn add(&self, offset: u64) {
        self.offsets.lock().unwrap_or_else(|p| p.into_inner()).insert(offset);
    }

    fn snapshot(&self) -> BTreeSet<u64> {
        self.offsets.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub async fn run(options: &UpgradeOptions) -> anyhow::Result<UpgradeResult> {
    let database = ScratchDatabase::create(&options.postgres, 950)?;
    let mut env = SoloServer::unlimited(options.clients);
    env.extend([
        ("SOLO_DATABASE_URL", database.url.clone()),
        ("SOLO_BUS_URL", options.redis.clone()),
        ("SOLO_CLUSTER_NAME", format!("upgrade{}", std::process::id())),
    ]);
    let (addr_a, addr_b) = (crate::targets::free_addr()?, crate::targets::free_addr()?);
    // A on the previous release creates the schema as that release knows it.
    let mut node_a = SoloServer::start_at(&options.previous, &env, None, &addr_a, None).await?;
    let pat = node_a.pat().to_owned();
    // B's start migrates it to the next build's schema, under A.
    let node_b = SoloServer::start_at(&options.next, &env, None, &addr_b, Some(&pat)).await?;
    let (user, channel) = node_b.notification_publisher().await?;
    let token = node_b.cached_token().await?;

    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    let mut seen = Vec::new();
    for n in 0..options.clients {
        let addr: std::net::SocketAddr = if n % 2 == 0 { &addr_a } else { &addr_b }.parse()?;
        let (socket, reply) = open_subscribed(source_address(n), addr, &token, json!({ "channel": channel })).await?;
        let start = Position::of(&reply)?;
        let view = Arc::new(Seen::default());
        seen.push((start.offset, view.clone()));
        let (token, channel, stop, reconnects) = (token.clone(), channel.clone(), stop.clone(), reconnects.clone());
        clients.push(tokio::spawn(async move {
            follow(n, addr, socket, start, &token, &channel, &view, &stop, &reconnects).await
        }));
    }

    let http = reqwest::Client::new();
    let writes = Writes::default();
    let top_before = channel_top(&node_b, &channel).await?;
    writes.run(&[&node_a, &node_b], &http, &user, options.rate, options.phase).await;

    // The upgrade of A: stopped as an operator would, started on the next build.
    let restart = Instant::now();
    let writing = {
        let (writes, http, user) = (writes.clone(), http.clone(), user.clone());
        let (rate, phase) = (options.rate, options.phase);
        let through_b = [(node_b.url("/api/notifications"), pat.clone())];
        // Writes go on through B while A is down.
        tokio::spawn(async move { writes.run_through(&through_b, &http, &user, rate, phase).await })
    };
    node_a.terminate(Duration::from_secs(30))?;
    node_a = SoloServer::start_at(&options.next, &env, None, &addr_a, Some(&pat)).await?;
    let restart_secs = restart.elapsed().as_secs_f64();
    writing.await.context("writes during the restart")?;
    writes.run(&[&node_a, &node_b], &http, &user, options.rate, options.phase).await;

    let top = channel_top(&node_b, &channel).await?;
    // Every client catches up to the channel's last offset, or the drill says who did not.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && seen.iter().any(|(_, view)| view.snapshot().last().copied() < Some(top)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (mut gaps, mut clients_with_gaps) = (0, 0);
    for (start, view) in &seen {
        let offsets = view.snapshot();
        let missing = (start + 1..=top).filter(|o| !offsets.contains(o)).count() as u64;
        if missing > 0 {
            clients_with_gaps += 1;
            gaps += missing;
        }
    }
    for client in clients {
        client.abort();
    }
    drop(node_a);
    drop(node_b);
    drop(database);
    let result = UpgradeResult {
        scenario: "upgrade",
        clients: options.clients,
        acknowledged: writes.acknowledged.load(Ordering::SeqCst),
        refused: writes.refused.load(Ordering::SeqCst),
        published: top - top_before,
        gaps,
        clients_with_gaps,
        reconnects: reconnects.load(Ordering::SeqCst),
        restart_secs,
    };
    if result.gaps > 0 || result.published < result.acknowledged {
        bail!("the upgrade lost publications: {}", serde_json::to_string(&result)?);
    }
    Ok(result)
}

/// A subscription's place in the channel's stream.
#[derive(Debug, Clone)]
struct Position {
    epoch: String,
    offset: u64,
}

impl Position {
    fn of(subscribe: &Value) -> anyhow::Result<Position> {
        Ok(Position {
            epoch: subscribe["epoch"].as_str().context("epoch")?.to_owned(),
            offset: subscribe["offset"].as_u64().context("offset")?,
        })
    }
}

/// The channel's latest offset, as a new subscriber is positioned.
async fn channel_top(node: &SoloServer, channel: &str) -> anyhow::Result<u64> {
    let token = node.cached_token().await?;
    let addr = node.url("").trim_start_matches("http://").parse()?;
    let (_, reply) = open_subscribed(source_address(60_000), addr, &token, json!({ "channel": channel })).await?;
    reply["offset"].as_u64().context("offset")
}

/// Reads publications, reconnecting (to the same address, as an SDK retries
/// its endpoint) with recovery from the last offset whenever the node goes.
#[allow(clippy::too_many_arguments)]
async fn follow(
    n: u64,
    addr: std::net::SocketAddr,
    mut socket: Socket,
    mut position: Position,
    token: &str,
    channel: &str,
    seen: &Seen,
    stop: &AtomicBool,
    reconnects: &AtomicU64,
) {
    loop {
        read_until_closed(&mut socket, &mut position, seen, stop).await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        socket = loop {
            let request =
                json!({ "channel": channel, "recover": true, "epoch": position.epoch, "offset": position.offset });
            match open_subscribed(source_address(n), addr, token, request).await {
                Ok((socket, reply)) if reply["recovered"] == true => {
                    for publication in reply["publications"].as_array().into_iter().flatten() {
                        if let Some(offset) = publication["offset"].as_u64() {
                            seen.add(offset);
                            position.offset = position.offset.max(offset);
                        }
                    }
                    reconnects.fetch_add(1, Ordering::SeqCst);
                    break socket;
                }
                Ok((_, reply)) => {
                    eprintln!("client {n}: not recovered after a reconnect: {reply}");
                    return;
                }
                Err(_) if !stop.load(Ordering::SeqCst) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(_) => return,
            }
        };
    }
}

async fn read_until_closed(socket: &mut Socket, position: &mut Position, seen: &Seen, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(frame) = tokio::time::timeout(Duration::from_millis(200), socket.next()).await else { continue };
        let Some(Ok(Message::Text(text))) = frame else { return };
        for line in text.split('\n') {
            if line == "{}" {
                if socket.send(Message::Text("{}".into())).await.is_err() {
                    return;
                }
                continue;
            }
            let message: Value = serde_json::from_str(line).unwrap_or_default();
            if let Some(offset) = message["push"]["pub"]["offset"].as_u64() {
                seen.add(offset);
                position.offset = position.offset.max(offset);
            }
        }
    }
}

/// The drill's writes and what came of them.
#[derive(Default, Clone)]
struct Writes {
    acknowledged: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Writes {
    /// Creates notifications at `rate` for `phase`, alternately through each node.
    async fn run(&self, nodes: &[&SoloServer], http: &reqwest::Client, user: &str, rate: f64, phase: Duration) {
        let urls: Vec<(String, String)> =
            nodes.iter().map(|n| (n.url("/api/notifications"), n.pat().to_owned())).collect();
        self.run_through(&urls, http, user, rate, phase).await;
    }

    /// Creates notifications at `rate` for `phase` through each (URL, PAT) in turn.
    async fn run_through(
        &self,
        urls: &[(String, String)],
        http: &reqwest::Client,
        user: &str,
        rate: f64,
        phase: Duration,
    ) {
        let started = Instant::now();
        let mut n = 0u64;
        while started.elapsed() < phase {
            let (url, pat) = &urls[n as usize % urls.len()];
            self.write(url, pat, http, user, n).await;
            n += 1;
            tokio::time::sleep(Duration::from_secs_f64(1.0 / rate)).await;
        }
    }

    async fn write(&self, url: &str, pat: &str, http: &reqwest::Client, user: &str, n: u64) {
        let body = json!({ "userId": user, "category": "system", "title": format!("upgrade drill {n}") });
        let answered = http.post(url).bearer_auth(pat).json(&body).timeout(Duration::from_secs(10)).send().await;
        match answered {
            Ok(response) if response.status() == reqwest::StatusCode::CREATED => {
                self.acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            _ => {
                self.refused.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
