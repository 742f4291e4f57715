//! Cluster drills with real `solo serve` processes on PostgreSQL and Redis: a
//! node killed with SIGKILL mid-burst, Redis killed and restarted mid-burst, and
//! the presence a killed node leaves behind. Each drill runs when
//! `SOLO_TEST_POSTGRES_URL` and `SOLO_TEST_REDIS_URL` are set (scripts/test sets
//! both); the Redis drill starts a private `redis-server` so it can kill it.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::drill::*;
use crate::support::{serve_with, solo};

/// What every node of one drill shares.
struct Cluster {
    database_url: String,
    bus_url: String,
    name: String,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A fresh PostgreSQL schema and cluster name on `bus_url`, or None when not configured.
    fn new(bus_url: Option<String>) -> Option<Cluster> {
        let pg = std::env::var("SOLO_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
        let redis = std::env::var("SOLO_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())?;
        let prefix = std::env::var("SOLO_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "t_".into());
        // `scripts/test` drops every schema with its run's prefix when it ends.
        let schema = format!("{prefix}{}", uuid_like());
        let created = Command::new("psql").args([pg.as_str(), "-q", "-c", &format!("CREATE SCHEMA {schema}")]).status();
        assert!(created.expect("psql runs").success(), "cannot create schema {schema}");
        let separator = if pg.contains('?') { '&' } else { '?' };
        Some(Cluster {
            database_url: format!("{pg}{separator}options=-c%20search_path%3D{schema}"),
            bus_url: bus_url.unwrap_or(redis),
            name: format!("drill-{schema}"),
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    /// Starts a node and waits until it is ready.
    async fn node(&self, name: &str) -> Node {
        let data_dir = self.dir.path().join(name);
        let data_dir = data_dir.to_str().expect("utf-8 path");
        let env = [
            ("SOLO_DATABASE_URL", self.database_url.as_str()),
            ("SOLO_BUS_URL", self.bus_url.as_str()),
            ("SOLO_CLUSTER_NAME", self.name.as_str()),
            ("SOLO_DATA_DIR", data_dir),
            ("SOLO_PRESENCE_TTL_SECS", "3"),
            ("SOLO_RECOVERY_MAX_PUBLICATIONS", "5000"),
            ("SOLO_HISTORY_MAX_PUBLICATIONS", "5000"),
            // The drills write as fast as one client can; API rate limits are not under test.
            ("SOLO_API_REQUESTS_PER_SEC", "100000"),
        ];
        let (child, addr, _) = serve_with(self.dir.path(), &env);
        let node = Node { child, addr, name: name.to_owned() };
        node.until_ready(true, Duration::from_secs(20)).await;
        node
    }

    /// Creates an admin user of workspace `acme` and returns a PAT of theirs.
    fn user(&self, name: &str) -> String {
        let run = |args: &[&str]| {
            let out = solo(self.dir.path())
                .args(args)
                .env("SOLO_DATABASE_URL", &self.database_url)
                .stdin(Stdio::null())
                .output()
                .expect("solo admin runs");
            assert!(out.status.success(), "solo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
        };
        run(&["admin", "user", "create", name, "--workspace", "acme", "--admin"]);
        run(&["admin", "token", "create", "--user", name, "--name", "drill"])
    }
}

/// 32 hex digits from the clock and the process id (enough to keep schemas apart).
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:032x}", nanos ^ (u128::from(std::process::id()) << 96))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_burst_loses_nothing_and_its_clients_recover_on_another() {
    let Some(cluster) = Cluster::new(None) else {
        eprintln!("SOLO_TEST_POSTGRES_URL or SOLO_TEST_REDIS_URL is not set: drill skipped");
        return;
    };
    const CHANGES: usize = 1000;
    let pat = cluster.user("ada");
    // A starts first, so it takes the dispatcher lease: killing it kills the dispatcher.
    let mut a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let mission = create_mission(&b, &pat).await;
    let channel = format!("mission:{mission}");

    let until = Arc::new(AtomicU64::new(0));
    let followers: Vec<_> = (0..4)
        .map(|_| {
            let nodes = vec![a.url(""), b.url("")];
            tokio::spawn(follow(nodes, pat.clone(), channel.clone(), until.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let done = Arc::new(AtomicU64::new(0));
    let burst = tokio::spawn(stage_burst(b.url(""), pat.clone(), mission.clone(), CHANGES, done.clone()));
    until_done(&done, 300).await;
    assert!(a.published().await > 0.0, "node A was dispatching before it was killed");
    a.kill();
    let killed_at = done.load(Ordering::SeqCst);
    burst.await.expect("burst through node B");
    // The mission's creation is offset 1; every stage change adds one.
    let last = 1 + CHANGES as u64;
    until.store(last, Ordering::SeqCst);
    let mut repeats = 0;
    for (n, follower) in followers.into_iter().enumerate() {
        let received = follower.await.expect("follower");
        assert!(received.connections >= 2, "follower {n} reconnected after node A died");
        repeats += assert_gap_free(&format!("follower {n}"), &received, 2, last);
    }
    eprintln!("node A killed after {killed_at} of {CHANGES} changes; 4 followers gap-free, {repeats} repeats dropped");
}

/// A `redis-server` of the drill's own, on a free port, that it may kill.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts one, or None when `redis-server` is not installed.
    async fn start(port: Option<u16>) -> Option<PrivateRedis> {
        let port = port.unwrap_or_else(|| {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("addr").port()
        });
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let redis = PrivateRedis { child, port };
        let started = Instant::now();
        while redis.command("PING").await.as_deref() != Some("+PONG") {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one inline command and returns the first line of the answer.
    async fn command(&self, command: &str) -> Option<String> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).await.ok()?;
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
        text.lines().next().map(str::to_owned)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_burst_loses_nothing_and_readiness_follows_it() {
    let Some(mut redis) = PrivateRedis::start(None).await else {
        eprintln!("redis-server is not installed: drill skipped");
        return;
    };
    let Some(cluster) = Cluster::new(Some(redis.url())) else {
        eprintln!("SOLO_TEST_POSTGRES_URL or SOLO_TEST_REDIS_URL is not set: drill skipped");
        return;
    };
    const CHANGES: usize = 600;
    let pat = cluster.user("ada");
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let mission = create_mission(&b, &pat).await;
    let channel = format!("mission:{mission}");
    let until = Arc::new(AtomicU64::new(0));
    let followers: Vec<_> = [a.url(""), b.url("")]
        .into_iter()
        .map(|home| tokio::spawn(follow(vec![home], pat.clone(), channel.clone(), until.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let done = Arc::new(AtomicU64::new(0));
    let burst = tokio::spawn(stage_burst(b.url(""), pat.clone(), mission.clone(), CHANGES, done.clone()));

    // Every node's pub/sub connection is cut: they resubscribe and their clients resync.
    until_done(&done, 100).await;
    let killed = redis.command("CLIENT KILL TYPE pubsub").await;
    assert!(killed.as_deref().is_some_and(|k| k.starts_with(':')), "CLIENT KILL answered {killed:?}");

    // Redis dies: writes still commit (PostgreSQL is fine), both nodes report not ready.
    until_done(&done, 250).await;
    redis.kill();
    let unready_after = a.until_ready(false, Duration::from_secs(15)).await;
    b.until_ready(false, Duration::from_secs(15)).await;
    until_done(&done, 400).await;

    // Redis is back on the same port: readiness returns and the dispatcher catches up.
    let port = redis.port;
    let _restarted = PrivateRedis::start(Some(port)).await.expect("redis-server restarts");
    let ready_after = a.until_ready(true, Duration::from_secs(20)).await;
    b.until_ready(true, Duration::from_secs(20)).await;
    burst.await.expect("every change committed while Redis was down");

    let last = 1 + CHANGES as u64;
    until.store(last, Ordering::SeqCst);
    let mut repeats = 0;
    for (n, follower) in followers.into_iter().enumerate() {
        let received = follower.await.expect("follower");
        assert!(received.connections >= 2, "follower {n} was made to resync");
        repeats += assert_gap_free(&format!("follower {n}"), &received, 2, last);
    }
    eprintln!(
        "Redis killed mid-burst: unready after {unready_after:?}, ready again {ready_after:?} after restart; \
         2 followers gap-free, {repeats} repeats dropped"
    );
}

async fn presence_stats(base: &str, pat: &str, channel: &str) -> (u64, u64) {
    let command = json!({ "presence_stats": { "channel": channel } });
    let mut socket = open(&[base.to_owned()], pat, command).await.expect("realtime connection");
    loop {
        let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("no presence_stats reply") };
        for line in text.split('\n') {
            let message: Value = serde_json::from_str(line).expect("json");
            if message["id"] == 2 {
                let stats = &message["presence_stats"];
                assert!(stats.is_object(), "{message}");
                return (stats["num_clients"].as_u64().unwrap_or(0), stats["num_users"].as_u64().unwrap_or(0));
            }
        }
    }
}

/// Holds a subscription open (answering pings) until aborted.
async fn stay_subscribed(base: String, pat: String, channel: String) {
    let command = json!({ "subscribe": { "channel": channel } });
    let Some(mut socket) = open(&[base], &pat, command).await else { return };
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            if text.split('\n').any(|l| l == "{}") && socket.send(Message::Text("{}".into())).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_users_leave_presence_within_the_ttl() {
    let Some(cluster) = Cluster::new(None) else {
        eprintln!("SOLO_TEST_POSTGRES_URL or SOLO_TEST_REDIS_URL is not set: drill skipped");
        return;
    };
    let ada = cluster.user("ada");
    let bo = cluster.user("bo");
    let mut a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let me: Value = http().get(b.url("/api/me")).bearer_auth(&bo).send().await.expect("me").json().await.expect("json");
    let channel = format!("workspace:{}", me["workspaces"][0]["id"].as_str().expect("workspace"));

    let on_a = tokio::spawn(stay_subscribed(a.url(""), ada.clone(), channel.clone()));
    let on_b = tokio::spawn(stay_subscribed(b.url(""), bo.clone(), channel.clone()));
    let started = Instant::now();
    while presence_stats(&b.url(""), &bo, &channel).await != (2, 2) {
        assert!(started.elapsed() < Duration::from_secs(10), "both users counted by node B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // SIGKILL: node A says nothing on its way out; its entries expire (TTL 3 s).
    a.kill();
    let killed = Instant::now();
    while presence_stats(&b.url(""), &bo, &channel).await != (1, 1) {
        assert!(killed.elapsed() < Duration::from_secs(15), "node A's user still online well past the TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("a killed node's user left presence after {:?} (TTL 3 s)", killed.elapsed());
    on_a.abort();
    on_b.abort();
}
