//! Helpers of the fault drills: `solo serve` processes, a burst of stage
//! changes, and followers that resubscribe with recovery across failures and
//! record every publication they see.

use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

pub struct Node {
    pub child: Child,
    pub addr: String,
    pub name: String,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn ready(&self) -> bool {
        match http().get(self.url("/readyz")).send().await {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    }

    /// Waits until `/readyz` says `ready`; returns how long it took.
    pub async fn until_ready(&self, ready: bool, timeout: Duration) -> Duration {
        let started = Instant::now();
        while self.ready().await != ready {
            assert!(
                started.elapsed() < timeout,
                "{} never became {}",
                self.name,
                if ready { "ready" } else { "unready" }
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Events this node's dispatcher published.
    pub async fn published(&self) -> f64 {
        let Ok(response) = http().get(self.url("/metrics")).send().await else { return 0.0 };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .find(|l| l.starts_with("solo_events_published_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

/// POSTs `body` to `base` + `path`; the JSON answer, or the status and body of a failure.
pub async fn api(base: &str, pat: &str, path: &str, body: Value) -> Result<Value, String> {
    let response =
        http().post(format!("{base}{path}")).bearer_auth(pat).json(&body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {body}"))
    }
}

/// Moves the mission back and forth `changes` times through the node at `base`,
/// counting committed changes in `done`.
pub async fn stage_burst(base: String, pat: String, mission: String, changes: usize, done: Arc<AtomicU64>) {
    for n in 0..changes {
        let stage = if n % 2 == 0 { "spec" } else { "backlog" };
        let path = format!("/api/missions/{mission}/stage");
        api(&base, &pat, &path, json!({ "stage": stage })).await.unwrap_or_else(|e| panic!("stage change {n}: {e}"));
        done.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits until the burst has committed `n` changes (fails if it stalls).
pub async fn until_done(done: &AtomicU64, n: u64) {
    let started = Instant::now();
    while done.load(Ordering::SeqCst) < n {
        assert!(started.elapsed() < Duration::from_secs(60), "the burst stalled at {}", done.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What one subscriber saw, in arrival order.
#[derive(Default)]
pub struct Received {
    /// Offset, event id and event version of every publication, repeats included.
    pub publications: Vec<(u64, String, u64)>,
    /// Connections made (the first one included).
    pub connections: u32,
}

impl Received {
    /// Publications by offset after dropping repeats; panics on a repeat that differs.
    pub fn deduplicated(&self) -> BTreeMap<u64, (String, u64)> {
        let mut by_offset = BTreeMap::new();
        for (offset, id, version) in &self.publications {
            if let Some(previous) = by_offset.insert(*offset, (id.clone(), *version)) {
                assert_eq!(previous, (id.clone(), *version), "offset {offset} carried two different events");
            }
        }
        by_offset
    }
}

/// A client that follows one channel across node failures: on any disconnect it
/// takes a new connection token from the first node that answers and resubscribes
/// with recovery from the last offset it saw, until it has seen `until` (once set).
pub async fn follow(nodes: Vec<String>, pat: String, channel: String, until: Arc<AtomicU64>) -> Received {
    let mut received = Received::default();
    let (mut epoch, mut offset): (Option<String>, u64) = (None, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    'reconnect: loop {
        assert!(Instant::now() < deadline, "{channel}: follower gave up at offset {offset}");
        let target = until.load(Ordering::SeqCst);
        if target != 0 && offset >= target {
            return received;
        }
        let mut subscribe = json!({ "channel": channel });
        if let Some(epoch) = &epoch {
            subscribe = json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": offset });
        }
        let Some(mut socket) = open(&nodes, &pat, json!({ "subscribe": subscribe })).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        received.connections += 1;
        loop {
            let target = until.load(Ordering::SeqCst);
            if target != 0 && offset >= target {
                return received;
            }
            let frame = match tokio::time::timeout(Duration::from_secs(1), socket.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => continue 'reconnect,
            };
            for line in frame.split('\n') {
                let message: Value = serde_json::from_str(line).expect("server frames are JSON");
                if message.as_object().is_some_and(|o| o.is_empty()) {
                    let _ = socket.send(Message::Text("{}".into())).await;
                    continue;
                }
                if message["id"] == 2 {
                    let result = &message["subscribe"];
                    assert!(result.is_object(), "{channel}: subscribe failed: {message}");
                    if epoch.is_some() {
                        assert_eq!(result["recovered"], true, "{channel}: recovery failed: {message}");
                    }
                    epoch = result["epoch"].as_str().map(str::to_owned);
                    for publication in result["publications"].as_array().into_iter().flatten() {
                        record(&mut received, &mut offset, publication);
                    }
                    if !result["publications"].is_array() {
                        offset = offset.max(result["offset"].as_u64().unwrap_or(0));
                    }
                } else if message["error"].is_object() {
                    panic!("{channel}: {message}");
                } else if message["push"]["pub"].is_object() {
                    record(&mut received, &mut offset, &message["push"]["pub"]);
                }
            }
        }
    }
}

pub fn record(received: &mut Received, offset: &mut u64, publication: &Value) {
    let at = publication["offset"].as_u64().expect("publication offset");
    let id = publication["data"]["id"].as_str().expect("event id").to_owned();
    let version = publication["data"]["version"].as_u64().expect("event version");
    received.publications.push((at, id, version));
    *offset = (*offset).max(at);
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a realtime connection on the first of `nodes` that answers, and sends
/// `connect` (id 1) then `command` (id 2) in one frame.
pub async fn open(nodes: &[String], pat: &str, command: Value) -> Option<Socket> {
    for base in nodes {
        let Ok(response) = http().post(format!("{base}/api/realtime/token")).bearer_auth(pat).send().await else {
            continue;
        };
        let Ok(body) = response.json::<Value>().await else { continue };
        let Some(token) = body["token"].as_str() else { continue };
        let ws_url = format!("{}/connection/websocket", base.replacen("http://", "ws://", 1));
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(ws_url.as_str()).await else { continue };
        let mut second = command.clone();
        second["id"] = json!(2);
        let hello = format!("{}\n{second}", json!({"id": 1, "connect": {"token": token}}));
        if socket.send(Message::Text(hello.into())).await.is_ok() {
            return Some(socket);
        }
    }
    None
}

/// Asserts that a follower saw every offset from `first` to `last` exactly once
/// after deduplication; returns the repeats it dropped.
pub fn assert_gap_free(label: &str, received: &Received, first: u64, last: u64) -> usize {
    let by_offset = received.deduplicated();
    let missing: Vec<u64> = (first..=last).filter(|o| !by_offset.contains_key(o)).collect();
    assert!(missing.is_empty(), "{label}: {} offsets missing, first {:?}", missing.len(), missing.first());
    let ids: std::collections::HashSet<&(String, u64)> = by_offset.range(first..=last).map(|(_, e)| e).collect();
    assert_eq!(ids.len() as u64, last - first + 1, "{label}: one event per offset, no event twice");
    received.publications.len() - by_offset.len()
}

pub async fn create_mission(node: &Node, pat: &str) -> String {
    let me: Value =
        http().get(node.url("/api/me")).bearer_auth(pat).send().await.expect("me").json().await.expect("json");
    let workspace = me["workspaces"][0]["id"].as_str().expect("workspace").to_owned();
    let mission = api(&node.url(""), pat, "/api/missions", json!({ "workspaceId": workspace, "title": "Drill" }))
        .await
        .expect("mission created");
    mission["id"].as_str().expect("mission id").to_owned()
}
