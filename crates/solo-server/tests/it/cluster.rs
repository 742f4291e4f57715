//! Cluster mode: nodes sharing PostgreSQL and Redis. Runs when
//! `SOLO_TEST_POSTGRES_URL` and `SOLO_TEST_REDIS_URL` are set (scripts/test sets both).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use solo_store::Role;

use crate::support::*;
use crate::ws::Ws;

/// A fresh PostgreSQL schema and cluster name, or None when not configured.
async fn cluster_settings() -> Option<(String, String, String)> {
    let pg = std::env::var("SOLO_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    let redis = std::env::var("SOLO_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_node_reaches_a_client_of_another_and_is_published_once() {
    let Some((database, bus, cluster)) = cluster_settings().await else {
        eprintln!("SOLO_TEST_POSTGRES_URL or SOLO_TEST_REDIS_URL is not set: cluster mode not checked");
        return;
    };
    let node = |database: String, bus: String, cluster: String| {
        move |s: &mut solo_server::settings::Settings| {
            s.database_url = Some(database);
            s.bus_url = Some(bus);
            s.cluster_name = cluster;
        }
    };
    let a = TestServer::start_built(node(database.clone(), bus.clone(), cluster.clone())).await;
    let b = TestServer::start_built(node(database, bus, cluster)).await;
    let ada = a.user("ada", "acme", Role::Member).await;
    let bo = b.user("bo", "acme", Role::Member).await;

    for server in [&a, &b] {
        let ready = eventually("ready", Duration::from_secs(10), || async {
            let r = client().get(server.url("/readyz")).send().await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        });
        ready.await;
    }
    let mission = create_mission(&a, &ada, "Across nodes").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    let (mut ws, _) = Ws::connect(&a, &ada).await;
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
