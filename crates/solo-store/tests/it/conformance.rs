use solo_domain::event::AgentState;
use solo_domain::{AgentStatus, Channel, EventEnvelope, QuietHours, Stage, WorkstationStatus};
use solo_store::sql::SqlOptions;
use solo_store::*;

pub(crate) struct Fixture {
    pub(crate) store: SqlStore,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("solo.db").display());
    let store = SqlStore::connect(&url, &SqlOptions::default()).await.expect("connect");
    Fixture { store, _dir: Some(dir) }
}

/// A fresh schema's name. `scripts/test` sets `SOLO_TEST_SCHEMA_PREFIX` for
/// its run and drops every schema with that prefix when it ends.
fn schema_name() -> String {
    let prefix = std::env::var("SOLO_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "t_".into());
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A store on PostgreSQL in a schema of its own, when `SOLO_TEST_POSTGRES_URL` is set.
pub(crate) async fn postgres() -> Option<Fixture> {
    let base = std::env::var("SOLO_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    let schema = schema_name();
    {
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let mut admin = sqlx::AnyConnection::connect(&base).await.expect("connect to PostgreSQL");
        admin.execute(format!("CREATE SCHEMA {schema}").as_str()).await.expect("create schema");
        admin.close().await.expect("close");
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let store = SqlStore::connect(&url, &SqlOptions::default()).await.expect("connect");
    Some(Fixture { store, _dir: None })
}

/// Runs a conformance check on SQLite, and on PostgreSQL when configured
/// (the module that uses it imports `sqlite` and `postgres`).
macro_rules! conformance {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$check(super::sqlite().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                match super::postgres().await {
                    Some(fixture) => super::$check(fixture).await,
                    None => eprintln!("SOLO_TEST_POSTGRES_URL is not set: PostgreSQL not checked"),
                }
            }
        }
    };
}

conformance!(mission_events, mission_changes_write_events_with_gapless_offsets);
conformance!(channel_epochs, a_new_channel_keeps_its_epoch);
conformance!(presence_sweep, heartbeats_and_sweeps_emit_transitions_once);
conformance!(notification_rules, notifications_follow_rules_and_counts_stay_true);
conformance!(unread_counts, unread_counts_kept_on_the_inbox_match_a_recount);
conformance!(leases, one_holder_per_lease_until_it_expires);
conformance!(concurrent_writers, concurrent_writers_share_channels_and_inboxes_without_gaps);
conformance!(watcher_fan_out, a_stage_change_notifies_every_watcher_once_in_one_transaction);
conformance!(preferences, a_preferences_change_is_versioned_and_reaches_the_users_channel);
conformance!(mission_pages, missions_page_newest_first_by_cursor);

pub(crate) async fn member(store: &SqlStore, name: &str) -> (User, Workspace) {
    let ws = store.ensure_workspace("acme", "Acme").await.expect("workspace");
    let user = store
        .create_user(NewUser { name: name.into(), display_name: name.into(), password_hash: None })
        .await
        .expect("user");
    store.set_membership(&ws.id, &user.id, Role::Member).await.expect("membership");
    (user, ws)
}

async fn mission_changes_write_events_with_gapless_offsets(f: Fixture) {
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
    let outbox = f.store.unpublished_events(100, 0).await.expect("outbox");
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[1].event_type, "mission.stage_changed");
    // Only what comes after a given seq.
    let after_first = f.store.unpublished_events(100, outbox[0].seq).await.expect("outbox");
    assert_eq!(after_first.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![outbox[1].seq]);
    f.store.mark_published(&outbox.iter().map(|e| e.seq).collect::<Vec<_>>(), 1).await.expect("mark");
    assert_eq!(f.store.unpublished_count().await.expect("count"), 0);

    // Marking through a seq marks every unpublished event up to it, and no later one.
    f.store.change_stage(&ctx, &mission.id, Stage::Build, None).await.expect("stage");
    f.store.change_stage(&ctx, &mission.id, Stage::Review, None).await.expect("stage");
    let outbox = f.store.unpublished_events(100, 0).await.expect("outbox");
    assert_eq!(outbox.len(), 2);
    f.store.mark_published_through(outbox[0].seq, 2).await.expect("mark through");
    let left = f.store.unpublished_events(100, 0).await.expect("outbox");
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![outbox[1].seq]);
}

async fn a_new_channel_keeps_its_epoch(f: Fixture) {
    let (user, _) = member(&f.store, "bo").await;
    let channel = Channel::Notifications(user.id.clone());
    let first = f.store.channel_position(&channel).await.expect("position");
    let again = f.store.channel_position(&channel).await.expect("position");
    assert_eq!(first, again);
    assert_eq!(first.offset, 0);
}

async fn heartbeats_and_sweeps_emit_transitions_once(f: Fixture) {
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

async fn notifications_follow_rules_and_counts_stay_true(f: Fixture) {
    let (owner, ws) = member(&f.store, "owner").await;
    let other = f
        .store
        .create_user(NewUser { name: "other".into(), display_name: "Other".into(), password_hash: None })
        .await
        .expect("user");
    f.store.set_membership(&ws.id, &other.id, Role::Member).await.expect("membership");
    let mission = f
        .store
        .create_mission(
            &WriteContext::user(owner.id.clone(), ""),
            NewMission {
                workspace_id: ws.id.clone(),
                title: "Rules".into(),
                owner_id: owner.id.clone(),
                watchers: vec![],
            },
        )
        .await
        .expect("create");
    f.store
        .change_stage(&WriteContext::user(other.id.clone(), ""), &mission.id, Stage::Spec, None)
        .await
        .expect("stage");
    let filter = NotificationFilter { limit: 10, ..NotificationFilter::default() };
    let inbox = f.store.notifications(&owner.id, &filter).await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].kind, "mission.stage_changed");
    assert!(f.store.notifications(&other.id, &filter).await.expect("inbox").is_empty(), "the actor is not notified");
    let counts = f.store.unread_counts(&owner.id).await.expect("counts");
    assert_eq!((counts.total, counts.by_category.missions, counts.counts_version), (1, 1, 1));
    let read =
        f.store.set_read(&WriteContext::user(owner.id.clone(), ""), &owner.id, &inbox[0].id, true).await.expect("read");
    assert!(read.read_at.is_some());
    let counts = f.store.unread_counts(&owner.id).await.expect("counts");
    assert_eq!((counts.total, counts.counts_version), (0, 2));
    // Direct creation is idempotent per creator and key.
    let new = NewNotification {
        user_id: owner.id.clone(),
        category: solo_domain::Category::System,
        title: "Hello".into(),
        body: None,
        link: None,
        severity: solo_domain::Severity::Info,
        created_by: owner.id.clone(),
        idempotency: Some(("k1".into(), "hash-a".into())),
    };
    let ctx = WriteContext::user(owner.id.clone(), "");
    let (first, created) = f.store.create_notification(&ctx, new.clone()).await.expect("create");
    assert!(created);
    let (again, created) = f.store.create_notification(&ctx, new.clone()).await.expect("replay");
    assert!(!created);
    assert_eq!(first.id, again.id);
    let other_body = NewNotification { idempotency: Some(("k1".into(), "hash-b".into())), ..new };
    assert!(matches!(f.store.create_notification(&ctx, other_body).await, Err(StoreError::IdempotencyMismatch)));
    let (marked, counts) =
        f.store.read_all(&ctx, &owner.id, None, solo_domain::time::now_ms()).await.expect("read all");
    assert_eq!((marked, counts.total), (1, 0));
}

/// The unread counts are kept incrementally on the inbox row; after every kind
/// of change they must equal what counting the inbox gives, and the counts
/// version must grow by one per change.
async fn unread_counts_kept_on_the_inbox_match_a_recount(f: Fixture) {
    use solo_domain::Category;
    let (owner, _) = member(&f.store, "counted").await;
    let ctx = WriteContext::user(owner.id.clone(), "");
    let assert_true = |counts: solo_domain::notification::UnreadCounts, version: i64, step: &'static str| {
        let store = &f.store;
        let owner = &owner;
        async move {
            let mut total = 0;
            for category in Category::ALL {
                let filter = NotificationFilter {
                    category: Some(category),
                    unread_only: true,
                    limit: 1000,
                    ..NotificationFilter::default()
                };
                let unread = store.notifications(&owner.id, &filter).await.expect("inbox").len() as u64;
                let mut kept = counts.by_category.clone();
                assert_eq!(*kept.get_mut(category), unread, "{step}: {category:?}");
                total += unread;
            }
            assert_eq!(counts.total, total, "{step}: total");
            assert_eq!(counts.counts_version, version, "{step}: version");
            assert_eq!(store.unread_counts(&owner.id).await.expect("counts"), counts, "{step}: stored");
        }
    };
    assert_true(f.store.unread_counts(&owner.id).await.expect("counts"), 0, "empty inbox").await;
    let plan = [Category::Missions, Category::Missions, Category::Workstations, Category::Community, Category::System];
    let mut created = Vec::new();
    for (i, category) in plan.into_iter().enumerate() {
        let new = NewNotification {
            user_id: owner.id.clone(),
            category,
            title: format!("n{i}"),
            body: None,
            link: None,
            severity: solo_domain::Severity::Info,
            created_by: owner.id.clone(),
            idempotency: None,
        };
        created.push(f.store.create_notification(&ctx, new).await.expect("create").0);
    }
    let mut version = plan.len() as i64;
    assert_true(f.store.unread_counts(&owner.id).await.expect("counts"), version, "created").await;
    for (read, index, step) in [(true, 0, "read"), (false, 0, "unread again"), (true, 4, "read system")] {
        f.store.set_read(&ctx, &owner.id, &created[index].id, read).await.expect("set read");
        version += 1;
        assert_true(f.store.unread_counts(&owner.id).await.expect("counts"), version, step).await;
    }
    // Asking for the state it is already in changes nothing.
    f.store.set_read(&ctx, &owner.id, &created[4].id, true).await.expect("read twice");
    assert_true(f.store.unread_counts(&owner.id).await.expect("counts"), version, "read twice").await;
    let (marked, counts) =
        f.store.read_all(&ctx, &owner.id, Some(Category::Missions), solo_domain::time::now_ms()).await.expect("all");
    assert_eq!(marked, 2);
    version += 1;
    assert_true(counts, version, "read all missions").await;
    let (marked, counts) = f.store.read_all(&ctx, &owner.id, None, solo_domain::time::now_ms()).await.expect("all");
    assert_eq!(marked, 2);
    version += 1;
    assert_true(counts, version, "read all").await;
}

async fn one_holder_per_lease_until_it_expires(f: Fixture) {
    assert!(f.store.acquire_lease("dispatcher", "node-a", 1_000, 10_000).await.expect("take"));
    assert!(
        !f.store.acquire_lease("dispatcher", "node-b", 1_000, 10_500).await.expect("refuse"),
        "a valid lease is kept"
    );
    assert!(f.store.acquire_lease("dispatcher", "node-a", 1_000, 10_900).await.expect("renew"), "the holder renews");
    assert!(
        !f.store.acquire_lease("dispatcher", "node-b", 1_000, 11_800).await.expect("refuse"),
        "renewed until 11,900"
    );
    assert!(
        f.store.acquire_lease("dispatcher", "node-b", 1_000, 12_000).await.expect("take over"),
        "an expired lease is taken over"
    );
    assert!(!f.store.acquire_lease("dispatcher", "node-a", 1_000, 12_100).await.expect("refuse"));
    f.store.release_lease("dispatcher", "node-a").await.expect("not the holder: no effect");
    assert!(!f.store.acquire_lease("dispatcher", "node-a", 1_000, 12_200).await.expect("refuse"));
    f.store.release_lease("dispatcher", "node-b").await.expect("release");
    assert!(f.store.acquire_lease("dispatcher", "node-a", 1_000, 12_300).await.expect("taken at once"));
}

/// Writers on different missions of one workspace touch the same rows at once:
/// the workspace channel, and the inboxes of the watchers they notify (in a
/// different order per mission). None may deadlock or fail, every channel's
/// offsets stay gapless, and the outbox's order is each channel's offset order.
async fn concurrent_writers_share_channels_and_inboxes_without_gaps(f: Fixture) {
    const WRITERS: usize = 6;
    const CHANGES: usize = 20;
    let store = std::sync::Arc::new(f.store);
    let (ada, ws) = member(&store, "ada").await;
    let (bo, _) = member(&store, "bo").await;
    let (cy, _) = member(&store, "cy").await;
    let mut missions = Vec::new();
    for i in 0..WRITERS {
        let ctx = WriteContext::user(ada.id.clone(), "");
        // Watchers listed in alternating order, so lock order cannot come from the input.
        let watchers = if i % 2 == 0 { vec![bo.id.clone(), cy.id.clone()] } else { vec![cy.id.clone(), bo.id.clone()] };
        let new =
            NewMission { workspace_id: ws.id.clone(), title: format!("M{i}"), owner_id: ada.id.clone(), watchers };
        missions.push(store.create_mission(&ctx, new).await.expect("create"));
    }
    let tasks: Vec<_> = missions
        .iter()
        .map(|mission| {
            let (store, id, actor) = (store.clone(), mission.id.clone(), ada.id.clone());
            tokio::spawn(async move {
                let ctx = WriteContext::user(actor, "");
                for n in 0..CHANGES {
                    let stage = if n % 2 == 0 { Stage::Spec } else { Stage::Backlog };
                    store.change_stage(&ctx, &id, stage, None).await.expect("stage change under contention");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }

    let outbox = store.unpublished_events(100_000, 0).await.expect("outbox");
    let mission_events = outbox.iter().filter(|e| e.event_type.starts_with("mission.")).count();
    assert_eq!(mission_events, WRITERS * (CHANGES + 1), "every change wrote one mission event");
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for event in &outbox {
        for route in &event.routes {
            let last = seen.entry(route.channel.clone()).or_insert(0);
            assert_eq!(
                route.offset,
                *last + 1,
                "{} jumps from {} to {} in outbox order",
                route.channel,
                last,
                route.offset
            );
            *last = route.offset;
        }
    }
    let workspace = Channel::Workspace(ws.id.clone());
    let position = store.channel_position(&workspace).await.expect("position");
    assert_eq!(Some(&position.offset), seen.get(&workspace.to_string()), "the workspace channel saw every change");
    for watcher in [&bo, &cy] {
        let inbox = Channel::Notifications(watcher.id.clone());
        let offset = store.channel_position(&inbox).await.expect("position").offset;
        assert_eq!(Some(&offset), seen.get(&inbox.to_string()), "{} got gapless notifications", watcher.name);
        assert!(offset > 0, "watchers are notified of stage changes");
    }
}

/// A stage change watched by more people than one multi-row statement takes:
/// each watcher gets exactly one notification, with its own counts and the
/// next offset of their inbox channel; a second change supersedes each
/// watcher's unread one (still one notification, `updates` 1, the badge at 1)
/// and keeps each channel gapless.
async fn a_stage_change_notifies_every_watcher_once_in_one_transaction(f: Fixture) {
    let (owner, ws) = member(&f.store, "owner").await;
    let mut watchers = Vec::new();
    for n in 0..150 {
        watchers.push(member(&f.store, &format!("watcher{n:03}")).await.0);
    }
    // One watcher is in quiet hours (an hour before now to two after): theirs arrive quiet.
    let hour = solo_domain::time::now_ms() / 3_600_000 % 24;
    let quiet = QuietHours {
        enabled: true,
        start: format!("{:02}:00", (hour + 23) % 24),
        end: format!("{:02}:00", (hour + 2) % 24),
        timezone: "UTC".into(),
        allow_urgent: true,
    };
    f.store.set_quiet_hours(&watchers[7].id, &quiet).await.expect("quiet hours");
    let mission = f
        .store
        .create_mission(
            &WriteContext::user(owner.id.clone(), ""),
            NewMission {
                workspace_id: ws.id.clone(),
                title: "Watched".into(),
                owner_id: owner.id.clone(),
                watchers: watchers.iter().map(|u| u.id.clone()).collect(),
            },
        )
        .await
        .expect("create");
    let actor = WriteContext::user(owner.id.clone(), "");
    f.store.change_stage(&actor, &mission.id, Stage::Spec, None).await.expect("to spec");
    f.store.change_stage(&actor, &mission.id, Stage::Build, None).await.expect("to build");
    let filter = NotificationFilter { limit: 10, ..NotificationFilter::default() };
    for (n, watcher) in watchers.iter().enumerate() {
        let inbox = f.store.notifications(&watcher.id, &filter).await.expect("inbox");
        assert_eq!(inbox.len(), 1, "watcher {n}: the second change replaced the first, unread");
        assert_eq!((inbox[0].updates, inbox[0].title.as_str()), (1, "“Watched” moved to build"), "watcher {n}");
        assert!(inbox.iter().all(|item| item.kind == "mission.stage_changed"));
        assert_eq!(inbox.iter().all(|item| item.quiet), n == 7, "watcher {n}: quiet only in their quiet hours");
        let counts = f.store.unread_counts(&watcher.id).await.expect("counts");
        assert_eq!((counts.total, counts.by_category.missions, counts.counts_version), (1, 1, 2), "watcher {n}");
        let channel = Channel::Notifications(watcher.id.clone());
        let history = f.store.channel_history(&channel, 0, 10).await.expect("history");
        let offsets: Vec<u64> = history.iter().map(|h| h.offset).collect();
        assert_eq!(offsets, vec![1, 2], "watcher {n}: gapless offsets on their inbox channel");
        let unread: Vec<(String, u64)> = history
            .iter()
            .map(|h| {
                let envelope: serde_json::Value = serde_json::from_str(&h.envelope).expect("envelope");
                let kind = envelope["type"].as_str().unwrap_or("").to_owned();
                (kind, envelope["data"]["unread"]["total"].as_u64().expect("unread in the event"))
            })
            .collect();
        let expected = vec![("notification.created".to_owned(), 1), ("notification.updated".to_owned(), 1)];
        assert_eq!(unread, expected, "watcher {n}: each event carries the counts right after it");
    }
    assert!(f.store.notifications(&owner.id, &filter).await.expect("inbox").is_empty(), "the actor is not notified");
}

async fn a_preferences_change_is_versioned_and_reaches_the_users_channel(f: Fixture) {
    let (ada, _) = member(&f.store, "ada").await;
    let ctx = WriteContext::user(ada.id.clone(), "");
    assert_eq!(f.store.preferences_version(&ada.id).await.expect("version"), 0, "never set");
    let quiet = QuietHours { enabled: true, ..QuietHours::off() };
    assert_eq!(f.store.update_preferences(&ctx, &ada.id, &quiet).await.expect("set"), 1);
    assert_eq!(f.store.update_preferences(&ctx, &ada.id, &QuietHours::off()).await.expect("off"), 2);
    assert_eq!(f.store.preferences_version(&ada.id).await.expect("version"), 2);
    assert_eq!(f.store.quiet_hours(&ada.id).await.expect("read"), QuietHours::off(), "the inbox reads the same key");
    let history = f.store.channel_history(&Channel::Notifications(ada.id.clone()), 0, 10).await.expect("history");
    let events: Vec<EventEnvelope> =
        history.iter().map(|h| serde_json::from_str(&h.envelope).expect("envelope")).collect();
    let seen: Vec<(u64, &str, i64)> =
        history.iter().zip(&events).map(|(h, e)| (h.offset, e.payload.type_name(), e.version)).collect();
    assert_eq!(seen, vec![(1, "preferences.updated", 1), (2, "preferences.updated", 2)]);
    assert_eq!(events[0].subject.id, ada.id.to_string());
}

async fn missions_page_newest_first_by_cursor(f: Fixture) {
    let (ada, ws) = member(&f.store, "ada").await;
    let ctx = WriteContext::user(ada.id.clone(), "");
    for n in 0..5 {
        let new = NewMission {
            workspace_id: ws.id.clone(),
            title: format!("m{n}"),
            owner_id: ada.id.clone(),
            watchers: vec![],
        };
        f.store.create_mission(&ctx, new).await.expect("mission");
    }
    let (mut seen, mut before) = (Vec::new(), None);
    loop {
        let page = f.store.missions_page(std::slice::from_ref(&ws.id), None, before.clone(), 2).await.expect("page");
        seen.extend(page.iter().map(|m| m.title.clone()));
        match page.last() {
            Some(last) if page.len() == 2 => before = Some((last.created_at, last.id.clone())),
            _ => break,
        }
    }
    assert_eq!(seen, vec!["m4", "m3", "m2", "m1", "m0"], "every mission once, newest first");
    let backlog =
        f.store.missions_page(std::slice::from_ref(&ws.id), Some(Stage::Backlog), None, 10).await.expect("filtered");
    assert_eq!(backlog.len(), 5);
}
