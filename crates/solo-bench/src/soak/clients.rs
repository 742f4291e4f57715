//! The soak's realtime clients, behaving as the centrifuge SDKs do: connect
//! with a token, subscribe, answer pings, notice a silent server, reconnect
//! with backoff (to the next node when theirs is gone, as behind a load
//! balancer) and resubscribe asking to recover from their last offset. Some
//! leave for a while and come back. Each keeps, per channel, the last offset
//! it holds without a hole and the offsets it is missing, so nothing lost
//! or repeated goes unnoticed.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::Random;
use crate::{source_address, targets, Socket};

/// Most offsets one subscription records as missing (a hole wider than this
/// is counted, not listed).
const MISSING_CAP: u64 = 100_000;

/// What one client follows and where it connects first.
pub struct ClientPlan {
    pub n: u64,
    pub user: usize,
    pub home: usize,
    pub channels: Vec<String>,
}

/// Totals over every client.
#[derive(Default)]
pub struct ClientCounters {
    /// Reconnects after the server closed, cut or went silent on the client.
    pub drops: AtomicU64,
    /// Of those, connections that went silent (no ping within the deadline).
    pub silent: AtomicU64,
    /// Clients that left on their own and came back later.
    pub leaves: AtomicU64,
    /// Attempts to connect that failed (node down, refused, timed out).
    pub failed_attempts: AtomicU64,
    pub live_publications: AtomicU64,
    /// Publications received in a subscribe reply that recovered.
    pub recovered_publications: AtomicU64,
    pub recoveries: AtomicU64,
    /// Resubscribes answered `recovered: false` (history no longer covered the gap).
    pub not_recovered: AtomicU64,
    /// Publications received a second time (dropped by offset, as consumers dedupe).
    pub duplicates: AtomicU64,
    /// Holes filled later (a 3010 close followed by recovery, say).
    pub holes_filled: AtomicU64,
    /// Server disconnect codes seen, `code → count` as text ("3010:4").
    pub disconnect_codes: Mutex<std::collections::BTreeMap<u64, u64>>,
}

/// Where one client stands, read by the soak while it runs.
pub struct Progress {
    /// Per channel of its plan, the last offset held without a hole.
    pub offsets: Vec<AtomicU64>,
    /// Offsets it is missing now, over its channels.
    pub missing: AtomicU64,
}

impl Progress {
    pub fn new(channels: usize) -> Progress {
        Progress { offsets: (0..channels).map(|_| AtomicU64::new(0)).collect(), missing: AtomicU64::new(0) }
    }
}

/// State the clients share with the soak.
pub struct ClientWorld {
    pub nodes: Vec<SocketAddr>,
    /// A connection token per user.
    pub tokens: Vec<String>,
    /// Ids of the notifications each user's clients received (any of them).
    pub seen_notifications: Vec<Mutex<HashSet<String>>>,
    pub counters: ClientCounters,
    /// Set when the soak winds down: nobody leaves any more.
    pub settling: AtomicBool,
    /// Mean time a client stays before leaving for a while.
    pub mean_stay: Duration,
    /// How long a client waits for a frame before it calls the server silent
    /// (the ping interval plus the SDK's allowance for a late ping).
    pub silence: Duration,
    pub stop: CancellationToken,
}

/// One subscription's record.
pub struct Track {
    pub channel: String,
    pub epoch: Option<String>,
    /// Last offset held with every offset before it (from where it joined).
    pub offset: u64,
    pub missing: BTreeSet<u64>,
    /// Offsets lost for good: a hole the server said it could not recover,
    /// or one wider than `MISSING_CAP`.
    pub lost: u64,
}

impl Track {
    fn new(channel: String) -> Track {
        Track { channel, epoch: None, offset: 0, missing: BTreeSet::new(), lost: 0 }
    }

    /// Marks every offset after the last one held, up to `top`, as missing.
    fn hole_to(&mut self, top: u64) {
        if top <= self.offset {
            return;
        }
        if top - self.offset > MISSING_CAP {
            self.lost += top - self.offset;
        } else {
            self.missing.extend(self.offset + 1..=top);
        }
        self.offset = top;
    }

    /// Takes in a publication at `offset`.
    fn apply(&mut self, offset: u64, counters: &ClientCounters) {
        if offset <= self.offset {
            if self.missing.remove(&offset) {
                counters.holes_filled.fetch_add(1, Ordering::Relaxed);
            } else {
                counters.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        self.hole_to(offset - 1);
        self.offset = offset;
    }
}

/// How a connection ended.
enum Ended {
    Stopped,
    Left,
    Dropped,
}

/// Runs one client until the soak stops; returns its subscriptions' records.
pub async fn run(plan: ClientPlan, world: Arc<ClientWorld>, progress: Arc<Progress>) -> Vec<Track> {
    let mut tracks: Vec<Track> = plan.channels.iter().cloned().map(Track::new).collect();
    let mut random = Random::new(plan.n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed);
    let mut node = plan.home;
    let mut backoff = Duration::from_millis(200);
    let mut connected_before = false;
    while !world.stop.is_cancelled() {
        let addr = world.nodes[node % world.nodes.len()];
        let token = &world.tokens[plan.user];
        let opened = tokio::select! {
            _ = world.stop.cancelled() => break,
            opened = tokio::time::timeout(Duration::from_secs(15), open(plan.n, plan.user, addr, token, &mut tracks, &world)) => opened,
        };
        let socket = match opened {
            Ok(Ok(socket)) => socket,
            Ok(Err(_)) | Err(_) => {
                world.counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                // Try the next node, after a jittered, growing pause (as the SDKs back off).
                node += 1;
                let pause = backoff.mul_f64(0.5 + random.unit());
                backoff = (backoff * 2).min(Duration::from_secs(5));
                tokio::select! {
                    _ = world.stop.cancelled() => break,
                    _ = tokio::time::sleep(pause) => continue,
                }
            }
        };
        backoff = Duration::from_millis(200);
        if connected_before {
            world.counters.recoveries.fetch_add(1, Ordering::Relaxed);
        }
        connected_before = true;
        publish_progress(&tracks, &progress);
        let leave_at = Instant::now() + world.mean_stay.mul_f64(random.exponential());
        let ended = follow(socket, plan.user, &mut tracks, &world, &progress, leave_at).await;
        match ended {
            Ended::Stopped => break,
            Ended::Left => {
                world.counters.leaves.fetch_add(1, Ordering::Relaxed);
                let away = Duration::from_secs_f64(2.0 + 13.0 * random.unit());
                tokio::select! {
                    _ = world.stop.cancelled() => break,
                    _ = tokio::time::sleep(away) => {}
                }
            }
            Ended::Dropped => {
                world.counters.drops.fetch_add(1, Ordering::Relaxed);
                let pause = Duration::from_millis(100 + (400.0 * random.unit()) as u64);
                tokio::time::sleep(pause).await;
            }
        }
    }
    tracks
}

fn publish_progress(tracks: &[Track], progress: &Progress) {
    for (track, slot) in tracks.iter().zip(&progress.offsets) {
        slot.store(track.offset, Ordering::Relaxed);
    }
    progress.missing.store(tracks.iter().map(|t| t.missing.len() as u64).sum(), Ordering::Relaxed);
}

/// Connects, authenticates and subscribes to every channel of `tracks`,
/// recovering where a position is known.
async fn open(
    n: u64,
    user: usize,
    addr: SocketAddr,
    token: &str,
    tracks: &mut [Track],
    world: &ClientWorld,
) -> anyhow::Result<Socket> {
    let mut ws = targets::open_websocket(format!("ws://{addr}/connection/websocket"), source_address(n), addr).await?;
    let mut hello = vec![json!({ "id": 1, "connect": { "token": token, "name": "soak" } }).to_string()];
    for (i, track) in tracks.iter().enumerate() {
        let subscribe = match &track.epoch {
            Some(epoch) => json!({ "channel": track.channel, "recover": true, "epoch": epoch, "offset": track.offset }),
            None => json!({ "channel": track.channel }),
        };
        hello.push(json!({ "id": i + 2, "subscribe": subscribe }).to_string());
    }
    ws.send(Message::Text(hello.join("\n").into())).await?;
    let mut answered = 0;
    while answered < tracks.len() {
        let frame = ws.next().await.context("closed before subscribing")??;
        let Message::Text(text) = frame else { continue };
        for line in text.split('\n') {
            let reply: Value = serde_json::from_str(line)?;
            if let Some(error) = reply.get("error") {
                bail!("server error: {error}");
            }
            if reply.get("push").is_some() {
                // A publication of a channel already answered may come before the next reply.
                if !take_push(&reply["push"], user, tracks, world) {
                    bail!("disconnected while subscribing: {reply}");
                }
                continue;
            }
            let Some(i) = reply["id"].as_u64().and_then(|id| id.checked_sub(2)) else { continue };
            let Some(track) = tracks.get_mut(i as usize) else { continue };
            subscribed(track, &reply["subscribe"], &world.counters, &world.seen_notifications[user])?;
            answered += 1;
        }
    }
    Ok(ws)
}

/// Applies a subscribe reply to its track.
fn subscribed(
    track: &mut Track,
    result: &Value,
    counters: &ClientCounters,
    seen: &Mutex<HashSet<String>>,
) -> anyhow::Result<()> {
    let epoch = result["epoch"].as_str().context("epoch")?.to_owned();
    let top = result["offset"].as_u64().context("offset")?;
    if track.epoch.is_none() {
        track.epoch = Some(epoch);
        track.offset = top;
        return Ok(());
    }
    if result["recovered"] == true {
        for publication in result["publications"].as_array().into_iter().flatten() {
            if let Some(offset) = publication["offset"].as_u64() {
                counters.recovered_publications.fetch_add(1, Ordering::Relaxed);
                track.apply(offset, counters);
                note_notification(&publication["data"], seen);
            }
        }
        // Anything recovery did not return up to the top is a hole too.
        track.hole_to(top);
        return Ok(());
    }
    // Not recovered: what lay between is gone for this client; it starts over at the top.
    counters.not_recovered.fetch_add(1, Ordering::Relaxed);
    track.lost += track.missing.len() as u64 + top.saturating_sub(track.offset);
    track.missing.clear();
    track.epoch = Some(epoch);
    track.offset = top;
    Ok(())
}

/// Reads publications until the connection ends, the client leaves or the soak stops.
async fn follow(
    mut ws: Socket,
    user: usize,
    tracks: &mut [Track],
    world: &ClientWorld,
    progress: &Progress,
    leave_at: Instant,
) -> Ended {
    let leave = tokio::time::sleep_until(leave_at.into());
    tokio::pin!(leave);
    loop {
        let frame = tokio::select! {
            _ = world.stop.cancelled() => return Ended::Stopped,
            _ = &mut leave, if !world.settling.load(Ordering::Relaxed) => {
                let _ = ws.close(None).await;
                return Ended::Left;
            }
            frame = tokio::time::timeout(world.silence, ws.next()) => frame,
        };
        let text = match frame {
            Err(_) => {
                world.counters.silent.fetch_add(1, Ordering::Relaxed);
                return Ended::Dropped;
            }
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(frame)))) => {
                if let Some(frame) = frame {
                    let code = u16::from(frame.code) as u64;
                    *world
                        .counters
                        .disconnect_codes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(code)
                        .or_default() += 1;
                }
                return Ended::Dropped;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return Ended::Dropped,
        };
        for line in text.split('\n') {
            if line == "{}" {
                if ws.send(Message::Text("{}".into())).await.is_err() {
                    return Ended::Dropped;
                }
                continue;
            }
            let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
            if !take_push(&message["push"], user, tracks, world) {
                return Ended::Dropped;
            }
        }
        publish_progress(tracks, progress);
    }
}

/// Takes in a push: a publication is applied to its channel's track; returns
/// false for a disconnect or an unsubscribe (the client reconnects).
fn take_push(push: &Value, user: usize, tracks: &mut [Track], world: &ClientWorld) -> bool {
    if push.get("disconnect").is_some() || push.get("unsubscribe").is_some() {
        return false;
    }
    let Some(offset) = push["pub"]["offset"].as_u64() else { return true };
    let channel = push["channel"].as_str().unwrap_or_default();
    let Some(i) = tracks.iter().position(|t| t.channel == channel) else { return true };
    world.counters.live_publications.fetch_add(1, Ordering::Relaxed);
    tracks[i].apply(offset, &world.counters);
    note_notification(&push["pub"]["data"], &world.seen_notifications[user]);
    true
}

/// Records the id of a created notification among those its user received.
fn note_notification(event: &Value, seen: &Mutex<HashSet<String>>) {
    if event["type"] == "notification.created" {
        if let Some(id) = event["data"]["notification"]["id"].as_str() {
            seen.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned());
        }
    }
}
