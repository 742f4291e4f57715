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

/// Trims channel history and the event log to their configured limits.
pub async fn retention(state: AppState, shutdown: CancellationToken) {
    let settings = state.settings();
    let policy = RetentionPolicy {
        channel_max_publications: settings.history_max_publications,
        channel_max_age_ms: (settings.history_max_age_secs * 1000) as i64,
        events_max_age_ms: (settings.events_max_age_days * 86_400_000) as i64,
        notifications_read_max_age_ms: (settings.notifications_read_max_age_days * 86_400_000) as i64,
        batch: 5_000,
    };
    every(Duration::from_secs(60), shutdown, || async {
        match state.store().trim_history(policy, now_ms()).await {
            Ok(n) => {
                state.metrics().history_trimmed.inc_by(n);
            }
            Err(e) => tracing::warn!(error = %e, "history trimming failed"),
        }
        if let Err(e) = state.store().delete_expired_sessions(now_ms()).await {
            tracing::warn!(error = %e, "expired session cleanup failed");
        }
    })
    .await;
}
