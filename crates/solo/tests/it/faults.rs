//! Fault drills on one node with embedded SQLite: the server killed with
//! SIGKILL mid-burst and restarted, a graceful SIGTERM mid-burst, and a backup
//! taken mid-burst then restored.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::drill::*;
use crate::support::{serve_at, solo};

/// A data directory with two users of workspace `acme`; their PATs.
fn workspace(dir: &std::path::Path) -> (String, String) {
    let run = |args: &[&str]| {
        let out = solo(dir).args(args).stdin(Stdio::null()).output().expect("solo admin runs");
        assert!(out.status.success(), "solo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
    };
    run(&["admin", "user", "create", "ada", "--workspace", "acme"]);
    run(&["admin", "user", "create", "bo", "--workspace", "acme"]);
    (
        run(&["admin", "token", "create", "--user", "ada", "--name", "drill"]),
        run(&["admin", "token", "create", "--user", "bo", "--name", "drill"]),
    )
}

fn free_addr() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").to_string()
}

const ENV: [(&str, &str); 3] = [
    ("SOLO_RECOVERY_MAX_PUBLICATIONS", "10000"),
    ("SOLO_HISTORY_MAX_PUBLICATIONS", "10000"),
    // One writer as fast as it can: API rate limits are not under test here.
    ("SOLO_API_REQUESTS_PER_SEC", "100000"),
];

fn start(dir: &std::path::Path, addr: &str) -> Node {
    let (child, addr, _) = serve_at(dir, addr, &ENV);
    Node { child, addr, name: "solo".into() }
}

/// A data directory with Ada and Bo, a server on a fixed address (so it can be
/// restarted where clients expect it) and one of Ada's missions.
struct Drill {
    dir: tempfile::TempDir,
    ada: String,
    bo: String,
    addr: String,
    server: Node,
    base: String,
    mission: String,
    channel: String,
}

impl Drill {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ada, bo) = workspace(dir.path());
        let addr = free_addr();
        let server = start(dir.path(), &addr);
        let base = server.url("");
        let mission = create_mission(&server, &ada).await;
        let channel = format!("mission:{mission}");
        Drill { dir, ada, bo, addr, server, base, mission, channel }
    }
}

/// Changes the stage `changes` times through `base`, riding out a server that
/// dies and comes back. A change whose reply was lost may have committed; its
/// repeat is then refused as an invalid transition and counts as done.
async fn resilient_burst(base: String, pat: String, mission: String, changes: u64, done: Arc<AtomicU64>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    let path = format!("/api/missions/{mission}/stage");
    let mut n = 0;
    while n < changes {
        assert!(Instant::now() < deadline, "burst stuck at change {n}");
        let stage = if n % 2 == 0 { "spec" } else { "backlog" };
        match api(&base, &pat, &path, json!({ "stage": stage })).await {
            Err(e) if !e.contains("invalid_transition") => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            _ => {}
        }
        n += 1;
        done.store(n, Ordering::SeqCst);
    }
}

/// Every offset a channel's history holds, page by page.
async fn history_offsets(base: &str, pat: &str, channel: &str) -> Vec<u64> {
    let mut offsets = Vec::new();
    let mut since = 0;
    loop {
        let page: Value = http()
            .get(format!("{base}/api/events?channel={channel}&since={since}&limit=1000"))
            .bearer_auth(pat)
            .send()
            .await
            .expect("events")
            .json()
            .await
            .expect("json");
        let items = page["items"].as_array().expect("items");
        if items.is_empty() {
            return offsets;
        }
        offsets.extend(items.iter().filter_map(|e| e["offset"].as_u64()));
        since = page["nextSince"].as_u64().expect("nextSince");
    }
}

async fn mission_version(base: &str, pat: &str, mission: &str) -> u64 {
    let mission: Value = http()
        .get(format!("{base}/api/missions/{mission}"))
        .bearer_auth(pat)
        .send()
        .await
        .expect("mission")
        .json()
        .await
        .expect("json");
    mission["version"].as_u64().expect("version")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_nothing_and_duplicates_no_notification() {
    const CHANGES: u64 = 5000;
    let Drill { dir, ada, bo, addr, mut server, base, mission, channel } = Drill::start().await;

    let until = Arc::new(AtomicU64::new(0));
    let follower = tokio::spawn(follow(vec![base.clone()], ada.clone(), channel.clone(), until.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Bo moves Ada's mission: every change notifies Ada exactly once.
    let done = Arc::new(AtomicU64::new(0));
    let burst = tokio::spawn(resilient_burst(base.clone(), bo.clone(), mission.clone(), CHANGES, done.clone()));
    until_done(&done, 1000).await;
    server.kill();
    let killed_at = done.load(Ordering::SeqCst);
    let server = start(dir.path(), &addr);
    burst.await.expect("burst");

    // The mission's version is 1 + every committed change, and its channel's last offset.
    let last = mission_version(&base, &ada, &mission).await;
    assert!(last > CHANGES, "every change committed ({last} versions)");
    until.store(last, Ordering::SeqCst);
    let received = follower.await.expect("follower");
    assert!(received.connections >= 2, "the follower reconnected after the kill");
    let repeats = assert_gap_free("follower", &received, 2, last);

    let counts: Value = http()
        .get(format!("{base}/api/notifications/unread-count"))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("counts")
        .json()
        .await
        .expect("json");
    // Every change notifies Ada once, and each replaces her unread notification
    // about the mission (supersede): one notification, updated once per change
    // after the first, none counted twice across the kill.
    assert_eq!(counts["total"].as_u64(), Some(1), "{counts}");
    let page: Value = http()
        .get(format!("{base}/api/notifications?limit=10"))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("json");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["updates"].as_u64(), Some(last - 2), "one update per committed change after the first");
    eprintln!(
        "SIGKILL after {killed_at} of {CHANGES} changes; {} delivered gap-free, {repeats} repeats dropped",
        last - 1
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_burst_closes_clients_3001_and_publishes_everything_committed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ada, bo) = workspace(dir.path());
    let addr = free_addr();
    let (child, _, log) = serve_at(dir.path(), &addr, &ENV);
    let mut server = Node { child, addr: addr.clone(), name: "solo".into() };
    let base = server.url("");
    let mission = create_mission(&server, &ada).await;
    let channel = format!("mission:{mission}");
    let mut watcher = open(std::slice::from_ref(&base), &ada, json!({ "subscribe": { "channel": channel } }))
        .await
        .expect("realtime connection");

    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (base, bo, mission, done) = (base.clone(), bo.clone(), mission.clone(), done.clone());
        tokio::spawn(async move {
            let path = format!("/api/missions/{mission}/stage");
            for n in 0..5000u64 {
                let stage = if n % 2 == 0 { "spec" } else { "backlog" };
                if api(&base, &bo, &path, json!({ "stage": stage })).await.is_err() {
                    return;
                }
                done.store(n + 1, Ordering::SeqCst);
            }
        })
    };
    until_done(&done, 300).await;
    let terminated = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    assert!(terminated.success());

    let close = loop {
        match tokio::time::timeout(Duration::from_secs(15), watcher.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("connection broke instead of closing: {e}"),
            None => break None,
        }
    };
    assert_eq!(close, Some(3001), "clients are told the server is shutting down");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "clean exit: {status}");
    writer.await.expect("writer");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = log.lock().expect("log").clone();
    assert!(log.contains("outbox drained: every committed event is published"), "the dispatcher drained:\n{log}");

    // Everything committed before the stop is there after a restart, in order.
    let server = start(dir.path(), &addr);
    let last = mission_version(&base, &ada, &mission).await;
    let offsets = history_offsets(&base, &ada, &channel).await;
    assert_eq!(offsets, (1..=last).collect::<Vec<_>>(), "history holds every committed change in order");
    drop(server);
}

/// Sends `subscribe` on a new connection to `base`; the subscribe result.
async fn subscribe_result(base: &str, pat: &str, subscribe: Value) -> Value {
    let mut socket = open(&[base.to_owned()], pat, json!({ "subscribe": subscribe })).await.expect("connects");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a reply");
        let Some(Ok(Message::Text(text))) = frame else { panic!("closed before the subscribe reply") };
        for line in text.split('\n') {
            let message: Value = serde_json::from_str(line).expect("JSON");
            if message["id"] == 2 {
                assert!(message["subscribe"].is_object(), "subscribe failed: {message}");
                return message["subscribe"].clone();
            }
        }
    }
}

/// `solo admin backup` while a burst writes: the copy is consistent (the
/// mission's row and its channel's history agree, as they were committed
/// together), `solo admin restore` refuses while the server runs, and the
/// restored server recovers a client by offset up to where the backup ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_mid_burst_restores_consistently_and_clients_recover_by_offset() {
    const CHANGES: u64 = 2000;
    let Drill { dir, ada, bo, addr, mut server, base, mission, channel } = Drill::start().await;
    let epoch = subscribe_result(&base, &ada, json!({ "channel": channel }))
        .await
        .get("epoch")
        .and_then(Value::as_str)
        .expect("epoch")
        .to_owned();

    let done = Arc::new(AtomicU64::new(0));
    let burst = tokio::spawn(resilient_burst(base.clone(), bo.clone(), mission.clone(), CHANGES, done.clone()));
    until_done(&done, 300).await;
    let backup = dir.path().join("backup.db");
    let admin = |args: Vec<String>| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || solo(&dir).args(args).stdin(Stdio::null()).output().expect("solo runs"))
    };
    let backup_arg = backup.display().to_string();
    let out = admin(vec!["admin".into(), "backup".into(), backup_arg.clone()]).await.expect("backup");
    assert!(out.status.success(), "backup: {}", String::from_utf8_lossy(&out.stderr));
    let again = admin(vec!["admin".into(), "backup".into(), backup_arg.clone()]).await.expect("backup");
    assert!(!again.status.success(), "a backup never overwrites a file");
    burst.await.expect("burst");
    let last = mission_version(&base, &ada, &mission).await;

    let refused = admin(vec!["admin".into(), "restore".into(), backup_arg.clone()]).await.expect("restore");
    assert!(!refused.status.success(), "a restore under a live server is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it before restoring"));
    server.kill();
    let restored = admin(vec!["admin".into(), "restore".into(), backup_arg]).await.expect("restore");
    assert!(restored.status.success(), "restore: {}", String::from_utf8_lossy(&restored.stderr));
    assert!(String::from_utf8_lossy(&restored.stderr).contains("is kept as"));
    let server = start(dir.path(), &addr);

    // Taken mid-burst: part of the changes, and the history ends where the row does.
    let version = mission_version(&base, &ada, &mission).await;
    assert!(version > 300 && version < last, "backup at version {version} of {last}");
    let offsets = history_offsets(&base, &ada, &channel).await;
    assert_eq!(offsets, (1..=version).collect::<Vec<_>>(), "history and mission row agree");

    // A client that saw an offset the backup holds recovers what followed it.
    let seen = version - 50;
    let result =
        subscribe_result(&base, &ada, json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": seen }))
            .await;
    assert_eq!(result["recovered"], true, "{result}");
    let recovered: Vec<u64> =
        result["publications"].as_array().expect("publications").iter().filter_map(|p| p["offset"].as_u64()).collect();
    assert_eq!(recovered, (seen + 1..=version).collect::<Vec<_>>());
    // One that saw past the backup is told it cannot recover, and where the channel is.
    let result =
        subscribe_result(&base, &ada, json!({ "channel": channel, "recover": true, "epoch": epoch, "offset": last }))
            .await;
    assert_eq!(result["recovered"], false, "{result}");
    assert_eq!(result["offset"].as_u64(), Some(version));
    drop(server);
}
