//! Cluster mode: nodes sharing PostgreSQL and Redis. Runs when
//! `SOLO_TEST_POSTGRES_URL` and `SOLO_TEST_REDIS_URL` are set (scripts/test sets both).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::*;
use crate::ws::Ws;

/// A fresh PostgreSQL schema and cluster name, or None when not configured.
async fn cluster_settings() -> Option<(String, String, String)> {
    let pg = std::env::var("SOLO_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    let redis = std::env::var("SOLO_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())?;
    let prefix = std::env::var("SOLO_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "t_".into());
    // `scripts/test` drops every schema with its run's prefix when it ends.
    let schema = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    create_schema(&pg, &schema).await;
    let separator = if pg.contains('?') { '&' } else { '?' };
    Some((format!("{pg}{separator}options=-c%20search_path%3D{schema}"), redis, format!("test-{schema}")))
}

/// Creates a schema with `psql`, so this crate's tests need no SQL driver of their own.
async fn create_schema(url: &str, schema: &str) {
    let status = tokio::process::Command::new("psql")
        .args([url, "-q", "-c", &format!("CREATE SCHEMA {schema}")])
        .status()
        .await
        .expect("psql runs");
    assert!(status.success(), "cannot create schema {schema}");
}

fn published(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with("solo_events_published_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Two nodes of one fresh cluster (PostgreSQL schema + Redis), both ready, or
/// None when the cluster services are not configured.
pub(crate) async fn two_nodes(configure: fn(&mut solo_server::settings::Settings)) -> Option<(TestServer, TestServer)> {
    let Some((database, bus, cluster)) = cluster_settings().await else {
        eprintln!("SOLO_TEST_POSTGRES_URL or SOLO_TEST_REDIS_URL is not set: cluster mode not checked");
        return None;
    };
    let node = |database: String, bus: String, cluster: String| {
        move |s: &mut solo_server::settings::Settings| {
            s.database_url = Some(database);
            s.bus_url = Some(bus);
            s.cluster_name = cluster;
            configure(s);
        }
    };
    let a = TestServer::start_built(node(database.clone(), bus.clone(), cluster.clone())).await;
    let b = TestServer::start_built(node(database, bus, cluster)).await;
    for server in [&a, &b] {
        let ready = eventually("ready", Duration::from_secs(10), || async {
            let r = client().get(server.url("/readyz")).send().await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        });
        ready.await;
    }
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_node_reaches_a_client_of_another_and_is_published_once() {
    let Some((a, b)) = two_nodes(|_| {}).await else { return };
    let ada = a.user("ada", "acme", Role::Member).await;
    let bo = b.user("bo", "acme", Role::Member).await;

    let mission = create_mission(&a, &ada, "Across nodes").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    // One cluster, one identity: a connection token issued by node B opens node A.
    let mut ws = Ws::open(&a).await;
    let token = crate::ws::token_for(&b, &ada).await;
    let reply = ws.command("connect", json!({ "token": token })).await;
    assert!(reply["connect"].is_object(), "a token from node B is accepted by node A: {reply}");
    ws.command("subscribe", json!({ "channel": format!("mission:{id}") })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, body) = post(&b, &bo, &format!("/api/missions/{id}/stage"), json!({ "stage": "spec" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let push = ws.next_publication(Duration::from_secs(15)).await.expect("publication through Redis");
    assert_eq!(push["push"]["pub"]["data"]["data"]["to"], "spec");
    assert_eq!(push["push"]["pub"]["offset"], 2);

    // Exactly one node dispatched: the lease holder published everything (its
    // counter moves just after the publish, so wait for it).
    let (pa, pb) = eventually("publish counters", Duration::from_secs(10), || async {
        let metrics_a = client().get(a.url("/metrics")).send().await.ok()?.text().await.ok()?;
        let metrics_b = client().get(b.url("/metrics")).send().await.ok()?.text().await.ok()?;
        let (pa, pb) = (published(&metrics_a), published(&metrics_b));
        (pa + pb >= 2.0).then_some((pa, pb))
    })
    .await;
    assert!(pa == 0.0 || pb == 0.0, "one dispatcher: a published {pa}, b published {pb}");
    a.stop().await;
    b.stop().await;
}

async fn presence_stats(ws: &mut Ws, channel: &str) -> (u64, u64) {
    let reply = ws.command("presence_stats", json!({ "channel": channel })).await;
    let stats = &reply["presence_stats"];
    (stats["num_clients"].as_u64().unwrap_or(0), stats["num_users"].as_u64().unwrap_or(0))
}

/// The next join or leave push, skipping anything else.
async fn next_join_or_leave(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let push = ws.next_push(Duration::from_secs(10)).await.unwrap_or_else(|| panic!("a {kind} push"));
        if push["push"][kind].is_object() {
            return push;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_join_and_leave_are_cluster_wide() {
    let Some((a, b)) = two_nodes(|_| {}).await else { return };
    let ada = a.user("ada", "acme", Role::Member).await;
    let bo = b.user("bo", "acme", Role::Member).await;
    let channel = format!("workspace:{}", ada.workspace_id);

    let (mut on_a, _) = Ws::connect(&a, &ada).await;
    let reply = on_a.command("subscribe", json!({ "channel": channel, "join_leave": true })).await;
    assert!(reply["subscribe"].is_object(), "{reply}");
    let (mut on_b, _) = Ws::connect(&b, &bo).await;
    let reply = on_b.command("subscribe", json!({ "channel": channel })).await;
    assert!(reply["subscribe"].is_object(), "{reply}");

    // Ada, on node A, is told that Bo joined on node B.
    let join = next_join_or_leave(&mut on_a, "join").await;
    assert_eq!(join["push"]["channel"], channel.as_str());
    assert_eq!(join["push"]["join"]["info"]["user"], bo.id.as_str());

    // Either node counts both, and the REST summary lists both people.
    assert_eq!(presence_stats(&mut on_a, &channel).await, (2, 2));
    assert_eq!(presence_stats(&mut on_b, &channel).await, (2, 2));
    let reply = on_b.command("presence", json!({ "channel": channel })).await;
    assert_eq!(reply["presence"]["presence"].as_object().map(|p| p.len()), Some(2), "{reply}");
    let (status, body) = get(&a, &ada, &format!("/api/presence?workspaceId={}", ada.workspace_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut online: Vec<&str> = body["items"][0]["people"]["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    online.sort_unstable();
    let mut expected = vec![ada.id.as_str(), bo.id.as_str()];
    expected.sort_unstable();
    assert_eq!(online, expected, "{body}");

    // Bo leaves: Ada hears it, and the count drops on both nodes at once.
    let reply = on_b.command("unsubscribe", json!({ "channel": channel })).await;
    assert!(reply["unsubscribe"].is_object(), "{reply}");
    let leave = next_join_or_leave(&mut on_a, "leave").await;
    assert_eq!(leave["push"]["leave"]["info"]["user"], bo.id.as_str());
    assert_eq!(presence_stats(&mut on_a, &channel).await, (1, 1));

    // A node that stops cleanly takes its entries with it (no wait for the TTL).
    let reply = on_b.command("subscribe", json!({ "channel": channel })).await;
    assert!(reply["subscribe"].is_object(), "{reply}");
    next_join_or_leave(&mut on_a, "join").await;
    assert_eq!(presence_stats(&mut on_a, &channel).await, (2, 2));
    b.stop().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while presence_stats(&mut on_a, &channel).await != (1, 1) {
        assert!(tokio::time::Instant::now() < deadline, "node B's entries were not removed on shutdown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
}

/// A TCP forwarder to PostgreSQL that plays a restart: `stop` cuts every
/// connection it carries and refuses new ones until `start`, as a server
/// going down for maintenance and coming back does.
struct RestartingDatabase {
    addr: std::net::SocketAddr,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pipes: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl RestartingDatabase {
    async fn forward_to(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pipes: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Default::default();
        let (is_down, carried) = (down.clone(), pipes.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    continue; // dropped: refused, as a database that is not up
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                let pipe = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                carried.lock().unwrap_or_else(|p| p.into_inner()).push(pipe);
            }
        });
        Self { addr, down, pipes }
    }

    fn stop(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            pipe.abort();
        }
    }

    fn start(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One write attempt during the drill.
struct Attempt {
    status: StatusCode,
    retry_after: bool,
    elapsed: Duration,
    id: Option<String>,
}

/// PostgreSQL restarting under writes: requests get 503 with `Retry-After`
/// (never a hang, never a 500), no write that was acknowledged is lost, the
/// pool reconnects by itself once the database is back, and the dispatcher
/// publishes what was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_answers_503_loses_no_acknowledged_write_and_recovers() {
    let Some((database, _, _)) = cluster_settings().await else {
        eprintln!("SOLO_TEST_POSTGRES_URL is not set: the PostgreSQL restart drill does not run");
        return;
    };
    let mut url = reqwest::Url::parse(&database).expect("database URL");
    let upstream = format!("{}:{}", url.host_str().expect("host"), url.port().unwrap_or(5432));
    let proxy = RestartingDatabase::forward_to(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(proxy.addr.port())).expect("port");
    let via_proxy = url.to_string();
    let server = TestServer::start_built(move |s| s.database_url = Some(via_proxy)).await;
    let ada = server.user("ada", "acme", Role::Member).await;

    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (base, pat, writing) = (server.url("/api/missions"), ada.pat.clone(), writing.clone());
        tokio::spawn(async move {
            // A client that would notice a hang: no request may take this long.
            let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
            let mut attempts = Vec::new();
            let mut n = 0;
            while writing.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let started = std::time::Instant::now();
                let response = http
                    .post(&base)
                    .bearer_auth(&pat)
                    .json(&json!({ "title": format!("write {n}") }))
                    .send()
                    .await
                    .expect("every request is answered (no hang)");
                let status = response.status();
                let retry_after = response.headers().contains_key("retry-after");
                let body: Value = response.json().await.unwrap_or(Value::Null);
                attempts.push(Attempt {
                    status,
                    retry_after,
                    elapsed: started.elapsed(),
                    id: body["id"].as_str().map(str::to_owned),
                });
                if !status.is_success() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            attempts
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.start();
    let back = std::time::Instant::now();
    eventually("a write after PostgreSQL is back", Duration::from_secs(20), || async {
        let (status, _) = post(&server, &ada, "/api/missions", json!({ "title": "after" })).await;
        status.is_success().then_some(())
    })
    .await;
    let recovered_in = back.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    writing.store(false, std::sync::atomic::Ordering::SeqCst);
    let attempts = writer.await.expect("writer");

    let refused: Vec<&Attempt> = attempts.iter().filter(|a| !a.status.is_success()).collect();
    assert!(!refused.is_empty(), "the outage was felt by some writes");
    for attempt in &refused {
        assert_eq!(attempt.status, StatusCode::SERVICE_UNAVAILABLE, "a refused write is a 503");
        assert!(attempt.retry_after, "a 503 says when to retry");
    }
    let slowest = attempts.iter().map(|a| a.elapsed).max().unwrap_or_default();
    let acknowledged: Vec<&str> = attempts.iter().filter_map(|a| a.id.as_deref()).collect();
    assert!(acknowledged.len() > refused.len() / 10, "writes succeeded around the outage");

    // Every acknowledged write is there, and the outbox drains: every event
    // committed (missions created, the one after included) gets published.
    let listed: Value = client()
        .get(server.url("/api/missions?limit=500"))
        .bearer_auth(&ada.pat)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let present: std::collections::HashSet<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|m| m["id"].as_str()).collect();
    for id in &acknowledged {
        assert!(present.contains(id), "acknowledged mission {id} is in the database");
    }
    let created = present.len() as f64;
    eventually("the dispatcher publishes what was committed", Duration::from_secs(20), || async {
        let text = client().get(server.url("/metrics")).send().await.ok()?.text().await.ok()?;
        (published(&text) >= created).then_some(())
    })
    .await;
    eprintln!(
        "PostgreSQL restart: {} writes acknowledged, {} refused with 503, slowest answer {slowest:?}, \
         writes again {recovered_in:?} after the database came back",
        acknowledged.len(),
        refused.len()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_through_two_nodes_leave_one_superseded_notification() {
    let Some((a, b)) = two_nodes(|_| {}).await else { return };
    let ada = a.user("ada", "acme", Role::Member).await;
    let bo = b.user("bo", "acme", Role::Member).await;
    let cy = b.user("cy", "acme", Role::Member).await;
    let mission = create_mission(&a, &ada, "Contended").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    // bo and cy review it at once, a few times each, through both nodes: every
    // review notifies ada, the owner, and each replaces the one before.
    let path = format!("/api/missions/{id}/reviews");
    let mut writes = Vec::new();
    for round in 0..6 {
        let (node, user) = if round % 2 == 0 { (&a, &bo) } else { (&b, &cy) };
        let decision = if round % 3 == 0 { "approved" } else { "changes_requested" };
        writes.push(post(node, user, &path, json!({ "decision": decision })));
    }
    for (status, body) in futures::future::join_all(writes).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, page) = get(&b, &ada, "/api/notifications").await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one notification for six reviews: {page}");
    assert_eq!(items[0]["updates"], 5);
    assert_eq!(page["unreadCount"], 1);
    let (_, history) =
        get(&a, &ada, &format!("/api/notifications/{}/history", items[0]["id"].as_str().expect("id"))).await;
    let sources = history["items"].as_array().expect("history");
    assert_eq!(sources.len(), 6, "every review, once: {history}");
    assert!(sources.iter().all(|e| e["type"] == "review.decided"));
    let mut ids: Vec<&str> = sources.iter().filter_map(|e| e["id"].as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 6);
}
