//! Snooze and done on both backends: the unread count follows them, and due
//! snoozes are woken once however many wakers run at once (a cluster's nodes).

use solo_domain::notification::NotificationView;
use solo_domain::time::now_ms;
use solo_domain::{Category, NotificationId, QuietHours, Severity, UserId};
use solo_store::*;

use crate::conformance::{postgres, sqlite, Fixture};

conformance!(snooze_and_done, snooze_and_done_follow_the_unread_count);
conformance!(concurrent_wakers, concurrent_wakers_wake_each_due_snooze_once);
conformance!(quiet_digest, a_quiet_window_ends_with_one_digest_of_what_arrived_in_it);

async fn inbox_with(store: &SqlStore, titles: &[&str]) -> (User, Vec<NotificationId>) {
    let user = store
        .create_user(NewUser { name: "ada".into(), display_name: "Ada".into(), password_hash: None })
        .await
        .expect("user");
    let ctx = WriteContext::user(user.id.clone(), "t");
    let mut ids = Vec::new();
    for title in titles {
        let new = NewNotification {
            user_id: user.id.clone(),
            category: Category::System,
            title: (*title).into(),
            body: None,
            link: None,
            severity: Severity::Info,
            created_by: user.id.clone(),
            idempotency: None,
        };
        ids.push(store.create_notification(&ctx, new).await.expect("notification").0.id);
    }
    (user, ids)
}

async fn snooze_and_done_follow_the_unread_count(f: Fixture) {
    let (ada, ids) = inbox_with(&f.store, &["one", "two", "three"]).await;
    let ctx = WriteContext::user(ada.id.clone(), "t");
    let later = now_ms() + 3_600_000;
    f.store.snooze(&ctx, &ada.id, &ids[0], later).await.expect("snooze");
    f.store.set_done(&ctx, &ada.id, &ids[1], true).await.expect("done");
    assert_eq!(f.store.unread_counts(&ada.id).await.expect("counts").total, 1);
    let listed = |state| NotificationFilter { limit: 10, state, ..NotificationFilter::default() };
    let inbox = f.store.notifications(&ada.id, &listed(InboxState::Inbox)).await.expect("inbox");
    assert_eq!(inbox.iter().map(|n| n.title.as_str()).collect::<Vec<_>>(), vec!["three"]);
    let snoozed = f.store.notifications(&ada.id, &listed(InboxState::Snoozed)).await.expect("snoozed");
    assert_eq!(snoozed[0].snoozed_until, Some(later));

    // Snoozing a done one moves it from Done to Snoozed.
    let moved = f.store.snooze(&ctx, &ada.id, &ids[1], later).await.expect("snooze done");
    assert_eq!((moved.done_at, moved.snoozed_until), (None, Some(later)));
    assert!(f.store.notifications(&ada.id, &listed(InboxState::Done)).await.expect("done").is_empty());

    // Not due yet: nothing wakes; woken by hand, back unread.
    assert!(f.store.wake_due(now_ms(), 10).await.expect("wake").is_empty());
    let woken = f.store.wake(&ctx, &ada.id, &ids[0]).await.expect("wake");
    assert_eq!((woken.snoozed_until, woken.read_at), (None, None));
    assert_eq!(f.store.unread_counts(&ada.id).await.expect("counts").total, 2);
    // Waking what is not snoozed changes nothing.
    let again = f.store.wake(&ctx, &ada.id, &ids[0]).await.expect("wake again");
    assert_eq!(again.version, woken.version);
}

async fn concurrent_wakers_wake_each_due_snooze_once(f: Fixture) {
    let titles: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let (ada, ids) = inbox_with(&f.store, &refs).await;
    let ctx = WriteContext::user(ada.id.clone(), "t");
    let soon = now_ms() + 1;
    for id in &ids {
        f.store.snooze(&ctx, &ada.id, id, soon).await.expect("snooze");
    }
    assert_eq!(f.store.unread_counts(&ada.id).await.expect("counts").total, 0);
    let at = soon + 1;
    let (a, b, c) = tokio::join!(f.store.wake_due(at, 100), f.store.wake_due(at, 100), f.store.wake_due(at, 100));
    let mut woken: Vec<String> =
        [a, b, c].into_iter().flat_map(|r| r.expect("wake_due")).map(|n| n.id.to_string()).collect();
    woken.sort();
    let mut expected: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(woken, expected, "each woken exactly once");
    assert_eq!(f.store.unread_counts(&ada.id).await.expect("counts").total, 20);
}

async fn notify(store: &SqlStore, user: &UserId, title: &str, severity: Severity) -> NotificationView {
    let ctx = WriteContext::user(user.clone(), "t");
    let new = NewNotification {
        user_id: user.clone(),
        category: Category::System,
        title: title.into(),
        body: None,
        link: None,
        severity,
        created_by: user.clone(),
        idempotency: None,
    };
    store.create_notification(&ctx, new).await.expect("notification").0
}

/// `HH:MM` (UTC) of `minutes` from now.
fn utc_time_in(minutes: i64) -> String {
    let minute_of_day = (now_ms() / 60_000 + minutes).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

async fn a_quiet_window_ends_with_one_digest_of_what_arrived_in_it(f: Fixture) {
    let user = |name: &str| NewUser { name: name.into(), display_name: name.into(), password_hash: None };
    let ada = f.store.create_user(user("ada")).await.expect("user");
    let bo = f.store.create_user(user("bo")).await.expect("user");
    // Ada's quiet hours are on now (until an hour from now), urgent ones included.
    let quiet = QuietHours {
        enabled: true,
        start: utc_time_in(-60),
        end: utc_time_in(60),
        timezone: "UTC".into(),
        allow_urgent: false,
    };
    f.store.set_quiet_hours(&ada.id, &quiet).await.expect("quiet hours");
    let (_, window_end) = quiet.window_containing(now_ms()).expect("in the window");
    for title in ["deploy done", "agent idle"] {
        assert!(notify(&f.store, &ada.id, title, Severity::Info).await.quiet);
    }
    assert!(notify(&f.store, &ada.id, "prod down", Severity::Urgent).await.quiet);
    assert!(!notify(&f.store, &bo.id, "hello", Severity::Info).await.quiet, "bo has no quiet hours");

    assert!(f.store.send_due_digests(now_ms(), 10).await.expect("digests").is_empty(), "the window has not ended");
    // Every node's worker at once, after the window: one digest.
    let at = window_end + 1;
    let (a, b, c) = tokio::join!(
        f.store.send_due_digests(at, 10),
        f.store.send_due_digests(at, 10),
        f.store.send_due_digests(at, 10)
    );
    let digests: Vec<NotificationView> = [a, b, c].into_iter().flat_map(|r| r.expect("digests")).collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let digest = &digests[0];
    assert_eq!((digest.user_id.as_str(), digest.kind.as_str()), (ada.id.as_str(), "digest"));
    assert_eq!(digest.title, "While your quiet hours were on: 3 notifications");
    assert_eq!(digest.body.as_deref(), Some("Urgent: prod down.\nsystem 3."));
    assert!(!digest.quiet, "the window is over: it pops up");
    assert!(f.store.send_due_digests(at + 60_000, 10).await.expect("digests").is_empty(), "once per window");
    let bos = f.store.notifications(&bo.id, &NotificationFilter { limit: 10, ..NotificationFilter::default() }).await;
    assert_eq!(bos.expect("bo's inbox").len(), 1, "nothing arrived quietly for bo: no digest");
}
