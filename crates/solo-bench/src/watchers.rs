//! Watcher fan-out: one stage change on a mission watched by many users. Its
//! transaction writes the change, its event, one notification per watcher and
//! their channel offsets; then every watcher's inbox gets a push. Measured: the
//! time from sending the stage change to the last watcher's push.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::ingest::ScratchDatabase;
use crate::programs::Programs;
use crate::server::SoloServer;
use crate::targets::Kind;

/// Stages a mission cycles through: one step forward at a time, then back to the start.
const CYCLE: [&str; 5] = ["spec", "build", "review", "done", "backlog"];

/// One watcher: a user of the bench workspace with a token of their own.
struct Watcher {
    id: String,
    pat: String,
}

pub async fn run(
    programs: &Programs,
    watchers: usize,
    changes: usize,
    postgres: Option<&str>,
) -> anyhow::Result<WatchersResult> {
    let mut programs = programs.clone();
    let scratch = postgres.map(|url| ScratchDatabase::create(url, 200)).transpose()?;
    if let Some(db) = &scratch {
        programs.solo_env.push(("SOLO_DATABASE_URL", db.url.clone()));
    }
    let server = Arc::new(SoloServer::start_for(&programs, 10).await?);
    let http = reqwest::Client::new();
    let mission = server.create_mission().await?;

    let people = create_watchers(&server, &http, watchers).await?;
    for watcher in &people {
        let response =
            http.post(server.url(&format!("/api/missions/{mission}/watch"))).bearer_auth(&watcher.pat).send().await?;
        if !response.status().is_success() {
            bail!("watching the mission: {}", response.status());
        }
    }

    // Every watcher's inbox on a connection of its own; each push is reported
    // with the time it arrived.
    let stop = CancellationToken::new();
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    let gate = Arc::new(Semaphore::new(64));
    let mut clients = Vec::with_capacity(people.len());
    for (n, watcher) in people.iter().enumerate() {
        let permit = gate.clone().acquire_owned().await?;
        let token = server.connection_token(&http, &watcher.pat).await?;
        let channel = format!("notifications:{}", watcher.id);
        let addr = server.addr.parse().context("solo address")?;
        let (mut ws, _) =
            crate::open_subscribed(crate::source_address(n as u64), addr, &token, json!({ "channel": channel }))
                .await?;
        drop(permit);
        let (stop, arrivals_tx) = (stop.clone(), arrivals_tx.clone());
        clients.push(tokio::spawn(async move {
            crate::read_client(Kind::Solo, &mut ws, &stop, |frame| {
                let now = Instant::now();
                // Text frames: the server speaks JSON to these clients.
                let text = std::str::from_utf8(frame).unwrap_or_default();
                // The first change creates each watcher's notification; the
                // later ones update it while it is unread (supersede).
                let pushes = text.split('\n').filter(|line| {
                    line.contains("\"notification.created\"") || line.contains("\"notification.updated\"")
                });
                for _ in pushes {
                    let _ = arrivals_tx.send(now);
                }
            })
            .await;
        }));
    }

    let mut to_last = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut commit = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for change in 0..changes {
        let stage = CYCLE[change % CYCLE.len()];
        let sent = Instant::now();
        server.change_stage(&http, &mission, stage).await?;
        let answered = sent.elapsed();
        let mut last = sent;
        for _ in 0..people.len() {
            let arrived = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
                .await
                .context("a watcher's push did not arrive within 30 s")?
                .context("watchers stopped")?;
            last = last.max(arrived);
        }
        to_last.record(micros(last - sent))?;
        commit.record(micros(answered))?;
    }
    stop.cancel();
    for client in clients {
        let _ = client.await;
    }
    let ms = |h: &Histogram<u64>, q: f64| (h.value_at_quantile(q) as f64 / 1000.0 * 100.0).round() / 100.0;
    Ok(WatchersResult {
        scenario: "watchers",
        server: "Solo",
        database: if scratch.is_some() { "PostgreSQL" } else { "SQLite" },
        watchers: people.len(),
        changes,
        reply_p50_ms: ms(&commit, 0.5),
        reply_p99_ms: ms(&commit, 0.99),
        last_push_p50_ms: ms(&to_last, 0.5),
        last_push_p99_ms: ms(&to_last, 0.99),
        last_push_max_ms: ms(&to_last, 1.0),
    })
}

/// What the `watchers` scenario measured (printed as JSON by the CLI).
#[derive(Debug, serde::Serialize)]
pub struct WatchersResult {
    pub scenario: &'static str,
    pub server: &'static str,
    pub database: &'static str,
    pub watchers: usize,
    pub changes: usize,
    /// From sending a change to its HTTP reply.
    pub reply_p50_ms: f64,
    pub reply_p99_ms: f64,
    /// From sending a change to the last watcher's push.
    pub last_push_p50_ms: f64,
    pub last_push_p99_ms: f64,
    pub last_push_max_ms: f64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Creates `count` users in the bench workspace, each with a token, with the
/// operator's CLI (several at a time), and reads their ids.
async fn create_watchers(server: &SoloServer, http: &reqwest::Client, count: usize) -> anyhow::Result<Vec<Watcher>> {
    let gate = Arc::new(Semaphore::new(8));
    let mut created = Vec::with_capacity(count);
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await?;
        let admin = server.admin().clone();
        created.push(tokio::task::spawn_blocking(move || {
            let name = format!("watcher-{n}");
            admin.run(&["admin", "user", "create", &name, "--workspace", "bench"])?;
            let pat = admin.run(&["admin", "token", "create", "--user", &name, "--name", "bench"])?;
            drop(permit);
            anyhow::Ok(pat)
        }));
    }
    let mut people = Vec::with_capacity(count);
    for pat in created {
        let pat = pat.await??;
        let me: Value = http.get(server.url("/api/me")).bearer_auth(&pat).send().await?.json().await?;
        let id = me["id"].as_str().context("user id")?.to_owned();
        people.push(Watcher { id, pat });
    }
    Ok(people)
}
