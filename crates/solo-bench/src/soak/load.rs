//! The soak's writers: workstation heartbeats, notifications and mission
//! stage changes at fixed rates, and users reading their inbox, sent round
//! robin to the nodes as a load balancer would (a refused connection is
//! tried on the next node at once: it never reached a server). Every attempt
//! is recorded with its outcome and latency.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// What a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    Heartbeat,
    Notification,
    StageChange,
    ReadAll,
}

impl WriteKind {
    pub const ALL: [WriteKind; 4] =
        [WriteKind::Heartbeat, WriteKind::Notification, WriteKind::StageChange, WriteKind::ReadAll];

    pub fn name(self) -> &'static str {
        match self {
            WriteKind::Heartbeat => "heartbeat",
            WriteKind::Notification => "notification",
            WriteKind::StageChange => "stage change",
            WriteKind::ReadAll => "read all",
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP status.
    Status(u16),
    /// The connection was refused or cut before an answer.
    Connection,
    /// No answer in time.
    Timeout,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Status(status) => write!(f, "{status}"),
            Outcome::Connection => f.write_str("refused"),
            Outcome::Timeout => f.write_str("timeout"),
        }
    }
}

impl Outcome {
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(&s))
    }

    pub fn is_server_error(self) -> bool {
        matches!(self, Outcome::Status(s) if s >= 500)
    }

    /// A 4xx the soak never provokes (429 is a limit it may meet): a bug on
    /// one side or the other, which fails the soak.
    fn is_refusal(self) -> bool {
        matches!(self, Outcome::Status(s) if (400..500).contains(&s) && s != 429)
    }
}

/// One attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// Seconds since the soak started, when it was sent.
    pub at: f64,
    pub kind: WriteKind,
    pub outcome: Outcome,
    pub latency_ms: f64,
}

/// The writers' shared state and record.
pub struct Load {
    pub started: Instant,
    pub nodes: Vec<String>,
    next_node: AtomicUsize,
    pub http: reqwest::Client,
    pub attempts: Mutex<Vec<Attempt>>,
    /// Notification ids acknowledged (201 or an idempotent 200), per user.
    pub acknowledged: Vec<Mutex<HashSet<String>>>,
    /// Notifications given up after retrying for a minute.
    pub abandoned: AtomicU64,
    /// Requests refused with a 4xx that is not a conflict the soak expects (a bug).
    pub rejected: Mutex<Vec<String>>,
    /// Ticks skipped because too many requests were already waiting.
    pub skipped: AtomicU64,
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Everything a writer needs to know of the product's data.
pub struct Fixtures {
    /// The admin's PAT (owner of the workstations and missions).
    pub admin_pat: String,
    pub users: Vec<User>,
    pub workstations: Vec<String>,
    pub missions: Vec<String>,
}

pub struct User {
    pub id: String,
    pub pat: String,
}

/// The rates of the soak.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub heartbeats: f64,
    pub notifications: f64,
    pub stage_changes: f64,
    /// How often each user reads all their notifications.
    pub read_all_every: Duration,
}

/// Longer than the server's own limit on waiting for the database (5 s), so a
/// request held by an outage is seen to end in its 503 rather than cut off.
/// Requests the generator lets wait at once; past it a tick is skipped (and counted).
pub const MAX_IN_FLIGHT: u32 = 2_000;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a notification is retried (503, timeouts) before it is given up.
const NOTIFICATION_PATIENCE: Duration = Duration::from_secs(60);

impl Load {
    pub fn new(nodes: Vec<String>, users: usize, started: Instant) -> anyhow::Result<Load> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).pool_max_idle_per_host(64).build()?;
        Ok(Load {
            started,
            nodes,
            next_node: AtomicUsize::new(0),
            http,
            attempts: Mutex::new(Vec::new()),
            acknowledged: (0..users).map(|_| Mutex::new(HashSet::new())).collect(),
            abandoned: AtomicU64::new(0),
            rejected: Mutex::new(Vec::new()),
            skipped: AtomicU64::new(0),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT as usize)),
        })
    }

    fn record(&self, sent: Instant, kind: WriteKind, outcome: Outcome) {
        let attempt = Attempt {
            at: sent.duration_since(self.started).as_secs_f64(),
            kind,
            outcome,
            latency_ms: sent.elapsed().as_secs_f64() * 1000.0,
        };
        self.attempts.lock().unwrap_or_else(|p| p.into_inner()).push(attempt);
    }

    fn reject(&self, what: String) {
        self.rejected.lock().unwrap_or_else(|p| p.into_inner()).push(what);
    }

    /// Sends one request as a load balancer would: to the next node, and to
    /// the one after when the connection is refused (it never reached a server).
    async fn send(
        &self,
        kind: WriteKind,
        method: reqwest::Method,
        path: &str,
        pat: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> (Outcome, Option<Value>) {
        let first = self.next_node.fetch_add(1, Ordering::Relaxed);
        let mut outcome = Outcome::Connection;
        for step in 0..self.nodes.len() {
            let url = format!("{}{path}", self.nodes[(first + step) % self.nodes.len()]);
            let mut request = self.http.request(method.clone(), &url).bearer_auth(pat).json(body);
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            let sent = Instant::now();
            outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let reply = response.json::<Value>().await.ok();
                    self.record(sent, kind, Outcome::Status(status));
                    return (Outcome::Status(status), reply);
                }
                Err(e) if e.is_timeout() => Outcome::Timeout,
                Err(_) => Outcome::Connection,
            };
            self.record(sent, kind, outcome);
            if outcome == Outcome::Timeout {
                break;
            }
        }
        (outcome, None)
    }

    /// Runs every writer until `stop`.
    pub async fn run(self: Arc<Self>, fixtures: Arc<Fixtures>, rates: Rates, stop: CancellationToken) {
        let mut writers = Vec::new();
        writers.push(tokio::spawn(self.clone().heartbeats(fixtures.clone(), rates.heartbeats, stop.clone())));
        writers.push(tokio::spawn(self.clone().notifications(fixtures.clone(), rates.notifications, stop.clone())));
        let per_mission = rates.stage_changes / fixtures.missions.len().max(1) as f64;
        for mission in 0..fixtures.missions.len() {
            writers.push(tokio::spawn(self.clone().stages(fixtures.clone(), mission, per_mission, stop.clone())));
        }
        for user in 0..fixtures.users.len() {
            writers.push(tokio::spawn(self.clone().reads(fixtures.clone(), user, rates.read_all_every, stop.clone())));
        }
        for writer in writers {
            let _ = writer.await;
        }
        // Notifications still being retried finish (or give up) before the soak counts.
        let _ = self.in_flight.acquire_many(MAX_IN_FLIGHT).await;
    }

    async fn heartbeats(self: Arc<Self>, fixtures: Arc<Fixtures>, rate: f64, stop: CancellationToken) {
        let mut ticker = ticker(rate);
        let mut n = 0usize;
        while tick(&mut ticker, &stop).await {
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let workstation = fixtures.workstations[n % fixtures.workstations.len()].clone();
            n += 1;
            let (load, fixtures) = (self.clone(), fixtures.clone());
            tokio::spawn(async move {
                let body = json!({ "agents": [{ "id": "agent-1", "name": "Coder", "status": "working" }] });
                let path = format!("/api/workstations/{workstation}/heartbeat");
                let (outcome, reply) = load
                    .send(WriteKind::Heartbeat, reqwest::Method::POST, &path, &fixtures.admin_pat, &body, None)
                    .await;
                if outcome.is_refusal() {
                    load.reject(format!("heartbeat {outcome}: {}", reply.unwrap_or_default()));
                }
                drop(permit);
            });
        }
    }

    async fn notifications(self: Arc<Self>, fixtures: Arc<Fixtures>, rate: f64, stop: CancellationToken) {
        let mut ticker = ticker(rate);
        let mut n = 0u64;
        while tick(&mut ticker, &stop).await {
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let user = (n as usize) % fixtures.users.len();
            let key = format!("soak-{}-{n}", std::process::id());
            n += 1;
            let (load, fixtures) = (self.clone(), fixtures.clone());
            tokio::spawn(async move {
                load.notify(&fixtures, user, &key).await;
                drop(permit);
            });
        }
    }

    /// Creates one notification, retrying with its idempotency key until it is acknowledged.
    async fn notify(&self, fixtures: &Fixtures, user: usize, key: &str) {
        let body = json!({ "userId": fixtures.users[user].id, "category": "system", "title": key });
        let deadline = Instant::now() + NOTIFICATION_PATIENCE;
        while Instant::now() < deadline {
            let (outcome, reply) = self
                .send(
                    WriteKind::Notification,
                    reqwest::Method::POST,
                    "/api/notifications",
                    &fixtures.admin_pat,
                    &body,
                    Some(key),
                )
                .await;
            match outcome {
                Outcome::Status(status) if status == 200 || status == 201 => {
                    if let Some(id) = reply.as_ref().and_then(|r| r["id"].as_str()) {
                        self.acknowledged[user].lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_owned());
                    }
                    return;
                }
                refusal if refusal.is_refusal() => {
                    self.reject(format!("notification {refusal}: {}", reply.unwrap_or_default()));
                    return;
                }
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
        self.abandoned.fetch_add(1, Ordering::Relaxed);
    }

    /// Moves one mission round its stages at `rate`, one change at a time.
    async fn stages(self: Arc<Self>, fixtures: Arc<Fixtures>, mission: usize, rate: f64, stop: CancellationToken) {
        const CYCLE: [&str; 5] = ["spec", "build", "review", "done", "backlog"];
        let id = &fixtures.missions[mission];
        let path = format!("/api/missions/{id}/stage");
        let mut next = 0usize;
        let mut ticker = ticker(rate);
        while tick(&mut ticker, &stop).await {
            let body = json!({ "stage": CYCLE[next % CYCLE.len()] });
            let (outcome, reply) =
                self.send(WriteKind::StageChange, reqwest::Method::POST, &path, &fixtures.admin_pat, &body, None).await;
            match outcome {
                Outcome::Status(status) if (200..300).contains(&status) => next += 1,
                // The change before was committed but its answer lost (a node
                // killed mid-request): learn where the mission is and go on from there.
                Outcome::Status(409) | Outcome::Status(422) => {
                    let url = format!("{}/api/missions/{id}", self.nodes[0]);
                    let current = self.http.get(&url).bearer_auth(&fixtures.admin_pat).send().await;
                    if let Ok(reply) = current {
                        let stage =
                            reply.json::<Value>().await.ok().and_then(|m| m["stage"].as_str().map(str::to_owned));
                        if let Some(at) = stage.and_then(|s| CYCLE.iter().position(|c| *c == s)) {
                            next = at + 1;
                        }
                    }
                }
                refusal if refusal.is_refusal() => {
                    self.reject(format!("stage change {refusal}: {}", reply.unwrap_or_default()));
                }
                _ => {}
            }
        }
    }

    /// A user who reads their inbox every so often (what keeps it from growing).
    async fn reads(self: Arc<Self>, fixtures: Arc<Fixtures>, user: usize, every: Duration, stop: CancellationToken) {
        let users = fixtures.users.len().max(1) as u32;
        // Spread the users over the period.
        let first = every / users * user as u32;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(first) => {}
        }
        let mut ticker = tokio::time::interval(every);
        while tick(&mut ticker, &stop).await {
            let pat = &fixtures.users[user].pat;
            let (outcome, reply) = self
                .send(WriteKind::ReadAll, reqwest::Method::POST, "/api/notifications/read-all", pat, &json!({}), None)
                .await;
            if outcome.is_refusal() {
                self.reject(format!("read all {outcome}: {}", reply.unwrap_or_default()));
            }
        }
    }
}

fn ticker(rate: f64) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
    // A stalled generator does not make up for lost ticks in a burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Waits for the next tick; false once the soak stops.
async fn tick(ticker: &mut tokio::time::Interval, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = ticker.tick() => true,
    }
}
