//! Supersede on both backends: a later event about the same subject replaces
//! the user's unread notification of the same type (the badge counts one, the
//! history keeps what it replaced); a read one is never changed.

use solo_domain::Stage;
use solo_store::*;

use crate::conformance::{member, postgres, sqlite, Fixture};

conformance!(supersede, a_later_event_replaces_an_unread_notification_and_never_a_read_one);

async fn a_later_event_replaces_an_unread_notification_and_never_a_read_one(f: Fixture) {
    let (ada, acme) = member(&f.store, "ada").await;
    let (bo, _) = member(&f.store, "bo").await;
    let by_bo = WriteContext::user(bo.id.clone(), "t");
    let mission = f
        .store
        .create_mission(
            &WriteContext::user(ada.id.clone(), "t"),
            NewMission {
                workspace_id: acme.id.clone(),
                title: "Atlas".into(),
                owner_id: ada.id.clone(),
                watchers: vec![],
            },
        )
        .await
        .expect("mission");
    let inbox = |store: &SqlStore| {
        let filter = NotificationFilter { limit: 10, ..NotificationFilter::default() };
        let store = store.clone();
        let id = ada.id.clone();
        async move { store.notifications(&id, &filter).await.expect("inbox") }
    };

    for stage in [Stage::Spec, Stage::Build, Stage::Review] {
        f.store.change_stage(&by_bo, &mission.id, stage, None).await.expect("stage");
    }
    let items = inbox(&f.store).await;
    assert_eq!(items.len(), 1, "one notification for three stage changes");
    assert_eq!((items[0].title.as_str(), items[0].updates, items[0].version), ("“Atlas” moved to review", 2, 3));
    assert!(items[0].updated_at.is_some());
    assert_eq!(f.store.unread_counts(&ada.id).await.expect("counts").total, 1, "the badge counts one");
    let (subject, sources) =
        f.store.notification_sources(&ada.id, &items[0].id).await.expect("sources").expect("ada's notification");
    assert_eq!(subject.as_deref(), Some(format!("mission:{}", mission.id).as_str()));
    assert_eq!(sources.len(), 3, "the two replaced source events and the current one");
    assert_eq!(sources.last().map(String::as_str), items[0].source_event_id.map(|e| e.to_string()).as_deref());

    // Read: never changed; the next change is a notification of its own.
    f.store.set_read(&WriteContext::user(ada.id.clone(), "t"), &ada.id, &items[0].id, true).await.expect("read");
    f.store.change_stage(&by_bo, &mission.id, Stage::Build, None).await.expect("stage");
    let items = inbox(&f.store).await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[1].title.as_str(), items[1].updates, items[1].read_at.is_some()),
        ("“Atlas” moved to review", 2, true)
    );
    assert_eq!((items[0].title.as_str(), items[0].updates), ("“Atlas” moved to build", 0));
    assert_eq!(f.store.unread_counts(&ada.id).await.expect("counts").total, 1);
}
