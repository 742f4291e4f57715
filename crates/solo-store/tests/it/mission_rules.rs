//! Rules per mission on both backends: kept with the preferences, versioned
//! with them, and honoured when a rule's notifications are created.

use solo_domain::notification::MissionRule;
use solo_domain::Stage;
use solo_store::*;

use crate::conformance::{member, postgres, sqlite, Fixture};

conformance!(mission_rules, a_muted_mission_creates_nothing_for_who_muted_it);

async fn a_muted_mission_creates_nothing_for_who_muted_it(f: Fixture) {
    let (ada, acme) = member(&f.store, "ada").await;
    let (bo, _) = member(&f.store, "bo").await;
    let (cy, _) = member(&f.store, "cy").await;
    let (ada, bo, cy) = (&ada, &bo, &cy);
    let mission = f
        .store
        .create_mission(
            &WriteContext::user(ada.id.clone(), "t"),
            NewMission {
                workspace_id: acme.id.clone(),
                title: "Atlas".into(),
                owner_id: ada.id.clone(),
                watchers: vec![cy.id.clone()],
            },
        )
        .await
        .expect("mission");
    let ctx = WriteContext::user(ada.id.clone(), "t");
    let (version, prefs) =
        f.store.set_mission_rule(&ctx, &ada.id, &mission.id, Some(MissionRule::Mute)).await.expect("mute");
    assert_eq!((version, prefs.quiet_hours_set), (1, false));
    assert_eq!(prefs.mission_rules.get(mission.id.as_str()), Some(&MissionRule::Mute));
    assert_eq!(f.store.notification_preferences(&ada.id).await.expect("prefs").1, prefs.mission_rules);

    f.store.change_stage(&WriteContext::user(bo.id.clone(), "t"), &mission.id, Stage::Spec, None).await.expect("stage");
    let filter = NotificationFilter { limit: 10, ..NotificationFilter::default() };
    assert!(f.store.notifications(&ada.id, &filter).await.expect("ada").is_empty(), "muted, even as the owner");
    assert_eq!(f.store.notifications(&cy.id, &filter).await.expect("cy").len(), 1, "the watcher still hears it");

    let (version, prefs) = f.store.set_mission_rule(&ctx, &ada.id, &mission.id, None).await.expect("unmute");
    assert_eq!((version, prefs.mission_rules.len()), (2, 0));
    f.store
        .change_stage(&WriteContext::user(bo.id.clone(), "t"), &mission.id, Stage::Build, None)
        .await
        .expect("stage");
    assert_eq!(f.store.notifications(&ada.id, &filter).await.expect("ada").len(), 1);
}
