//! The embedded SQLite database locked by another writer, and a full disk:
//! callers get a precise error, nothing half-written survives, everything
//! committed is published, and writes resume once the fault is gone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_server::bus::InProcessBus;
use solo_store::Role;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::support::*;
use crate::ws::Ws;

async fn open_db(data_dir: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new().filename(data_dir.join("solo.db")).connect().await.expect("open the database file")
}

async fn titles(server: &TestServer, user: &TestUser) -> Vec<String> {
    let (status, body) = get(server, user, "/api/missions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().or_else(|| body.as_array()).cloned().unwrap_or_default();
    items.iter().filter_map(|m| m["title"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_database_locked_by_another_writer_answers_503_database_busy_and_recovers() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    create_mission(&server, &ada, "before").await;

    // Another process (here: another connection) holds the write lock.
    let mut intruder = open_db(&server.state.settings().data_dir).await;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut intruder).await.expect("take the write lock");

    let response = client()
        .post(server.url("/api/missions"))
        .bearer_auth(&ada.pat)
        .json(&json!({ "title": "during" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "database_busy", "{body}");
    // Readers are not blocked by a writer (WAL).
    assert_eq!(titles(&server, &ada).await, vec!["before".to_owned()]);

    sqlx::query("ROLLBACK").execute(&mut intruder).await.expect("release the lock");
    intruder.close().await.expect("close");
    create_mission(&server, &ada, "after").await;
    let mut seen = titles(&server, &ada).await;
    seen.sort();
    assert_eq!(seen, vec!["after".to_owned(), "before".to_owned()], "the refused write left nothing behind");

    // Operators see it: one busy database error, and every write timed.
    let metrics = client().get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let value = |name: &str| {
        metrics
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    assert_eq!(value("solo_database_errors_total{kind=\"busy\"}"), 1.0);
    assert!(value("solo_http_write_duration_seconds_count") >= 3.0, "three writes were timed");
    assert!(value("solo_outbox_lag_seconds") >= 0.0);
    assert!(value("solo_runtime_tasks") >= 1.0, "at least the task answering /metrics");
    server.stop().await;
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` where this process may not mount (not root): the test says so and skips.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => Some(Tmpfs { path, _dir: dir }),
            _ => None,
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system holding `dir` to the last byte.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&block).and_then(|()| file.flush()).is_err() {
            break;
        }
    }
    let mut byte = [0u8; 1];
    while file.write_all(&byte).is_ok() {
        byte[0] = byte[0].wrapping_add(1);
    }
    path
}

#[tokio::test]
async fn a_full_disk_answers_507_storage_full_loses_nothing_and_recovers() {
    let Some(disk) = Tmpfs::mount("16m") else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    let server = TestServer::start_with(|s| s.data_dir = disk.path.clone(), Arc::new(InProcessBus::new())).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let channel = format!("workspace:{}", ada.workspace_id);
    let (mut follower, _) = Ws::connect(&server, &ada).await;
    let sub = follower.command("subscribe", json!({ "channel": channel })).await;
    let start_offset = sub["subscribe"]["offset"].as_u64().unwrap_or(0);
    // The follower reads as publications arrive, so it never falls behind;
    // it stops once the final mission ("after") has arrived.
    let reader = tokio::spawn(async move {
        let mut offsets = Vec::new();
        while let Some(push) = follower.next_publication(Duration::from_secs(60)).await {
            let publication = &push["push"]["pub"];
            if publication["data"]["type"] == "mission.created" {
                offsets.push(publication["offset"].as_u64().expect("offset"));
                if publication["data"]["data"]["title"] == "after" {
                    break;
                }
            }
        }
        offsets
    });
    create_mission(&server, &ada, "before").await;

    let filler = fill(&disk.path);
    // Write until the disk refuses, then 50 more. Commits may still fit in pages
    // SQLite already holds; every answer is either a success or a clean 507, and
    // every success is real: before the store discarded the connection of a
    // failed transaction, the writes after the first refusal answered 201 and
    // were never committed.
    let mut created = vec!["before".to_owned()];
    let mut refused = 0;
    let mut first_refusal = None;
    for i in 0..20_000 {
        let title = format!("full-{i:04}-{}", "x".repeat(180));
        let response = client()
            .post(server.url("/api/missions"))
            .bearer_auth(&ada.pat)
            .json(&json!({ "title": title }))
            .send()
            .await
            .expect("request");
        match response.status() {
            StatusCode::CREATED => created.push(title),
            StatusCode::INSUFFICIENT_STORAGE => {
                let body: Value = response.json().await.expect("json");
                assert_eq!(body["code"], "storage_full", "{body}");
                refused += 1;
                first_refusal.get_or_insert(i);
            }
            other => panic!("write {i} on a full disk answered {other}: {}", response.text().await.unwrap_or_default()),
        }
        // Past the first refusal, SQLite may still commit into pages it frees
        // (history trimming, published outbox rows): keep writing a while.
        if first_refusal.is_some_and(|first| i >= first + 50) {
            break;
        }
    }
    assert!(refused > 0, "a full disk refuses writes ({} succeeded, none refused)", created.len() - 1);
    eprintln!("full disk: {} writes committed, {refused} refused with 507", created.len() - 1);
    // Reads keep working on a full disk.
    assert_eq!(titles(&server, &ada).await.len(), created.len());

    std::fs::remove_file(&filler).expect("free the space");
    eventually("writes resume once space is back", Duration::from_secs(30), || async {
        let (status, _) = post(&server, &ada, "/api/missions", json!({ "title": "after" })).await;
        (status == StatusCode::CREATED).then_some(())
    })
    .await;
    created.push("after".to_owned());

    // Every committed mission, and only those, exists; each was published once
    // on the workspace channel, gap-free, to the follower who stayed connected.
    let expected = created.len();
    let offsets = reader.await.expect("follower task");
    assert_eq!(offsets.len(), expected, "every committed creation delivered once");
    let want: Vec<u64> = (start_offset + 1..=start_offset + expected as u64).collect();
    assert_eq!(offsets, want, "delivered in a gap-free run of offsets");

    let mut db = open_db(&disk.path).await;
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&mut db).await.expect("check");
    assert_eq!(check, "ok");
    let (missions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM missions").fetch_one(&mut db).await.expect("count");
    assert_eq!(missions as usize, created.len(), "no half-written mission");
    db.close().await.expect("close");
    server.stop().await;
}
