//! `solo-bench connections`: idle connections, each subscribed and answering
//! keepalives; how many the server holds, how fast they connect, and the
//! server's memory per connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::programs::Programs;
use crate::targets::{Kind, Target};
use crate::{check_server_memory, hold_client, source_address};

pub(crate) async fn run(
    kind: Kind,
    programs: &Programs,
    count: u64,
    concurrency: usize,
    hold: Duration,
) -> anyhow::Result<ConnectionsResult> {
    let mut programs = programs.clone();
    programs.solo_env.push(("SOLO_PING_INTERVAL_SECS", "5".into()));
    let target = Arc::new(Target::start(kind, &programs, count).await?);
    let process = target.process();
    let idle_rss = process.rss_kib()?;

    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(concurrency));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut clients = Vec::with_capacity(count as usize);
    // Server memory as connections open, for the report's chart: about 20 samples.
    let sample_every = (count / 20).max(1);
    let mut samples = vec![(0, idle_rss)];
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await.context("semaphore")?;
        if n % sample_every == sample_every - 1 {
            samples.push((opened.load(Ordering::Relaxed), process.rss_kib()?));
        }
        if n % 100 == 99 {
            if let Err(e) = check_server_memory(&process, opened.load(Ordering::Relaxed)) {
                stop.cancel();
                return Err(e);
            }
        }
        let (target, opened, failed, stop) = (target.clone(), opened.clone(), failed.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            match target.subscribe(source_address(n)).await {
                Ok(mut socket) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                    hold_client(target.kind, &mut socket, &stop).await;
                }
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("{}: connection {n} failed: {e:#}", target.kind.name());
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
    let held = match target.solo() {
        Some(solo) => solo.metric("solo_connections").await? as u64,
        None => opened.load(Ordering::Relaxed),
    };
    let rss = process.rss_kib()?;
    let peak = process.peak_rss_kib()?;
    let cpu = process.cpu_seconds()?;
    samples.push((opened.load(Ordering::Relaxed), rss));
    stop.cancel();
    for client in clients {
        let _ = client.await;
    }
    let opened = opened.load(Ordering::Relaxed);
    let per_connection = (rss.saturating_sub(idle_rss)) as f64 * 1024.0 / opened.max(1) as f64;
    Ok(ConnectionsResult {
        scenario: "connections",
        server: kind.name(),
        requested: count,
        opened,
        failed: failed.load(Ordering::Relaxed),
        held,
        connect_per_sec: (opened as f64 / connect_secs).round(),
        rss_idle_kib: idle_rss,
        rss_kib: rss,
        rss_peak_kib: peak,
        rss_bytes_per_connection: per_connection.round(),
        rss_kib_by_connections: samples,
        server_cpu_secs: cpu,
    })
}

/// What the `connections` scenario measured (printed as JSON by the CLI).
#[derive(Debug, serde::Serialize)]
pub(crate) struct ConnectionsResult {
    pub scenario: &'static str,
    pub server: &'static str,
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Connections the server still held at the end.
    pub held: u64,
    pub connect_per_sec: f64,
    pub rss_idle_kib: u64,
    pub rss_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_bytes_per_connection: f64,
    /// (connections open, server RSS KiB) while they were opened.
    pub rss_kib_by_connections: Vec<(u64, u64)>,
    pub server_cpu_secs: f64,
}
