//! The outbox dispatcher: publishes committed events to the bus, in commit
//! order, and marks them published. It never gives up: a failing bus or
//! database is retried with capped exponential backoff, counted in
//! `solo_dispatch_failures_total` and logged once per failure.
//!
//! Delivery is at-least-once: if the process dies between a successful publish
//! and the `published_at` update, those events are published again on restart.
//! Subscribers drop what they already have (by offset in the hub, by id and
//! version in clients).

use std::sync::Arc;
use std::time::Duration;

use solo_domain::time::now_ms;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use solo_store::{OutboxEvent, Taken};

use crate::bus::BusMessage;
use crate::state::AppState;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Even without a wake-up signal (e.g. a lost nudge from another node), look this often.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// On shutdown, keep publishing what is committed for at most this long.
const DRAIN_BUDGET: Duration = Duration::from_secs(10);
/// Only the node holding this lease dispatches, so each event is published once
/// and in commit order even with several nodes on one database.
const LEASE: &str = "outbox-dispatcher";
const LEASE_TTL_MS: i64 = 10_000;

/// Whether this node may dispatch now, taking or renewing the lease when half of
/// it has run out. `held_until` is this node's view of its lease.
async fn lead(state: &AppState, held_until: &mut i64) -> bool {
    let now = now_ms();
    if now < *held_until - LEASE_TTL_MS / 2 {
        return true;
    }
    match state.store().acquire_lease(LEASE, state.node_id(), LEASE_TTL_MS, now).await {
        Ok(true) => {
            if *held_until <= now {
                tracing::info!(node = state.node_id(), "this node now dispatches the outbox");
            }
            *held_until = now + LEASE_TTL_MS;
            true
        }
        Ok(false) => {
            *held_until = 0;
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot take the dispatcher lease");
            *held_until = 0;
            false
        }
    }
}

enum Round {
    Idle,
    Published,
    Failed,
}

/// How often, at most, the outbox is told what was published from the
/// in-memory hand-off.
const MARK_EVERY: Duration = Duration::from_millis(200);

/// What a dispatcher fed by the in-memory hand-off ([`solo_store::CommittedEvents`],
/// SQLite) knows: there, commit order is `seq` order, so one number says what
/// is published, and the outbox is marked in the background ([`run_marker`])
/// rather than once per round. What a crash leaves unmarked is published again
/// at the next start (delivery is at-least-once either way).
struct Progress {
    /// Every committed event up to this `seq` has been published.
    through: i64,
    /// The outbox must be read rather than the hand-off: at start (what an
    /// earlier run left), after a failed publish, after the hand-off overflowed.
    read_outbox: bool,
    /// Tells the marker how far `through` got.
    published: watch::Sender<i64>,
}

impl Progress {
    /// Forgets what the hand-off held: the outbox has it.
    fn start_over(&mut self, state: &AppState) {
        if let Some(handoff) = state.store().committed_events() {
            // Everything waiting, or the overflow flag: either way it is gone.
            let _ = handoff.take(usize::MAX);
        }
        self.read_outbox = true;
    }
}

/// Marks in the outbox what the dispatcher published from the hand-off, at
/// most every [`MARK_EVERY`], off the dispatcher's path: a mark waits for the
/// writer, and publishing must not. Ends, after a last mark, when the
/// dispatcher drops its end.
async fn run_marker(state: AppState, mut published: watch::Receiver<i64>) {
    let mut marked = 0;
    let mut open = true;
    while open {
        let through = *published.borrow_and_update();
        if through > marked {
            match state.store().mark_published_through(through, now_ms()).await {
                Ok(()) => marked = through,
                Err(e) => {
                    // Published all the same: only a crash before a mark
                    // succeeds publishes these again.
                    state.metrics().dispatch_failures.inc();
                    tracing::warn!(error = %e, "dispatcher could not mark events published; retrying");
                    tokio::time::sleep(MARK_EVERY).await;
                    continue;
                }
            }
        }
        tokio::time::sleep(MARK_EVERY).await;
        if *published.borrow() <= marked {
            open = published.changed().await.is_ok();
        }
    }
    let through = *published.borrow();
    if through > marked {
        if let Err(e) = state.store().mark_published_through(through, now_ms()).await {
            tracing::warn!(error = %e, "could not mark the last published events; they are published again at next start");
        }
    }
}

/// The next events to publish: from the hand-off, or from the outbox when the
/// hand-off cannot vouch for being complete. Never one already published.
async fn next_batch(
    state: &AppState,
    handoff: &solo_store::CommittedEvents,
    progress: &mut Progress,
) -> Result<Vec<OutboxEvent>, solo_store::StoreError> {
    let limit = state.settings().dispatch_batch;
    loop {
        if progress.read_outbox {
            let events = state.store().unpublished_events(limit, progress.through).await?;
            if (events.len() as i64) < limit {
                // Caught up: whatever commits from now on is in the hand-off too.
                progress.read_outbox = false;
            }
            if !events.is_empty() {
                return Ok(events);
            }
        }
        match handoff.take(usize::try_from(limit).unwrap_or(usize::MAX)) {
            Taken::Incomplete => progress.read_outbox = true,
            Taken::Events(events) => {
                // The outbox may have returned some of these already.
                return Ok(events.into_iter().filter(|e| e.seq > progress.through).collect());
            }
        }
    }
}

async fn publish_round(state: &AppState, progress: &mut Progress) -> Round {
    let store = state.store();
    let handoff = store.committed_events();
    let events = match &handoff {
        Some(handoff) => next_batch(state, handoff, progress).await,
        None => store.unpublished_events(state.settings().dispatch_batch, 0).await,
    };
    let events = match events {
        Ok(events) => events,
        Err(e) => {
            state.metrics().dispatch_failures.inc();
            if let Some(kind) = crate::error::store_error_kind(&e) {
                state.metrics().database_error(kind);
            }
            tracing::warn!(error = %e, "dispatcher could not read the outbox; retrying");
            return Round::Failed;
        }
    };
    if events.is_empty() {
        state.metrics().outbox_pending.set(0);
        state.metrics().outbox_lag.set(0.0);
        return Round::Idle;
    }
    // The batch's first event is the oldest waiting: how long it waited is the
    // lag, however this round ends (a failing bus makes it grow round by round).
    if let Some(committed_ms) = events.first().and_then(|e| committed_at_ms(&e.envelope)) {
        state.metrics().outbox_lag.set((now_ms() - committed_ms).max(0) as f64 / 1000.0);
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    let messages: Vec<BusMessage> = events
        .into_iter()
        .map(|e| BusMessage {
            event_type: e.event_type,
            trace_id: e.trace_id,
            envelope: Arc::from(e.envelope),
            routes: e.routes,
        })
        .collect();
    // One span per event when spans are exported (SOLO_OTLP_ENDPOINT), in
    // the event's trace, lasting as long as the batch's publish.
    let mut spans = Vec::new();
    if solo_domain::spans::exported() {
        let batch = i64::try_from(messages.len()).unwrap_or(i64::MAX);
        for m in &messages {
            let span = tracing::info_span!("dispatcher.publish", event_type = %m.event_type, batch);
            solo_realtime::traces::join(&span, &m.trace_id, None);
            spans.push(span);
        }
    }
    let published = state.bus().publish(&messages).await;
    drop(spans);
    if let Err(e) = published {
        state.metrics().dispatch_failures.inc();
        tracing::warn!(error = %e, pending = messages.len(), "dispatcher could not publish; retrying");
        // What was taken from the hand-off is in the outbox, unpublished.
        progress.start_over(state);
        return Round::Failed;
    }
    for m in &messages {
        tracing::debug!(trace_id = %m.trace_id, event_type = %m.event_type, "event published");
    }
    state.metrics().events_published.inc_by(messages.len() as u64);
    if handoff.is_some() {
        progress.through = seqs.iter().copied().fold(progress.through, i64::max);
        progress.published.send_replace(progress.through);
        return Round::Published;
    }
    if let Err(e) = store.mark_published(&seqs, now_ms()).await {
        // Published but not marked: they will be published again, and deduplicated downstream.
        state.metrics().dispatch_failures.inc();
        if let Some(kind) = crate::error::store_error_kind(&e) {
            state.metrics().database_error(kind);
        }
        tracing::warn!(error = %e, "dispatcher could not mark events published; they will be republished");
        return Round::Failed;
    }
    Round::Published
}

/// When an event was committed: its envelope's `ts`, read without parsing the
/// whole envelope (the dispatcher looks at one event per batch).
fn committed_at_ms(envelope: &str) -> Option<i64> {
    let start = envelope.find("\"ts\":\"")? + "\"ts\":\"".len();
    let end = start + envelope[start..].find('"')?;
    solo_domain::time::parse_rfc3339_ms(&envelope[start..end])
}

/// Runs until `shutdown`, then drains what is committed (bounded by a time budget).
pub async fn run(state: AppState, shutdown: CancellationToken) {
    // Commits on this node wake it directly; commits on other nodes arrive as nudges.
    let signal = state.store().outbox_signal();
    let nudged = state.bus().nudged();
    let remote_commit = || async {
        match &nudged {
            Some(nudged) => nudged.notified().await,
            None => std::future::pending().await,
        }
    };
    let max_backoff = Duration::from_millis(state.settings().dispatch_max_backoff_ms.max(1));
    let mut backoff = FIRST_BACKOFF;
    let mut held_until = 0;
    let (published, marks) = watch::channel(0);
    let marker = state.store().committed_events().is_some().then(|| tokio::spawn(run_marker(state.clone(), marks)));
    let mut progress = Progress { through: 0, read_outbox: true, published };
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        if !lead(&state, &mut held_until).await {
            // The leading node reads these from the outbox.
            progress.start_over(&state);
            tokio::select! {
                _ = signal.notified() => {
                    if let Err(e) = state.bus().nudge().await {
                        // The lease holder still finds the events at its next poll.
                        tracing::debug!(error = %e, "could not nudge the dispatching node");
                    }
                }
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = shutdown.cancelled() => {}
            }
            continue;
        }
        match publish_round(&state, &mut progress).await {
            Round::Published => backoff = FIRST_BACKOFF,
            Round::Idle => {
                backoff = FIRST_BACKOFF;
                tokio::select! {
                    _ = signal.notified() => {}
                    _ = remote_commit() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            Round::Failed => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => {}
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
    if !lead(&state, &mut held_until).await {
        return;
    }
    let deadline = tokio::time::Instant::now() + DRAIN_BUDGET;
    while tokio::time::Instant::now() < deadline {
        match publish_round(&state, &mut progress).await {
            Round::Idle => break,
            Round::Published => {}
            Round::Failed => tokio::time::sleep(FIRST_BACKOFF).await,
        }
    }
    // The marker's last mark, before the count below.
    drop(progress);
    if let Some(marker) = marker {
        let _ = marker.await;
    }
    if let Err(e) = state.store().release_lease(LEASE, state.node_id()).await {
        tracing::warn!(error = %e, "could not release the dispatcher lease; it expires by itself");
    }
    match state.store().unpublished_count().await {
        Ok(0) => tracing::info!("outbox drained: every committed event is published"),
        Ok(n) => tracing::warn!(pending = n, "shut down with unpublished events; they are published at next start"),
        Err(e) => tracing::warn!(error = %e, "could not count unpublished events at shutdown"),
    }
}

#[cfg(test)]
mod tests {
    use super::committed_at_ms;

    #[test]
    fn the_commit_time_is_read_from_the_envelope() {
        let envelope = r#"{"id":"e1","type":"mission.stage_changed","version":2,"ts":"2026-11-26T10:15:02.123Z","data":{"ts":"no"}}"#;
        assert_eq!(committed_at_ms(envelope), Some(1_795_688_102_123));
        assert_eq!(committed_at_ms(r#"{"id":"e1"}"#), None);
        assert_eq!(committed_at_ms(r#"{"ts":"not a time"}"#), None);
    }
}
