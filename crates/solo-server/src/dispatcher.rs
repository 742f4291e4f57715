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
use tokio_util::sync::CancellationToken;

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

async fn publish_round(state: &AppState) -> Round {
    let store = state.store();
    let events = match store.unpublished_events(state.settings().dispatch_batch).await {
        Ok(events) => events,
        Err(e) => {
            state.metrics().dispatch_failures.inc();
            tracing::warn!(error = %e, "dispatcher could not read the outbox; retrying");
            return Round::Failed;
        }
    };
    if events.is_empty() {
        state.metrics().outbox_pending.set(0);
        return Round::Idle;
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
    if let Err(e) = state.bus().publish(&messages).await {
        state.metrics().dispatch_failures.inc();
        tracing::warn!(error = %e, pending = messages.len(), "dispatcher could not publish; retrying");
        return Round::Failed;
    }
    for m in &messages {
        tracing::debug!(trace_id = %m.trace_id, event_type = %m.event_type, "event published");
    }
    if let Err(e) = store.mark_published(&seqs, now_ms()).await {
        // Published but not marked: they will be published again, and deduplicated downstream.
        state.metrics().dispatch_failures.inc();
        tracing::warn!(error = %e, "dispatcher could not mark events published; they will be republished");
        return Round::Failed;
    }
    state.metrics().events_published.inc_by(messages.len() as u64);
    Round::Published
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
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        if !lead(&state, &mut held_until).await {
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
        match publish_round(&state).await {
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
        match publish_round(&state).await {
            Round::Idle => break,
            Round::Published => {}
            Round::Failed => tokio::time::sleep(FIRST_BACKOFF).await,
        }
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
