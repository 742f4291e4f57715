//! Background workers besides the dispatcher: the presence sweeper, history
//! retention and session cleanup. Each runs on its own interval until shutdown
//! and logs, rather than stops, on failure.

use std::future::Future;
use std::time::Duration;

use solo_domain::time::now_ms;
use solo_store::{RetentionPolicy, SweepPolicy, WriteContext};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

async fn every<F, Fut>(period: Duration, shutdown: CancellationToken, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => work().await,
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Marks silent workstations degraded, then offline, once per transition.
pub async fn presence_sweeper(state: AppState, shutdown: CancellationToken) {
    let settings = state.settings();
    let policy = SweepPolicy {
        heartbeat_interval_ms: (settings.heartbeat_interval_secs * 1000) as i64,
        degraded_after_missed: settings.degraded_after_missed,
        offline_after_missed: settings.offline_after_missed,
    };
    let period = Duration::from_millis(settings.sweep_interval_ms.max(50));
    every(period, shutdown, || async {
        let ctx = WriteContext::system(solo_domain::event::new_trace_id());
        match state.store().sweep_workstations(&ctx, policy, now_ms()).await {
            Ok(changed) => {
                for ws in &changed {
                    tracing::info!(trace_id = %ctx.trace_id, workstation_id = %ws.id, status = ws.status.as_str(), "workstation status changed");
                }
                state.metrics().presence_transitions.inc_by(changed.len() as u64);
            }
            Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
        }
    })
    .await;
}

/// Most trimming passes in one run of the retention task: at the default batch,
/// a quarter of a million rows of each kind per interval.
const MAX_TRIM_PASSES: usize = 50;

/// Trims channel history, the event log and read notifications to their
/// configured limits. Each run repeats bounded passes (a few thousand rows of
/// each kind, one short statement each) until a pass finds nothing, pausing
/// between passes so writers interleave: one pass per run fell behind any
/// sustained rate above about 80 events/s (a busy team's heartbeats alone).
pub async fn retention(state: AppState, shutdown: CancellationToken) {
    let settings = state.settings();
    let policy = RetentionPolicy {
        channel_max_publications: settings.history_max_publications,
        channel_max_age_ms: (settings.history_max_age_secs * 1000) as i64,
        events_max_age_ms: days_to_ms(settings.events_max_age_days),
        heartbeat_events_max_age_ms: (settings.heartbeat_events_max_age_secs * 1000) as i64,
        notifications_read_max_age_ms: days_to_ms(settings.notifications_read_max_age_days),
        batch: 5_000,
    };
    let period = Duration::from_secs(settings.retention_interval_secs.max(1));
    let pause = Duration::from_millis(20);
    every(period, shutdown.clone(), || async {
        for _ in 0..MAX_TRIM_PASSES {
            match state.store().trim_history(policy, now_ms()).await {
                Ok(0) => break,
                Ok(n) => {
                    state.metrics().history_trimmed.inc_by(n);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "history trimming failed");
                    break;
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        if let Err(e) = state.store().delete_expired_sessions(now_ms()).await {
            tracing::warn!(error = %e, "expired session cleanup failed");
        }
    })
    .await;
}

/// A retention age in days (fractions allowed) as milliseconds.
fn days_to_ms(days: f64) -> i64 {
    (days * 86_400_000.0) as i64
}
