//! The soak with chaos (`solo-bench soak`, run by `bench/soak`): a cluster of
//! Solo nodes on a PostgreSQL and a Redis of the soak's own, thousands of
//! clients that behave as the SDKs do, heartbeats, notifications and stage
//! changes at fixed rates, and every few minutes one fault: a node killed
//! (SIGKILL) or stopped (SIGTERM) and started again, PostgreSQL restarted,
//! Redis stopped for a while, a node paused (SIGSTOP). At the end every
//! client must hold every offset of its channels and every acknowledged
//! notification; the report (`bench/SOAK.md`) gives what was lost (nothing,
//! or the soak fails), the server errors outside the faults, memory, file
//! descriptors and tasks of every node over time, the database's size, and
//! the write latency while retention trims.

mod clients;
mod load;
mod report;
mod services;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::server::{metric_in, Process, SoloServer};
use clients::{ClientCounters, ClientPlan, ClientWorld, Progress};
use load::{Fixtures, Load, User};
use services::{PrivatePostgres, PrivateRedis};

pub struct SoakOptions {
    pub solo: String,
    pub duration: Duration,
    pub nodes: usize,
    pub clients: u64,
    pub users: usize,
    pub workstations: usize,
    pub missions: usize,
    pub rates: Rates,
    /// Time between faults (the first comes after the warm-up).
    pub fault_every: Duration,
    /// Samples before this are left out of the slopes.
    pub warmup: Duration,
    /// Mean time a client stays before leaving for a while.
    pub mean_stay: Duration,
    pub seed: u64,
    /// The Markdown report (its `## Analysis` section is kept when rewritten).
    pub out: PathBuf,
    /// Where the charts go (PNG); none without it.
    pub charts: Option<PathBuf>,
}

/// The faults the soak injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    KillNode,
    TerminateNode,
    RestartPostgres,
    StopRedis,
    PauseNode,
}

impl FaultKind {
    const ALL: [FaultKind; 5] = [
        FaultKind::KillNode,
        FaultKind::TerminateNode,
        FaultKind::RestartPostgres,
        FaultKind::StopRedis,
        FaultKind::PauseNode,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            FaultKind::KillNode => "node killed (SIGKILL), started again 2 s later",
            FaultKind::TerminateNode => "node stopped (SIGTERM), started again",
            FaultKind::RestartPostgres => "PostgreSQL stopped (fast shutdown) for 5 s and started",
            FaultKind::StopRedis => "Redis stopped for 20 s and started (empty)",
            FaultKind::PauseNode => "node paused (SIGSTOP) for 10 s, then resumed",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            FaultKind::KillNode => "kill -9",
            FaultKind::TerminateNode => "SIGTERM",
            FaultKind::RestartPostgres => "PostgreSQL restart",
            FaultKind::StopRedis => "Redis stop",
            FaultKind::PauseNode => "SIGSTOP",
        }
    }

    fn targets_node(self) -> bool {
        matches!(self, FaultKind::KillNode | FaultKind::TerminateNode | FaultKind::PauseNode)
    }
}

/// One fault as it happened.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub node: Option<usize>,
    /// Seconds since the start when it began.
    pub start: f64,
    /// When what it broke was serving again (every node ready).
    pub end: f64,
}

/// One reading of one node.
#[derive(Debug, Clone)]
pub struct NodeSample {
    pub at: f64,
    pub node: usize,
    /// The process read (a node started again is a new one).
    pub pid: u32,
    pub rss_kib: u64,
    pub fds: u64,
    pub threads: u64,
    /// From /metrics (None when it did not answer in time).
    pub tasks: Option<f64>,
    pub connections: Option<f64>,
    pub trimmed_rows: Option<f64>,
}

/// One reading of the database.
#[derive(Debug, Clone)]
pub struct DatabaseSample {
    pub at: f64,
    pub bytes: u64,
    /// Rows of the tables that grow with use, by table.
    pub rows: Vec<(String, u64)>,
}

/// The database the nodes share on the soak's PostgreSQL.
const DATABASE: &str = "solo";

/// Tables whose rows the soak follows.
const GROWING_TABLES: [&str; 5] = ["events", "publications", "notifications", "sessions", "agents"];

/// A small deterministic generator (xorshift*), so a seed replays a soak's choices.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponentially distributed with mean 1.
    pub fn exponential(&mut self) -> f64 {
        -(1.0 - self.unit()).ln()
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The cluster's nodes, each replaced when the soak starts it again.
struct Cluster {
    solo: String,
    env: Vec<(&'static str, String)>,
    addrs: Vec<String>,
    pat: String,
    nodes: Vec<Option<SoloServer>>,
    /// The current process of each node, for the sampler (0 while down).
    pids: Arc<Vec<AtomicU32>>,
}

/// Starts a node at `addr`. Starting reads the server's log until it serves
/// (and runs `solo admin` without `pat`): blocking, so off the runtime.
async fn start_off_runtime(
    solo: &str,
    env: &[(&'static str, String)],
    addr: &str,
    pat: Option<&str>,
) -> anyhow::Result<SoloServer> {
    let (solo, env, addr, pat) = (solo.to_owned(), env.to_vec(), addr.to_owned(), pat.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(SoloServer::start_at(&solo, &env, None, &addr, pat.as_deref()))
    })
    .await?
}

impl Cluster {
    async fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        let server = start_off_runtime(&self.solo, &self.env, &self.addrs[i], Some(&self.pat)).await?;
        self.pids[i].store(server.pid(), Ordering::SeqCst);
        self.nodes[i] = Some(server);
        Ok(())
    }

    async fn stop_node(&mut self, i: usize, graceful: bool) -> anyhow::Result<()> {
        self.pids[i].store(0, Ordering::SeqCst);
        let Some(mut server) = self.nodes[i].take() else { return Ok(()) };
        tokio::task::spawn_blocking(
            move || {
                if graceful {
                    server.terminate(Duration::from_secs(60))
                } else {
                    server.kill()
                }
            },
        )
        .await?
    }

    fn node(&self, i: usize) -> anyhow::Result<&SoloServer> {
        self.nodes[i].as_ref().with_context(|| format!("node {i} is down"))
    }

    fn urls(&self) -> Vec<String> {
        self.addrs.iter().map(|a| format!("http://{a}")).collect()
    }

    /// Waits until every node answers `/readyz` with 200.
    async fn ready(&self, http: &reqwest::Client, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        for url in self.urls() {
            loop {
                let ok = http
                    .get(format!("{url}/readyz"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("{url} not ready within {limit:?}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}

/// The settings every node runs with: retention windows of minutes instead
/// of days (so the soak sees the database level off), pings every 5 s (so
/// clients of a paused node notice within seconds), and limits out of the way
/// of a generator that is one machine.
fn node_env(options: &SoakOptions, database: &str, redis: &str) -> Vec<(&'static str, String)> {
    let retention_secs = 300.0;
    let per_user = options.clients / options.users.max(1) as u64 + 50;
    vec![
        ("SOLO_DATABASE_URL", database.to_owned()),
        ("SOLO_BUS_URL", redis.to_owned()),
        ("SOLO_CLUSTER_NAME", format!("soak{}", std::process::id())),
        ("SOLO_WS_MAX_CONNECTIONS_PER_USER", per_user.to_string()),
        ("SOLO_API_REQUESTS_PER_SEC", "1000000".into()),
        ("SOLO_CONNECTION_TOKEN_TTL_SECS", (2 * 86_400).to_string()),
        ("SOLO_PING_INTERVAL_SECS", "5".into()),
        ("SOLO_PONG_TIMEOUT_SECS", "5".into()),
        ("SOLO_HISTORY_MAX_AGE_SECS", "300".into()),
        ("SOLO_EVENTS_MAX_AGE_DAYS", format!("{}", retention_secs / 86_400.0)),
        ("SOLO_HEARTBEAT_EVENTS_MAX_AGE_SECS", "120".into()),
        ("SOLO_NOTIFICATIONS_READ_MAX_AGE_DAYS", format!("{}", retention_secs / 86_400.0)),
        ("SOLO_RETENTION_INTERVAL_SECS", "30".into()),
        ("SOLO_HEARTBEAT_INTERVAL_SECS", "30".into()),
        ("SOLO_DB_MAX_CONNECTIONS", "12".into()),
    ]
}

/// Creates the users, workstations and missions the load works on.
async fn fixtures(cluster: &Cluster, options: &SoakOptions, http: &reqwest::Client) -> anyhow::Result<Fixtures> {
    let admin = cluster.node(0)?.admin().clone();
    let count = options.users;
    let (admin_pat, pats) = tokio::task::spawn_blocking(move || -> anyhow::Result<(String, Vec<String>)> {
        // The backend's token: it notifies other members, as an integration does.
        let scopes = "read,write,notifications:write";
        let writer =
            admin.run(&["admin", "token", "create", "--user", "bench", "--name", "soak", "--scopes", scopes])?;
        let pats = (0..count)
            .map(|u| {
                let name = format!("soak-user-{u}");
                admin.run(&["admin", "user", "create", &name, "--workspace", "bench"])?;
                admin.run(&["admin", "token", "create", "--user", &name, "--name", "soak"])
            })
            .collect::<anyhow::Result<_>>()?;
        Ok((writer, pats))
    })
    .await??;
    let base = &cluster.urls()[0];
    let mut users = Vec::new();
    for pat in pats {
        let me: Value = http.get(format!("{base}/api/me")).bearer_auth(&pat).send().await?.json().await?;
        users.push(User { id: me["id"].as_str().context("user id")?.to_owned(), pat });
    }
    let mut workstations = Vec::new();
    for n in 0..options.workstations {
        let body = serde_json::json!({ "name": format!("soak-{n}") });
        let created: Value = http
            .post(format!("{base}/api/workstations"))
            .bearer_auth(&admin_pat)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        workstations.push(created["id"].as_str().with_context(|| format!("workstation: {created}"))?.to_owned());
    }
    let mut missions = Vec::new();
    for n in 0..options.missions {
        let body = serde_json::json!({ "title": format!("soak mission {n}") });
        let created: Value =
            http.post(format!("{base}/api/missions")).bearer_auth(&admin_pat).json(&body).send().await?.json().await?;
        missions.push(created["id"].as_str().with_context(|| format!("mission: {created}"))?.to_owned());
    }
    Ok(Fixtures { admin_pat, users, workstations, missions })
}

/// What each client follows: its user's notifications, and for one in ten a
/// workstation, for another one in ten a mission.
fn plans(options: &SoakOptions, fixtures: &Fixtures) -> Vec<ClientPlan> {
    (0..options.clients)
        .map(|n| {
            let user = (n as usize) % fixtures.users.len();
            let mut channels = vec![format!("notifications:{}", fixtures.users[user].id)];
            let slot = (n / 10) as usize;
            match n % 10 {
                0 if !fixtures.workstations.is_empty() => {
                    channels.push(format!("workstation:{}", fixtures.workstations[slot % fixtures.workstations.len()]))
                }
                5 if !fixtures.missions.is_empty() => {
                    channels.push(format!("mission:{}", fixtures.missions[slot % fixtures.missions.len()]))
                }
                _ => {}
            }
            ClientPlan { n, user, home: (n as usize) % options.nodes, channels }
        })
        .collect()
}

/// Everything the report is made of.
pub struct SoakRecord {
    pub options_summary: Vec<(String, String)>,
    pub elapsed: f64,
    pub faults: Vec<Fault>,
    pub node_samples: Vec<NodeSample>,
    pub database_samples: Vec<DatabaseSample>,
    pub attempts: Vec<load::Attempt>,
    pub acknowledged: u64,
    /// Acknowledged notifications no client of their user received.
    pub unseen_acknowledged: u64,
    pub abandoned: u64,
    pub rejected: Vec<String>,
    pub skipped: u64,
    pub counters: ClientCounters,
    pub clients: u64,
    pub subscriptions: u64,
    /// Offsets missing at the end, over every client (must be 0).
    pub missing: u64,
    /// Of those, by channel kind (`notifications`, `workstation`, `mission`).
    pub missing_by_kind: Vec<(String, u64)>,
    pub clients_missing: u64,
    pub lost: u64,
    /// Channels' publications over the soak, and deliveries they made to the clients.
    pub published: u64,
    pub warmup: f64,
    pub caught_up_secs: f64,
}

pub async fn run(options: &SoakOptions) -> anyhow::Result<SoakRecord> {
    let started = Instant::now();
    let since = move || started.elapsed().as_secs_f64();
    eprintln!("soak: starting PostgreSQL and Redis of its own");
    let postgres = Arc::new(tokio::task::spawn_blocking(PrivatePostgres::start).await??);
    let redis = Arc::new(Mutex::new(tokio::task::spawn_blocking(PrivateRedis::start).await??));
    let redis_url = redis.lock().unwrap_or_else(|p| p.into_inner()).url();
    {
        let postgres = postgres.clone();
        tokio::task::spawn_blocking(move || postgres.query("postgres", &format!("CREATE DATABASE {DATABASE}")))
            .await??;
    }
    let env = node_env(options, &postgres.url(DATABASE), &redis_url);
    let addrs = (0..options.nodes).map(|_| crate::targets::free_addr()).collect::<anyhow::Result<Vec<_>>>()?;
    // The first node creates the bench user and its token; the others share them.
    let first = start_off_runtime(&options.solo, &env, &addrs[0], None).await?;
    let pids = Arc::new((0..options.nodes).map(|_| AtomicU32::new(0)).collect::<Vec<_>>());
    pids[0].store(first.pid(), Ordering::SeqCst);
    let mut cluster = Cluster {
        solo: options.solo.clone(),
        env,
        addrs: addrs.clone(),
        pat: first.pat().to_owned(),
        nodes: (0..options.nodes).map(|_| None).collect(),
        pids: pids.clone(),
    };
    cluster.nodes[0] = Some(first);
    for i in 1..options.nodes {
        cluster.start_node(i).await?;
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    cluster.ready(&http, Duration::from_secs(30)).await?;
    eprintln!("soak: {} nodes serving; creating users, workstations and missions", options.nodes);
    let fixtures = Arc::new(fixtures(&cluster, options, &http).await?);

    // Clients.
    let mut tokens = Vec::new();
    for (u, user) in fixtures.users.iter().enumerate() {
        let node = cluster.node(u % options.nodes)?;
        tokens.push(node.connection_token(&http, &user.pat).await?);
    }
    let stop_clients = CancellationToken::new();
    let world = Arc::new(ClientWorld {
        nodes: addrs.iter().map(|a| a.parse()).collect::<Result<Vec<SocketAddr>, _>>()?,
        tokens,
        seen_notifications: (0..fixtures.users.len()).map(|_| Mutex::new(Default::default())).collect(),
        counters: ClientCounters::default(),
        settling: AtomicBool::new(false),
        mean_stay: options.mean_stay,
        silence: Duration::from_secs(12),
        stop: stop_clients.clone(),
    });
    let plans = plans(options, &fixtures);
    let subscriptions: u64 = plans.iter().map(|p| p.channels.len() as u64).sum();
    let mut progress = Vec::new();
    let mut client_tasks = Vec::new();
    for plan in plans {
        let slot = Arc::new(Progress::new(plan.channels.len()));
        progress.push((plan.channels.clone(), slot.clone()));
        client_tasks.push(tokio::spawn(clients::run(plan, world.clone(), slot)));
        // A ramp rather than a storm: the first connects are not what is measured.
        if client_tasks.len() % 200 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!("soak: {} clients started ({subscriptions} subscriptions); load begins", options.clients);

    // Load.
    let load = Arc::new(Load::new(cluster.urls(), fixtures.users.len(), started)?);
    let stop_load = CancellationToken::new();
    let writers = tokio::spawn(load.clone().run(fixtures.clone(), options.rates, stop_load.clone()));

    // Sampling.
    let stop_sampling = CancellationToken::new();
    let sampler = tokio::spawn(sample(pids.clone(), cluster.urls(), postgres.clone(), started, stop_sampling.clone()));

    // Faults, until the end.
    let mut random = Random::new(options.seed);
    let mut faults = Vec::new();
    let end = started + options.duration;
    let mut next_fault = started + options.warmup;
    let mut order: Vec<FaultKind> = Vec::new();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now < next_fault {
            tokio::time::sleep((next_fault.min(end)) - now).await;
            continue;
        }
        if order.is_empty() {
            // Every kind once per round, in a random order.
            order = FaultKind::ALL.to_vec();
            for i in (1..order.len()).rev() {
                order.swap(i, random.below(i + 1));
            }
        }
        let kind = order.pop().context("a fault")?;
        let node = kind.targets_node().then(|| random.below(options.nodes));
        let start = since();
        eprintln!(
            "soak: {:>6.0} s  {}{}",
            start,
            kind.short(),
            node.map(|n| format!(" on node {n}")).unwrap_or_default()
        );
        inject(kind, node, &mut cluster, &postgres, &redis).await.with_context(|| format!("fault {kind:?}"))?;
        cluster.ready(&http, Duration::from_secs(120)).await.context("the cluster after a fault")?;
        faults.push(Fault { kind, node, start, end: since() });
        next_fault = Instant::now().max(started + options.warmup + options.fault_every * faults.len() as u32);
    }

    // Wind down: nobody leaves any more, the writers finish what they retry.
    eprintln!("soak: {:.0} s, winding down", since());
    world.settling.store(true, Ordering::SeqCst);
    stop_load.cancel();
    writers.await?;
    let elapsed = since();
    // Every committed event published…
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let postgres = postgres.clone();
        let pending = tokio::task::spawn_blocking(move || {
            postgres
                .query(DATABASE, "SELECT count(*) FROM events WHERE published_at IS NULL")
                .map(|n| n.parse::<u64>().ok())
        })
        .await??;
        if pending == Some(0) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the outbox did not drain within 120 s after the load stopped ({pending:?} left)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // …and every client at its channels' last offsets, with no hole.
    let tops = {
        let postgres = postgres.clone();
        tokio::task::spawn_blocking(move || postgres.query(DATABASE, "SELECT name, top_offset FROM channels")).await??
    };
    let tops: std::collections::HashMap<String, u64> = tops
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter_map(|(name, top)| Some((name.to_owned(), top.parse().ok()?)))
        .collect();
    let settle_started = Instant::now();
    let deadline = settle_started + Duration::from_secs(180);
    loop {
        let behind = progress
            .iter()
            .filter(|(channels, p)| {
                p.missing.load(Ordering::Relaxed) > 0
                    || channels
                        .iter()
                        .zip(&p.offsets)
                        .any(|(c, o)| o.load(Ordering::Relaxed) < tops.get(c).copied().unwrap_or(0))
            })
            .count();
        if behind == 0 || Instant::now() > deadline {
            if behind > 0 {
                eprintln!("soak: {behind} clients still behind after 180 s");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let caught_up_secs = settle_started.elapsed().as_secs_f64();
    stop_sampling.cancel();
    let (node_samples, database_samples) = sampler.await?;
    stop_clients.cancel();
    let mut missing = 0;
    let mut clients_missing = 0;
    let mut lost = 0;
    let mut missing_by_kind = std::collections::BTreeMap::<String, u64>::new();
    let mut examples = Vec::new();
    for (n, task) in client_tasks.into_iter().enumerate() {
        let tracks = task.await?;
        let mut client_missing = 0;
        for track in &tracks {
            let top = tops.get(&track.channel).copied().unwrap_or(0);
            let here = track.missing.len() as u64 + top.saturating_sub(track.offset);
            client_missing += here;
            lost += track.lost;
            if here > 0 {
                let kind = track.channel.split(':').next().unwrap_or_default().to_owned();
                *missing_by_kind.entry(kind).or_default() += here;
                if examples.len() < 10 {
                    let holes: Vec<u64> = track.missing.iter().take(5).copied().collect();
                    examples.push(format!(
                        "client {n} on {}: holds {} of {top}, holes {holes:?}",
                        track.channel, track.offset
                    ));
                }
            }
        }
        if client_missing > 0 {
            clients_missing += 1;
            missing += client_missing;
        }
    }
    // Acknowledged notifications each user's clients never received.
    let mut unseen_acknowledged = 0;
    let mut acknowledged = 0;
    for (user, acked) in load.acknowledged.iter().enumerate() {
        let acked = acked.lock().unwrap_or_else(|p| p.into_inner());
        let seen = world.seen_notifications[user].lock().unwrap_or_else(|p| p.into_inner());
        acknowledged += acked.len() as u64;
        unseen_acknowledged += acked.iter().filter(|id| !seen.contains(*id)).count() as u64;
    }
    for example in &examples {
        eprintln!("soak: missing: {example}");
    }
    let published = tops.values().sum();
    let world = Arc::try_unwrap(world).map_err(|_| anyhow::anyhow!("clients still hold the world"))?;
    let attempts = std::mem::take(&mut *load.attempts.lock().unwrap_or_else(|p| p.into_inner()));
    let rejected = std::mem::take(&mut *load.rejected.lock().unwrap_or_else(|p| p.into_inner()));
    drop(cluster);
    drop(postgres);
    drop(redis);
    Ok(SoakRecord {
        options_summary: summary(options),
        elapsed,
        faults,
        node_samples,
        database_samples,
        attempts,
        acknowledged,
        unseen_acknowledged,
        abandoned: load.abandoned.load(Ordering::SeqCst),
        rejected,
        skipped: load.skipped.load(Ordering::SeqCst),
        counters: world.counters,
        clients: options.clients,
        subscriptions,
        missing,
        missing_by_kind: missing_by_kind.into_iter().collect(),
        clients_missing,
        lost,
        published,
        warmup: options.warmup.as_secs_f64(),
        caught_up_secs,
    })
}

fn summary(options: &SoakOptions) -> Vec<(String, String)> {
    let r = &options.rates;
    vec![
        ("duration".into(), format!("{:.0} min", options.duration.as_secs_f64() / 60.0)),
        ("nodes".into(), format!("{} (PostgreSQL + Redis, one process each)", options.nodes)),
        ("clients".into(), format!("{} over {} users", options.clients, options.users)),
        ("workstations / missions".into(), format!("{} / {}", options.workstations, options.missions)),
        (
            "load".into(),
            format!(
                "{} heartbeats/s, {} notifications/s, {} stage changes/s; every user reads all every {} s",
                r.heartbeats,
                r.notifications,
                r.stage_changes,
                r.read_all_every.as_secs()
            ),
        ),
        (
            "faults".into(),
            format!("one every {} s after a warm-up of {} s", options.fault_every.as_secs(), options.warmup.as_secs()),
        ),
        (
            "client churn".into(),
            format!("each client leaves after {} s on average, for 2–15 s", options.mean_stay.as_secs()),
        ),
        ("seed".into(), options.seed.to_string()),
    ]
}

/// Breaks something, waits, and brings it back.
async fn inject(
    kind: FaultKind,
    node: Option<usize>,
    cluster: &mut Cluster,
    postgres: &Arc<PrivatePostgres>,
    redis: &Arc<Mutex<PrivateRedis>>,
) -> anyhow::Result<()> {
    let node = node.unwrap_or(0);
    match kind {
        FaultKind::KillNode => {
            cluster.stop_node(node, false).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            cluster.start_node(node).await?;
        }
        FaultKind::TerminateNode => {
            cluster.stop_node(node, true).await?;
            cluster.start_node(node).await?;
        }
        FaultKind::PauseNode => {
            cluster.node(node)?.signal("STOP")?;
            tokio::time::sleep(Duration::from_secs(10)).await;
            cluster.node(node)?.signal("CONT")?;
        }
        FaultKind::RestartPostgres => {
            let down = postgres.clone();
            tokio::task::spawn_blocking(move || down.down()).await??;
            tokio::time::sleep(Duration::from_secs(5)).await;
            let up = postgres.clone();
            tokio::task::spawn_blocking(move || up.up()).await??;
        }
        FaultKind::StopRedis => {
            let down = redis.clone();
            tokio::task::spawn_blocking(move || down.lock().unwrap_or_else(|p| p.into_inner()).down()).await??;
            tokio::time::sleep(Duration::from_secs(20)).await;
            let up = redis.clone();
            tokio::task::spawn_blocking(move || up.lock().unwrap_or_else(|p| p.into_inner()).up()).await??;
        }
    }
    Ok(())
}

/// Reads every node's process and metrics every 5 s, and the database every 30 s.
async fn sample(
    pids: Arc<Vec<AtomicU32>>,
    urls: Vec<String>,
    postgres: Arc<PrivatePostgres>,
    started: Instant,
    stop: CancellationToken,
) -> (Vec<NodeSample>, Vec<DatabaseSample>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default();
    let mut nodes = Vec::new();
    let mut database = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    let mut round = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let at = started.elapsed().as_secs_f64();
        for (node, pid) in pids.iter().enumerate() {
            let pid = pid.load(Ordering::SeqCst);
            if pid == 0 {
                continue;
            }
            let Some(reading) = read_process(pid) else { continue };
            let metrics = match http.get(format!("{}/metrics", urls[node])).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            nodes.push(NodeSample {
                at,
                node,
                pid,
                rss_kib: reading.0,
                fds: reading.1,
                threads: reading.2,
                tasks: metric_in(&metrics, "solo_runtime_tasks"),
                connections: metric_in(&metrics, "solo_connections"),
                trimmed_rows: metric_in(&metrics, "solo_history_trimmed_rows_total"),
            });
        }
        if round.is_multiple_of(6) {
            let postgres = postgres.clone();
            let read = tokio::task::spawn_blocking(move || read_database(&postgres)).await;
            if let Ok(Ok(mut sample)) = read {
                sample.at = at;
                database.push(sample);
            }
        }
        round += 1;
    }
    (nodes, database)
}

/// RSS (KiB), open descriptors and threads of a process.
fn read_process(pid: u32) -> Option<(u64, u64, u64)> {
    let process = Process(pid);
    Some((process.rss_kib().ok()?, process.open_fds().ok()?, process.threads().ok()?))
}

fn read_database(postgres: &PrivatePostgres) -> anyhow::Result<DatabaseSample> {
    let bytes = postgres.query(DATABASE, "SELECT pg_database_size(current_database())")?.parse()?;
    let mut rows = Vec::new();
    for table in GROWING_TABLES {
        let count = postgres.query(DATABASE, &format!("SELECT count(*) FROM {table}"))?.parse()?;
        rows.push((table.to_owned(), count));
    }
    Ok(DatabaseSample { at: 0.0, bytes, rows })
}

pub use load::Rates;
pub use report::{failures, summary_json, write_attempts_csv, write_report};
