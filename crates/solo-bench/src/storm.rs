//! The reconnect storm: every client drops at once, the server publishes while
//! they are away, and all of them reconnect at once asking to recover.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::programs::Programs;
use crate::server::SoloServer;
use crate::{open_subscribed, source_address, Socket};

/// The phases every client follows, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Connect,
    Drop,
    Reconnect,
}

/// What one client saw after it reconnected.
struct Recovered {
    /// Offsets received (recovered or live) after the reconnect.
    offsets: BTreeSet<u64>,
    /// The offset it had before dropping.
    before: u64,
}

pub async fn run(programs: &Programs, count: u64, missed: u64, concurrency: usize) -> anyhow::Result<StormResult> {
    let server = SoloServer::start_for(programs, count).await?;
    let mission = server.create_mission().await?;
    let channel = format!("mission:{mission}");
    let token = server.cached_token().await?;
    let target: SocketAddr = server.addr.parse().context("server address")?;

    let (phase_tx, phase) = watch::channel(Phase::Connect);
    let subscribed = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut clients = Vec::with_capacity(count as usize);
    for n in 0..count {
        let (token, channel, phase, subscribed, last, gate) =
            (token.clone(), channel.clone(), phase.clone(), subscribed.clone(), last.clone(), gate.clone());
        clients.push(tokio::spawn(async move {
            client(n, target, &token, &channel, phase, &subscribed, &last, &gate).await
        }));
    }
    let setup = Instant::now();
    while subscribed.load(Ordering::Relaxed) < count {
        if setup.elapsed() > Duration::from_secs(300) {
            bail!("only {} of {count} clients subscribed", subscribed.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Everyone drops; the server notices; publications happen meanwhile.
    phase_tx.send(Phase::Drop)?;
    let dropped = Instant::now();
    while server.metric("solo_connections").await? > 0.0 && dropped.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let http = reqwest::Client::new();
    let mut version = 1;
    for n in 0..missed {
        version = server.change_stage(&http, &mission, if n % 2 == 0 { "spec" } else { "backlog" }).await?;
    }
    last.store(version, Ordering::SeqCst);

    let cpu_before = server.cpu_seconds()?;
    let storm = Instant::now();
    phase_tx.send(Phase::Reconnect)?;
    let mut gaps = 0u64;
    let mut clients_with_gaps = 0u64;
    let mut failed = 0u64;
    for client in clients {
        match client.await? {
            Ok(recovered) => {
                let missing = (recovered.before + 1..=version).filter(|o| !recovered.offsets.contains(o)).count();
                gaps += missing as u64;
                clients_with_gaps += u64::from(missing > 0);
            }
            Err(e) => {
                if failed < 5 {
                    eprintln!("client failed: {e:#}");
                }
                failed += 1;
            }
        }
    }
    let recovered_secs = storm.elapsed().as_secs_f64();
    Ok(StormResult {
        scenario: "reconnect-storm",
        server: "solo",
        clients: count,
        missed_publications: missed,
        failed,
        all_recovered_secs: (recovered_secs * 1000.0).round() / 1000.0,
        gaps,
        clients_with_gaps,
        server_cpu_secs_during_storm: ((server.cpu_seconds()? - cpu_before) * 100.0).round() / 100.0,
        rss_peak_kib: server.peak_rss_kib()?,
    })
}

/// What the `reconnect-storm` scenario measured (printed as JSON by the CLI).
#[derive(Debug, serde::Serialize)]
pub struct StormResult {
    pub scenario: &'static str,
    pub server: &'static str,
    pub clients: u64,
    pub missed_publications: u64,
    /// Clients that did not get back.
    pub failed: u64,
    pub all_recovered_secs: f64,
    /// Publications missing after recovery, over all clients (must be 0).
    pub gaps: u64,
    pub clients_with_gaps: u64,
    pub server_cpu_secs_during_storm: f64,
    pub rss_peak_kib: u64,
}

#[allow(clippy::too_many_arguments)]
async fn client(
    n: u64,
    target: SocketAddr,
    token: &str,
    channel: &str,
    mut phase: watch::Receiver<Phase>,
    subscribed: &AtomicU64,
    last: &AtomicU64,
    gate: &Semaphore,
) -> anyhow::Result<Recovered> {
    let first = {
        let _permit = gate.acquire().await?;
        open_subscribed(source_address(n), target, token, json!({ "channel": channel })).await?
    };
    let (socket, reply) = first;
    let epoch = reply["epoch"].as_str().context("epoch")?.to_owned();
    let before = reply["offset"].as_u64().context("offset")?;
    subscribed.fetch_add(1, Ordering::Relaxed);
    phase.wait_for(|p| *p >= Phase::Drop).await?;
    drop(socket);
    phase.wait_for(|p| *p >= Phase::Reconnect).await?;

    let request = json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": before });
    let (mut socket, reply) = open_subscribed(source_address(n), target, token, request).await?;
    if reply["recovered"] != true {
        bail!("not recovered: {reply}");
    }
    let mut offsets: BTreeSet<u64> =
        reply["publications"].as_array().into_iter().flatten().filter_map(|p| p["offset"].as_u64()).collect();
    let target_offset = last.load(Ordering::SeqCst);
    while offsets.last().copied().unwrap_or(before) < target_offset {
        read_publications(&mut socket, &mut offsets).await?;
    }
    Ok(Recovered { offsets, before })
}

/// Reads one frame, adding the publication offsets it carries (and answering pings).
async fn read_publications(socket: &mut Socket, offsets: &mut BTreeSet<u64>) -> anyhow::Result<()> {
    use futures::SinkExt;
    let frame = tokio::time::timeout(Duration::from_secs(60), socket.next()).await.context("stalled")?;
    let Some(Ok(Message::Text(text))) = frame else { bail!("closed while catching up") };
    for line in text.split('\n') {
        if line == "{}" {
            socket.send(Message::Text("{}".into())).await?;
            continue;
        }
        let message: Value = serde_json::from_str(line)?;
        if let Some(offset) = message["push"]["pub"]["offset"].as_u64() {
            offsets.insert(offset);
        }
    }
    Ok(())
}
