//! The transactional outbox: committed changes are published, retried through a
//! failing bus, never lost, never duplicated; offsets and versions stay ordered.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::*;

#[tokio::test]
async fn stage_changes_survive_a_failing_bus_and_are_delivered_once_it_recovers() {
    let bus = FlakyBus::new();
    let server = TestServer::start_with(|s| s.dispatch_max_backoff_ms = 200, bus.clone()).await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Outbox").await;
    let id = mission["id"].as_str().expect("id").to_owned();
    eventually("mission.created delivered", Duration::from_secs(10), || async {
        (bus.delivered_envelopes().len() == 1).then_some(())
    })
    .await;

    bus.failing.store(true, Ordering::SeqCst);
    let stages = ["spec", "build", "review", "done", "review"];
    for stage in stages {
        let (status, body) = post(&server, &ada, &format!("/api/missions/{id}/stage"), json!({ "stage": stage })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stage"], stage, "the change is committed although the bus is down");
    }
    // The dispatcher keeps retrying while the bus is down; readiness reflects it.
    let before = bus.attempts.load(Ordering::SeqCst);
    eventually("dispatcher retries", Duration::from_secs(10), || async {
        (bus.attempts.load(Ordering::SeqCst) >= before + 3).then_some(())
    })
    .await;
    let ready = client().get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.store().unpublished_count().await.expect("count"), 5);
    assert_eq!(bus.delivered_envelopes().len(), 1, "nothing is delivered while the bus fails");

    bus.failing.store(false, Ordering::SeqCst);
    let delivered = eventually("all events delivered", Duration::from_secs(10), || async {
        let d = bus.delivered_envelopes();
        (d.len() >= 6).then_some(d)
    })
    .await;
    assert_eq!(delivered.len(), 6);
    let ids: HashSet<&str> = delivered.iter().map(|e| e["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 6, "no duplicate event ids");
    let versions: Vec<i64> = delivered.iter().map(|e| e["version"].as_i64().expect("version")).collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6]);
    let delivered_stages: Vec<&str> = delivered[1..].iter().map(|e| e["data"]["to"].as_str().expect("to")).collect();
    assert_eq!(delivered_stages, stages);
    eventually("outbox drained", Duration::from_secs(5), || async {
        (server.store().unpublished_count().await.ok()? == 0).then_some(())
    })
    .await;

    let metrics = client().get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("solo_dispatch_failures_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("dispatch failure metric");
    assert!(failures >= 3.0, "failures are counted: {failures}");
    let ready = client().get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_writers_keep_ids_unique_versions_increasing_and_offsets_gapless() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let shared = create_mission(&server, &ada, "Shared").await;
    let shared_id = shared["id"].as_str().expect("id").to_owned();

    const WRITERS: usize = 8;
    const ROUNDS: usize = 6;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (base, user, shared_id) = (server.base.clone(), ada.clone(), shared_id.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            let own: Value = http
                .post(format!("{base}/api/missions"))
                .bearer_auth(&user.pat)
                .json(&json!({ "title": format!("Writer {w}") }))
                .send()
                .await
                .expect("create")
                .json()
                .await
                .expect("json");
            let own_id = own["id"].as_str().expect("id").to_owned();
            for round in 0..ROUNDS {
                let stage = if round % 2 == 0 { "spec" } else { "backlog" };
                let r = http
                    .post(format!("{base}/api/missions/{own_id}/stage"))
                    .bearer_auth(&user.pat)
                    .json(&json!({ "stage": stage }))
                    .send()
                    .await
                    .expect("stage");
                assert_eq!(r.status(), StatusCode::OK);
                // Every writer also reviews the shared mission: contended versions.
                let r = http
                    .post(format!("{base}/api/missions/{shared_id}/reviews"))
                    .bearer_auth(&user.pat)
                    .json(&json!({ "decision": "approved", "comment": format!("w{w} r{round}") }))
                    .send()
                    .await
                    .expect("review");
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }

    // The workspace feed carries every mission event: read it all back over HTTP.
    let channel = format!("workspace:{}", ada.workspace_id);
    let (status, page) = get(&server, &ada, &format!("/api/events?channel={channel}&limit=1000")).await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().expect("items");
    let expected = 1 + WRITERS * (1 + 2 * ROUNDS);
    assert_eq!(items.len(), expected);
    let offsets: Vec<u64> = items.iter().map(|i| i["offset"].as_u64().expect("offset")).collect();
    assert_eq!(offsets, (1..=expected as u64).collect::<Vec<_>>(), "offsets are gapless");
    let ids: HashSet<&str> = items.iter().map(|i| i["event"]["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), expected, "event ids are unique");
    let mut last_version: HashMap<&str, i64> = HashMap::new();
    for item in items {
        let subject = item["event"]["subject"]["id"].as_str().expect("subject");
        let version = item["event"]["version"].as_i64().expect("version");
        let previous = last_version.insert(subject, version).unwrap_or(0);
        assert_eq!(version, previous + 1, "versions of {subject} increase by one in offset order");
    }
    assert_eq!(last_version[shared_id.as_str()], 1 + (WRITERS * ROUNDS) as i64);
    server.stop().await;
}

#[tokio::test]
async fn events_carry_the_request_trace_id() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = client()
        .post(server.url("/api/missions"))
        .bearer_auth(&ada.pat)
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&json!({ "title": "Traced" }))
        .send()
        .await
        .expect("create");
    assert_eq!(response.headers()["x-trace-id"], trace);
    let mission: Value = response.json().await.expect("json");
    let (_, page) =
        get(&server, &ada, &format!("/api/events?channel=mission:{}", mission["id"].as_str().expect("id"))).await;
    assert_eq!(page["items"][0]["event"]["traceId"], trace);
    assert_eq!(page["items"][0]["event"]["type"], "mission.created");
    server.stop().await;
}

#[tokio::test]
async fn events_endpoint_pages_and_signals_a_reset_for_a_stale_epoch() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let mission = create_mission(&server, &ada, "Paged").await;
    let id = mission["id"].as_str().expect("id");
    for stage in ["spec", "build", "review"] {
        post(&server, &ada, &format!("/api/missions/{id}/stage"), json!({ "stage": stage })).await;
    }
    let path = format!("/api/events?channel=mission:{id}&since=1&limit=2");
    let (_, page) = get(&server, &ada, &path).await;
    let offsets: Vec<u64> =
        page["items"].as_array().expect("items").iter().map(|i| i["offset"].as_u64().expect("o")).collect();
    assert_eq!(offsets, vec![2, 3]);
    assert_eq!(page["nextSince"], 3);
    assert_eq!(page["offset"], 4);
    assert_eq!(page["reset"], false);
    let (_, stale) = get(&server, &ada, &format!("/api/events?channel=mission:{id}&since=3&epoch=deadbeef")).await;
    assert_eq!(stale["reset"], true, "a foreign epoch means the client must reload");
    server.stop().await;
}
