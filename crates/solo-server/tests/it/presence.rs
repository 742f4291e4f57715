//! Workstation presence from heartbeats: online, then degraded, then offline,
//! each transition emitted once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use solo_store::Role;

use crate::support::*;

#[tokio::test]
async fn a_silent_workstation_turns_degraded_then_offline_once_each() {
    let server = TestServer::start_with(
        |s| {
            s.heartbeat_interval_secs = 1;
            s.sweep_interval_ms = 100;
        },
        std::sync::Arc::new(solo_server::bus::InProcessBus::new()),
    )
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let bo = server.user("bo", "acme", Role::Member).await;
    let (_, station) = post(&server, &ada, "/api/workstations", json!({ "name": "rig" })).await;
    let id = station["id"].as_str().expect("id").to_owned();
    assert_eq!(station["status"], "offline");

    let beat = json!({ "agents": [{ "id": "a1", "name": "Coder", "status": "working" }] });
    let (status, body) = post(&server, &bo, &format!("/api/workstations/{id}/heartbeat"), beat.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner heartbeats: {body}");
    let (status, body) = post(&server, &ada, &format!("/api/workstations/{id}/heartbeat"), beat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "online");
    assert_eq!(body["agents"][0]["status"], "working");

    let (_, summary) = get(&server, &ada, "/api/presence").await;
    assert_eq!(summary["items"][0]["workstations"]["online"], 1);
    assert_eq!(summary["items"][0]["agents"]["working"], 1);

    eventually("offline", Duration::from_secs(15), || async {
        let (_, ws) = get(&server, &ada, &format!("/api/workstations/{id}")).await;
        (ws["status"] == "offline").then_some(())
    })
    .await;
    let (_, page) = get(&server, &ada, &format!("/api/events?channel=workstation:{id}")).await;
    let transitions: Vec<(String, String)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["event"]["type"] == "workstation.status_changed")
        .map(|i| {
            (
                i["event"]["data"]["from"].as_str().expect("from").to_owned(),
                i["event"]["data"]["to"].as_str().expect("to").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [("offline", "online"), ("online", "degraded"), ("degraded", "offline")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(transitions, expected);
    let agent_events = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["event"]["type"] == "agent.status_changed")
        .count();
    assert_eq!(agent_events, 1);

    // A heartbeat brings it back online.
    let (_, body) = post(&server, &ada, &format!("/api/workstations/{id}/heartbeat"), json!({ "agents": [] })).await;
    assert_eq!(body["status"], "online");
    server.stop().await;
}

#[tokio::test]
async fn heartbeats_validate_their_agents() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (_, station) = post(&server, &ada, "/api/workstations", json!({ "name": "rig" })).await;
    let path = format!("/api/workstations/{}/heartbeat", station["id"].as_str().expect("id"));
    for agents in [
        json!([{ "id": "", "name": "x", "status": "idle" }]),
        json!([{ "id": "a b", "name": "x", "status": "idle" }]),
        json!([{ "id": "a", "name": "x", "status": "sleeping" }]),
        json!([{ "id": "a", "name": "x", "status": "idle" }, { "id": "a", "name": "y", "status": "idle" }]),
        json!([{ "id": "a", "name": "x", "status": "idle", "missionId": "m_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f" }]),
    ] {
        let (status, body) = post(&server, &ada, &path, json!({ "agents": agents })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{agents}: {body}");
    }
    server.stop().await;
}

/// Retention: heartbeat events leave the event log after
/// `heartbeat_events_max_age_secs`, sooner than the workstation's other events,
/// trimmed by the server's own retention task, which repeats its passes until
/// nothing past the limits is left.
#[tokio::test]
async fn heartbeat_events_leave_the_log_sooner_than_status_changes() {
    let server = TestServer::start_built(|s| {
        s.history_max_age_secs = 1;
        s.heartbeat_events_max_age_secs = 1;
        s.retention_interval_secs = 1;
    })
    .await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (_, station) = post(&server, &ada, "/api/workstations", json!({ "name": "rig" })).await;
    let id = station["id"].as_str().expect("id").to_owned();
    for _ in 0..5 {
        let (status, body) =
            post(&server, &ada, &format!("/api/workstations/{id}/heartbeat"), json!({ "agents": [] })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let types = || async {
        let events = server.store().events_of_subject("workstation", &id, 100).await.expect("events");
        let mut types: Vec<String> = events.iter().map(|e| e.payload.type_name().to_owned()).collect();
        types.sort();
        types
    };
    assert_eq!(types().await.iter().filter(|t| *t == "workstation.heartbeat").count(), 5);
    let kept = eventually("heartbeat events trimmed", Duration::from_secs(20), || async {
        let now = types().await;
        (!now.iter().any(|t| t == "workstation.heartbeat")).then_some(now)
    })
    .await;
    assert_eq!(kept, ["workstation.created", "workstation.status_changed"], "the changes stay");
    server.stop().await;
}

/// One call trims at most `batch` rows of each kind; calling again while rows
/// were removed empties what is past the limits (the retention task's loop).
#[tokio::test]
async fn trimming_in_small_batches_catches_up_pass_by_pass() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Member).await;
    let (_, station) = post(&server, &ada, "/api/workstations", json!({ "name": "rig" })).await;
    let id = station["id"].as_str().expect("id").to_owned();
    for _ in 0..7 {
        post(&server, &ada, &format!("/api/workstations/{id}/heartbeat"), json!({ "agents": [] })).await;
    }
    let heartbeats = || async {
        let events = server.store().events_of_subject("workstation", &id, 100).await.expect("events");
        events.iter().filter(|e| e.payload.type_name() == "workstation.heartbeat").count()
    };
    eventually("published", Duration::from_secs(10), || async {
        (server.store().unpublished_count().await.ok()? == 0).then_some(())
    })
    .await;
    let policy = solo_store::RetentionPolicy {
        channel_max_publications: 10_000,
        channel_max_age_ms: 0,
        events_max_age_ms: i64::MAX / 4,
        heartbeat_events_max_age_ms: 0,
        notifications_read_max_age_ms: i64::MAX / 4,
        batch: 2,
    };
    let later = solo_domain::time::now_ms() + 1_000;
    let mut passes = 0;
    while server.store().trim_history(policy, later).await.expect("trim") > 0 {
        passes += 1;
        assert!(passes < 20, "trimming never caught up");
    }
    assert_eq!(heartbeats().await, 0);
    assert!(passes >= 4, "7 heartbeat events and their history, 2 per statement: {passes} passes");
    server.stop().await;
}
