//! Idle connections held by several `solo serve` processes sharing one port
//! (`SO_REUSEPORT`) in cluster mode, on PostgreSQL and Redis: how Solo holds
//! more connections than one process may (a process here opens at most 20,000
//! files). The load generator has the same limit, so it runs copies of itself
//! (`solo-bench hold`), each opening its share of the connections.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::ingest::ScratchDatabase;
use crate::server::SoloServer;
use crate::targets::Kind;

/// Connections one generator process opens at most (under the open-files limit).
const PER_GENERATOR: u64 = 18_000;

pub struct ClusterOptions {
    pub nodes: usize,
    pub count: u64,
    pub postgres: String,
    pub redis: String,
    pub hold: Duration,
    pub concurrency: usize,
}

pub async fn run(solo: &str, options: &ClusterOptions) -> anyhow::Result<ClusterResult> {
    let database = ScratchDatabase::create(&options.postgres, 900)?;
    // Bound and released: the nodes then share it (SO_REUSEPORT).
    let port = crate::targets::free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut env = SoloServer::unlimited(options.count);
    env.extend([
        ("SOLO_DATABASE_URL", database.url.clone()),
        ("SOLO_BUS_URL", options.redis.clone()),
        ("SOLO_CLUSTER_NAME", format!("bench{}", std::process::id())),
        ("SOLO_REUSE_PORT", "true".to_owned()),
    ]);
    let first = SoloServer::start_at(solo, &env, None, &addr, None).await?;
    let pat = first.pat().to_owned();
    let mut nodes = vec![first];
    for _ in 1..options.nodes {
        nodes.push(SoloServer::start_at(solo, &env, None, &addr, Some(&pat)).await?);
    }
    let idle_kib: u64 = nodes.iter().map(|n| n.process().rss_kib()).sum::<anyhow::Result<u64>>()?;
    let token = nodes[0].cached_token().await?;
    let (_, channel) = nodes[0].notification_publisher().await?;

    let me = std::env::current_exe().context("this program's path")?;
    let generators = options.count.div_ceil(PER_GENERATOR);
    let started = Instant::now();
    let mut children = Vec::new();
    for g in 0..generators {
        let first_client = g * PER_GENERATOR;
        let count = PER_GENERATOR.min(options.count - first_client);
        let mut child = tokio::process::Command::new(&me)
            .args(["hold", "--addr", &addr, "--token", &token, "--channel", &channel])
            .args(["--count", &count.to_string(), "--first", &first_client.to_string()])
            .args(["--concurrency", &(options.concurrency / generators as usize).max(16).to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting a generator")?;
        let stdout = child.stdout.take().context("generator stdout")?;
        children.push((child, BufReader::new(stdout).lines()));
    }
    let (mut opened, mut failed) = (0, 0);
    for (_, lines) in &mut children {
        let line = lines.next_line().await?.context("a generator exited before reporting")?;
        let report: Value = serde_json::from_str(&line)?;
        opened += report["opened"].as_u64().unwrap_or(0);
        failed += report["failed"].as_u64().unwrap_or(0);
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(options.hold).await;
    let mut per_node = Vec::new();
    let (mut held, mut rss_kib) = (0, 0);
    // The nodes share one port, so a request for one node's /metrics may reach
    // any of them: each node's connections are the established sockets on the
    // port that its process holds.
    let established = crate::server::established_on(port)?;
    for node in &nodes {
        let connections = node.process().holds(&established)?;
        let rss = node.process().rss_kib()?;
        held += connections;
        rss_kib += rss;
        per_node.push(NodeFigures { connections, rss_kib: rss });
    }
    // Closing their input tells the generators to hang up and exit.
    for (mut child, _) in children {
        drop(child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
    drop(nodes);
    drop(database);
    Ok(ClusterResult {
        scenario: "cluster-connections",
        server: "Solo",
        nodes: options.nodes,
        requested: options.count,
        opened,
        failed,
        held,
        connect_per_sec: (opened as f64 / connect_secs).round(),
        rss_idle_kib: idle_kib,
        rss_kib,
        rss_bytes_per_connection: ((rss_kib.saturating_sub(idle_kib)) as f64 * 1024.0 / opened.max(1) as f64).round(),
        per_node,
    })
}

/// What the `cluster-connections` scenario measured (printed as JSON by the CLI).
#[derive(Debug, serde::Serialize)]
pub struct ClusterResult {
    pub scenario: &'static str,
    pub server: &'static str,
    pub nodes: usize,
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Established sockets the nodes held at the end.
    pub held: u64,
    pub connect_per_sec: f64,
    pub rss_idle_kib: u64,
    pub rss_kib: u64,
    pub rss_bytes_per_connection: f64,
    pub per_node: Vec<NodeFigures>,
}

/// One node's share of a cluster run.
#[derive(Debug, serde::Serialize)]
pub struct NodeFigures {
    pub connections: u64,
    pub rss_kib: u64,
}

/// One generator of a cluster run: opens `count` connections to Solo, each
/// subscribed to `channel` and answering pings, reports one JSON line, and holds
/// them until its standard input closes.
pub async fn hold(
    addr: &str,
    token: &str,
    channel: &str,
    count: u64,
    first: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let target: std::net::SocketAddr = addr.parse().context("--addr")?;
    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut clients = Vec::with_capacity(count as usize);
    for n in first..first + count {
        let permit = gate.clone().acquire_owned().await.context("semaphore")?;
        let (opened, failed, stop) = (opened.clone(), failed.clone(), stop.clone());
        let (token, channel) = (token.to_owned(), channel.to_owned());
        clients.push(tokio::spawn(async move {
            let subscribe = json!({ "channel": channel });
            match crate::open_subscribed(crate::source_address(n), target, &token, subscribe).await {
                Ok((mut ws, _)) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                    crate::hold_client(Kind::Solo, &mut ws, &stop).await;
                }
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("connection {n} failed: {e:#}");
                    }
                }
            }
        }));
    }
    while opened.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("{}", json!({ "opened": opened.load(Ordering::Relaxed), "failed": failed.load(Ordering::Relaxed) }));
    let mut input = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while input.read(&mut buf).await.unwrap_or(0) > 0 {}
    stop.cancel();
    for client in clients {
        let _ = client.await;
    }
    if failed.load(Ordering::Relaxed) > 0 {
        bail!("{} connections failed", failed.load(Ordering::Relaxed));
    }
    Ok(())
}
