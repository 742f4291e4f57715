//! Workspace settings: the workspace's default quiet hours in the lookup of
//! every member's quiet hours, and `config.updated` on the workspace's channel.

use std::time::Duration;

use solo_domain::time::now_ms;
use solo_domain::{Category, Channel, EventEnvelope, QuietHours, Severity, Stage, WorkspaceConfig};
use solo_store::*;

use crate::conformance::{postgres, sqlite, Fixture};

conformance!(workspace_default, the_workspace_default_applies_to_its_members_without_their_own);
conformance!(config_events, a_workspace_settings_change_is_versioned_and_reaches_the_workspace);

async fn user(store: &SqlStore, name: &str) -> User {
    store
        .create_user(NewUser { name: name.into(), display_name: name.into(), password_hash: None })
        .await
        .expect("user")
}

/// Quiet from an hour ago to an hour from now (UTC), whatever the time the test runs.
fn quiet_now() -> QuietHours {
    let minute = (now_ms() / 60_000).rem_euclid(1440);
    let hhmm = |m: i64| format!("{:02}:{:02}", m.rem_euclid(1440) / 60, m.rem_euclid(1440) % 60);
    QuietHours {
        enabled: true,
        start: hhmm(minute - 60),
        end: hhmm(minute + 60),
        timezone: "UTC".into(),
        allow_urgent: false,
    }
}

async fn the_workspace_default_applies_to_its_members_without_their_own(f: Fixture) {
    let acme = f.store.ensure_workspace("acme", "Acme").await.expect("acme");
    let globex = f.store.ensure_workspace("globex", "Globex").await.expect("globex");
    let (ada, bo, cy, dee, eve) = (
        user(&f.store, "ada").await,
        user(&f.store, "bo").await,
        user(&f.store, "cy").await,
        user(&f.store, "dee").await,
        user(&f.store, "eve").await,
    );
    for (ws, member, role) in [
        (&acme, &ada, Role::Admin),
        (&acme, &bo, Role::Member),
        (&acme, &cy, Role::Member),
        (&acme, &eve, Role::Member),
    ] {
        f.store.set_membership(&ws.id, &member.id, role).await.expect("membership");
    }
    // Eve joins Globex after Acme: Acme's default is hers.
    tokio::time::sleep(Duration::from_millis(5)).await;
    for member in [&dee, &eve] {
        f.store.set_membership(&globex.id, &member.id, Role::Member).await.expect("membership");
    }
    let server_default = QuietHours { timezone: "Europe/Paris".into(), ..QuietHours::off() };
    f.store.set_default_quiet_hours(&server_default).await.expect("server default");
    let own = QuietHours { timezone: "Asia/Tokyo".into(), ..QuietHours::off() };
    f.store.update_preferences(&WriteContext::user(cy.id.clone(), ""), &cy.id, &own).await.expect("cy's own");

    let admin = WriteContext::user(ada.id.clone(), "");
    let acme_default = quiet_now();
    let set = WorkspaceConfig { default_quiet_hours: Some(acme_default.clone()) };
    f.store.update_workspace_config(&admin, &acme.id, &set).await.expect("acme default");
    let globex_default = QuietHours { timezone: "America/New_York".into(), ..QuietHours::off() };
    let set = WorkspaceConfig { default_quiet_hours: Some(globex_default.clone()) };
    f.store.update_workspace_config(&admin, &globex.id, &set).await.expect("globex default");

    let store = &f.store;
    assert_eq!(
        store.quiet_hours(&bo.id).await.expect("bo"),
        acme_default,
        "a member without their own gets the workspace's"
    );
    assert_eq!(store.quiet_hours(&cy.id).await.expect("cy"), own, "a member's own setting wins");
    assert_eq!(
        store.quiet_hours(&dee.id).await.expect("dee"),
        globex_default,
        "another workspace's default stays there"
    );
    assert_eq!(
        store.quiet_hours(&eve.id).await.expect("eve"),
        acme_default,
        "several workspaces: the one joined first"
    );

    // The same lookup inside a notification write, for many recipients at once.
    let mission = f
        .store
        .create_mission(
            &admin,
            NewMission {
                workspace_id: acme.id.clone(),
                title: "Quiet".into(),
                owner_id: ada.id.clone(),
                watchers: vec![bo.id.clone(), cy.id.clone(), eve.id.clone()],
            },
        )
        .await
        .expect("mission");
    f.store.change_stage(&admin, &mission.id, Stage::Spec, None).await.expect("stage");
    let filter = NotificationFilter { limit: 10, ..NotificationFilter::default() };
    for (member, expected) in [(&bo, true), (&cy, false), (&eve, true)] {
        let inbox = f.store.notifications(&member.id, &filter).await.expect("inbox");
        let quiet: Vec<bool> = inbox.iter().map(|n| n.quiet).collect();
        assert_eq!(quiet, vec![expected], "{}: quiet by the workspace default only without their own", member.name);
    }
    let direct = NewNotification {
        user_id: dee.id.clone(),
        category: Category::System,
        title: "Hello".into(),
        body: None,
        link: None,
        severity: Severity::Info,
        created_by: dee.id.clone(),
        idempotency: None,
    };
    let (to_dee, _) = f.store.create_notification(&admin, direct).await.expect("direct");
    assert!(!to_dee.quiet, "Acme's default does not reach a member of Globex alone");

    // Unset: back to the server default.
    f.store.update_workspace_config(&admin, &acme.id, &WorkspaceConfig::default()).await.expect("unset");
    assert_eq!(store.quiet_hours(&bo.id).await.expect("bo"), server_default);
    assert_eq!(store.quiet_hours(&eve.id).await.expect("eve"), globex_default, "then the next workspace that sets one");
}

async fn a_workspace_settings_change_is_versioned_and_reaches_the_workspace(f: Fixture) {
    let acme = f.store.ensure_workspace("acme", "Acme").await.expect("acme");
    let ada = user(&f.store, "ada").await;
    f.store.set_membership(&acme.id, &ada.id, Role::Admin).await.expect("membership");
    let (config, version) = f.store.workspace_config(&acme.id).await.expect("read");
    assert_eq!((config, version), (WorkspaceConfig::default(), 0), "never set");

    let ctx = WriteContext::user(ada.id.clone(), "");
    let set = WorkspaceConfig { default_quiet_hours: Some(QuietHours { enabled: true, ..QuietHours::off() }) };
    assert_eq!(f.store.update_workspace_config(&ctx, &acme.id, &set).await.expect("set"), 1);
    assert_eq!(f.store.workspace_config(&acme.id).await.expect("read"), (set.clone(), 1));
    let unset = WorkspaceConfig::default();
    assert_eq!(f.store.update_workspace_config(&ctx, &acme.id, &unset).await.expect("unset"), 2);
    assert_eq!(f.store.workspace_config(&acme.id).await.expect("read"), (unset, 2));

    let history = f.store.channel_history(&Channel::Workspace(acme.id.clone()), 0, 10).await.expect("history");
    let events: Vec<EventEnvelope> =
        history.iter().map(|h| serde_json::from_str(&h.envelope).expect("envelope")).collect();
    let seen: Vec<(u64, &str, i64)> =
        history.iter().zip(&events).map(|(h, e)| (h.offset, e.payload.type_name(), e.version)).collect();
    assert_eq!(seen, vec![(1, "config.updated", 1), (2, "config.updated", 2)]);
    assert_eq!(events[0].subject.id, acme.id.to_string());
    let data = serde_json::to_value(&events[0]).expect("json")["data"].clone();
    assert_eq!(data["config"]["defaultQuietHours"]["enabled"], true, "the whole document travels");
    let data = serde_json::to_value(&events[1]).expect("json")["data"].clone();
    assert!(data["config"]["defaultQuietHours"].is_null());
}
