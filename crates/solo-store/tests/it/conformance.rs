use solo_domain::event::AgentState;
use solo_domain::{AgentStatus, Channel, Stage, WorkstationStatus};
use solo_store::sql::SqlOptions;
use solo_store::*;

struct Fixture {
    store: SqlStore,
    _dir: tempfile::TempDir,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("solo.db").display());
    let store = SqlStore::connect(&url, &SqlOptions::default()).await.expect("connect");
    Fixture { store, _dir: dir }
}

async fn member(store: &SqlStore, name: &str) -> (User, Workspace) {
    let ws = store.ensure_workspace("acme", "Acme").await.expect("workspace");
    let user = store
        .create_user(NewUser { name: name.into(), display_name: name.into(), password_hash: None })
        .await
        .expect("user");
    store.set_membership(&ws.id, &user.id, Role::Member).await.expect("membership");
    (user, ws)
}

#[tokio::test]
async fn mission_changes_write_events_with_gapless_offsets() {
    let f = sqlite().await;
    let (user, ws) = member(&f.store, "ada").await;
    let ctx = WriteContext::user(user.id.clone(), "");
    let mission = f
        .store
        .create_mission(
            &ctx,
            NewMission {
                workspace_id: ws.id.clone(),
                title: "Ship".into(),
                owner_id: user.id.clone(),
                watchers: vec![],
            },
        )
        .await
        .expect("create");
    let moved = f.store.change_stage(&ctx, &mission.id, Stage::Spec, Some(1)).await.expect("stage");
    assert_eq!(moved.version, 2);
    let stale = f.store.change_stage(&ctx, &mission.id, Stage::Build, Some(1)).await;
    assert!(matches!(stale, Err(StoreError::VersionMismatch { current: 2, .. })));
    let skip = f.store.change_stage(&ctx, &mission.id, Stage::Done, None).await;
    assert!(matches!(skip, Err(StoreError::InvalidTransition(_))));

    let channel = Channel::Mission(mission.id.clone());
    let history = f.store.channel_history(&channel, 0, 100).await.expect("history");
    assert_eq!(history.iter().map(|h| h.offset).collect::<Vec<_>>(), vec![1, 2]);
    let position = f.store.channel_position(&channel).await.expect("position");
    assert_eq!(position.offset, 2);
    let outbox = f.store.unpublished_events(100).await.expect("outbox");
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[1].event_type, "mission.stage_changed");
    f.store.mark_published(&outbox.iter().map(|e| e.seq).collect::<Vec<_>>(), 1).await.expect("mark");
    assert_eq!(f.store.unpublished_count().await.expect("count"), 0);
}

#[tokio::test]
async fn a_new_channel_keeps_its_epoch() {
    let f = sqlite().await;
    let (user, _) = member(&f.store, "bo").await;
    let channel = Channel::Notifications(user.id.clone());
    let first = f.store.channel_position(&channel).await.expect("position");
    let again = f.store.channel_position(&channel).await.expect("position");
    assert_eq!(first, again);
    assert_eq!(first.offset, 0);
}

#[tokio::test]
async fn heartbeats_and_sweeps_emit_transitions_once() {
    let f = sqlite().await;
    let (user, ws) = member(&f.store, "cy").await;
    let ctx = WriteContext::user(user.id.clone(), "");
    let station = f
        .store
        .create_workstation(
            &ctx,
            NewWorkstation { workspace_id: ws.id.clone(), name: "rig".into(), owner_id: user.id.clone() },
        )
        .await
        .expect("workstation");
    let agents =
        vec![AgentState { id: "a1".into(), name: "Coder".into(), status: AgentStatus::Working, mission_id: None }];
    let beat = f.store.record_heartbeat(&ctx, &station.id, &agents, 1_000).await.expect("heartbeat");
    assert_eq!(beat.status, WorkstationStatus::Online);
    let policy = SweepPolicy { heartbeat_interval_ms: 10_000, degraded_after_missed: 2, offline_after_missed: 3 };
    let system = WriteContext::system("");
    assert!(f.store.sweep_workstations(&system, policy, 15_000).await.expect("sweep").is_empty());
    let degraded = f.store.sweep_workstations(&system, policy, 21_000).await.expect("sweep");
    assert_eq!(degraded.len(), 1);
    assert_eq!(degraded[0].status, WorkstationStatus::Degraded);
    assert!(f.store.sweep_workstations(&system, policy, 22_000).await.expect("sweep").is_empty());
    let offline = f.store.sweep_workstations(&system, policy, 31_000).await.expect("sweep");
    assert_eq!(offline[0].status, WorkstationStatus::Offline);
    let events = f.store.events_of_subject("workstation", station.id.as_str(), 100).await.expect("events");
    let types: Vec<&str> = events.iter().rev().map(|e| e.payload.type_name()).collect();
    assert_eq!(
        types,
        vec![
            "workstation.created",
            "workstation.status_changed",
            "workstation.heartbeat",
            "workstation.status_changed",
            "workstation.status_changed"
        ]
    );
    let versions: Vec<i64> = events.iter().rev().map(|e| e.version).collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);
}
