//! Direct notifications of concurrent requests are written in batches, one
//! transaction per batch (`sql/direct_notifications.rs`). Whatever batches
//! form, each request must get what it would have got alone: its own
//! notification, counts as they were right after it, its own trace id; a
//! request that fails fails alone; a repeated idempotency key replays.

use std::sync::Arc;

use solo_domain::notification::NotificationChanged;
use solo_domain::{Category, EventEnvelope, EventPayload, Severity, UserId};
use solo_store::*;

use crate::conformance::{member, postgres, sqlite, Fixture};

conformance!(direct_batches, concurrent_requests_are_answered_as_if_alone_and_a_bad_one_fails_alone);
conformance!(direct_batch_keys, a_key_repeated_by_concurrent_requests_creates_once);

async fn user(store: &SqlStore, name: &str) -> UserId {
    member(store, name).await.0.id
}

fn direct(to: &UserId, by: &UserId, title: String, category: Category) -> NewNotification {
    NewNotification {
        user_id: to.clone(),
        category,
        title,
        body: None,
        link: None,
        severity: Severity::Info,
        created_by: by.clone(),
        idempotency: None,
    }
}

/// The `notification.created` events in the outbox, in commit (seq) order.
async fn created_events(store: &SqlStore) -> Vec<(EventEnvelope, NotificationChanged)> {
    let outbox = store.unpublished_events(100_000, 0).await.expect("outbox");
    outbox
        .iter()
        .filter(|e| e.event_type == "notification.created")
        .map(|e| {
            let envelope: EventEnvelope = serde_json::from_str(&e.envelope).expect("envelope");
            let EventPayload::NotificationCreated(change) = envelope.payload.clone() else { panic!("payload") };
            (envelope, change)
        })
        .collect()
}

async fn concurrent_requests_are_answered_as_if_alone_and_a_bad_one_fails_alone(f: Fixture) {
    const REQUESTS: usize = 120;
    let store = Arc::new(f.store);
    let ada = user(&store, "ada").await;
    let bo = user(&store, "bo").await;
    // Every seventh request is for a user that does not exist: its row breaks
    // the inbox's foreign key, in whatever batch it lands.
    let ghost = UserId::from_trusted(format!("u_{:032x}", u128::MAX));
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|n| {
            let store = Arc::clone(&store);
            let to = match n % 7 {
                3 => ghost.clone(),
                0 | 4 => bo.clone(),
                _ => ada.clone(),
            };
            let category = if n % 2 == 0 { Category::System } else { Category::Missions };
            let new = direct(&to, &ada, format!("n{n}"), category);
            tokio::spawn(async move {
                let ctx = WriteContext::user(UserId::from_trusted(format!("u_{n:032x}")), format!("trace{n:04}"));
                store.create_notification(&ctx, new).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        let answer = task.await.expect("request task");
        if n % 7 == 3 {
            assert!(answer.is_err(), "request {n} is for a user that does not exist: {answer:?}");
        } else {
            let (notification, created) = answer.unwrap_or_else(|e| panic!("request {n} failed: {e}"));
            assert!(created);
            assert_eq!(notification.title, format!("n{n}"), "request {n} got its own notification");
            answers.push((n, notification));
        }
    }

    // One notification and one event per successful request, carrying that
    // request's actor and trace id.
    let events = created_events(&store).await;
    assert_eq!(events.len(), answers.len());
    for (n, notification) in &answers {
        let (envelope, _) = events
            .iter()
            .find(|(_, change)| change.notification.id == notification.id)
            .unwrap_or_else(|| panic!("no event for request {n}"));
        assert_eq!(envelope.trace_id, format!("trace{n:04}"));
        assert_eq!(serde_json::to_value(&envelope.actor).expect("actor")["id"], format!("u_{n:032x}"));
    }

    // Per inbox, in commit order, each event's counts are the counts right
    // after its notification: versions one apart, one more unread each time.
    for (who, expected) in [(&ada, answers.iter().filter(|(_, n)| n.user_id == ada).count()), (&bo, 0)] {
        let mine: Vec<&NotificationChanged> = events.iter().map(|(_, c)| c).filter(|c| &c.user_id == who).collect();
        if expected > 0 {
            assert_eq!(mine.len(), expected);
        }
        for (i, change) in mine.iter().enumerate() {
            assert_eq!(change.unread.counts_version, i as i64 + 1, "{who}: event {i}");
            assert_eq!(change.unread.total, i as u64 + 1, "{who}: event {i}");
        }
        let mut system = 0;
        for change in &mine {
            if change.notification.category == Category::System {
                system += 1;
            }
            assert_eq!(
                change.unread.by_category.system, system,
                "{who}: system count after {}",
                change.notification.title
            );
        }
        let stored = store.unread_counts(who).await.expect("counts");
        assert_eq!(stored.total, mine.len() as u64);
        assert_eq!(stored.counts_version, mine.len() as i64);
    }
    // The inbox channel's offsets have no gap.
    let outbox = store.unpublished_events(100_000, 0).await.expect("outbox");
    let inbox = solo_domain::Channel::Notifications(ada.clone()).to_string();
    let offsets: Vec<u64> =
        outbox.iter().flat_map(|e| &e.routes).filter(|r| r.channel == inbox).map(|r| r.offset).collect();
    assert_eq!(offsets, (1..=offsets.len() as u64).collect::<Vec<_>>());
}

async fn a_key_repeated_by_concurrent_requests_creates_once(f: Fixture) {
    let store = Arc::new(f.store);
    let ada = user(&store, "ada").await;
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = Arc::clone(&store);
            let mut new = direct(&ada, &ada, "same".to_owned(), Category::System);
            // Keys k0..k9, each used by four requests; one of those four sends
            // another body under the same key.
            let hash = if n >= 30 { "other" } else { "same" };
            new.idempotency = Some((format!("k{}", n % 10), hash.to_owned()));
            let ctx = WriteContext::user(ada.clone(), "");
            tokio::spawn(async move { store.create_notification(&ctx, new).await })
        })
        .collect();
    let mut by_key: std::collections::HashMap<usize, Vec<(bool, String)>> = std::collections::HashMap::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.expect("request task") {
            Ok((notification, created)) => {
                by_key.entry(n % 10).or_default().push((created, notification.id.to_string()));
            }
            Err(StoreError::IdempotencyMismatch) => {
                // Only a request whose body differs from the first one's.
                assert!(n >= 30, "request {n} sent the key's first body");
            }
            Err(e) => panic!("request {n}: {e}"),
        }
    }
    for (key, answers) in &by_key {
        assert_eq!(answers.iter().filter(|(created, _)| *created).count(), 1, "key k{key}: created once");
        assert!(answers.windows(2).all(|w| w[0].1 == w[1].1), "key k{key}: every replay names the same notification");
    }
    assert_eq!(store.unread_counts(&ada).await.expect("counts").total, 10);
    assert_eq!(created_events(&store).await.len(), 10);
}
