//! Ingest: notifications created per second through the HTTP API, each one a
//! database transaction (notification, event, outbox, channel history) and a
//! publication, on SQLite or PostgreSQL.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use tokio::sync::Semaphore;

use crate::programs::Programs;
use crate::targets::{Kind, Target};

/// A scratch PostgreSQL database, dropped when done.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `solo_bench_<pid>_<n>` on the server of `admin_url` (with `psql`).
    pub fn create(admin_url: &str, n: u32) -> anyhow::Result<ScratchDatabase> {
        let name = format!("solo_bench_{}_{n}", std::process::id());
        psql(admin_url, &format!("DROP DATABASE IF EXISTS {name}"))?;
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        Ok(ScratchDatabase { admin_url: admin_url.to_owned(), url: format!("{base}/{name}"), name })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out =
        Command::new("psql").arg(url).args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql]).output().context("psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

pub async fn run(
    programs: &Programs,
    count: u64,
    concurrency: usize,
    postgres: Option<&str>,
) -> anyhow::Result<IngestResult> {
    let mut programs = programs.clone();
    let scratch = postgres.map(|url| ScratchDatabase::create(url, 0)).transpose()?;
    if let Some(db) = &scratch {
        programs.solo_env.push(("SOLO_DATABASE_URL", db.url.clone()));
    }
    let target = Arc::new(Target::start(Kind::Solo, &programs, 10).await?);
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let gate = Arc::new(Semaphore::new(concurrency));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut requests = Vec::with_capacity(count as usize);
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await.context("semaphore")?;
        let (target, http, failed) = (target.clone(), http.clone(), failed.clone());
        requests.push(tokio::spawn(async move {
            if let Err(e) = target.publish(&http, &format!("ingest {n}")).await {
                if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("ingest: {e:#}");
                }
            }
            drop(permit);
        }));
    }
    for request in requests {
        let _ = request.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let process = target.process();
    let failed = failed.load(Ordering::Relaxed);
    Ok(IngestResult {
        scenario: "ingest",
        server: "Solo",
        database: if scratch.is_some() { "PostgreSQL" } else { "SQLite" },
        created: count - failed,
        failed,
        per_sec: ((count - failed) as f64 / secs).round(),
        concurrency,
        server_cpu_secs: process.cpu_seconds().unwrap_or(0.0),
        server_peak_rss_kib: process.peak_rss_kib().unwrap_or(0),
    })
}

/// What the `ingest` scenario measured (printed as JSON by the CLI).
#[derive(Debug, serde::Serialize)]
pub struct IngestResult {
    pub scenario: &'static str,
    pub server: &'static str,
    pub database: &'static str,
    pub created: u64,
    pub failed: u64,
    pub per_sec: f64,
    pub concurrency: usize,
    pub server_cpu_secs: f64,
    pub server_peak_rss_kib: u64,
}
