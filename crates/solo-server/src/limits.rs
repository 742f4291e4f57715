//! Rate limits.
//!
//! - Per credential on the HTTP API (`SOLO_API_REQUESTS_PER_SEC`, bursts of twice
//!   that): a token or session over its budget gets 429 with `Retry-After`.
//! - Per source address for failed authentication (`SOLO_AUTH_FAILURES_PER_MINUTE`):
//!   once a source has failed that many times within a minute, every
//!   authentication attempt from it is refused with 429 until the minute is
//!   over, so a correct guess cannot be told apart from a wrong one.
//! - Per realtime connection (`SOLO_WS_COMMANDS_PER_SEC`): see
//!   `solo_realtime::limits::CommandLimiter`.
//!
//! Limits are per node: behind a load balancer a client spreading requests over
//! N nodes gets up to N times the budget, which is acceptable for abuse control.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::settings::Settings;

const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked sources, expired entries are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

/// A quota of `per_sec` with bursts of twice that.
fn quota(per_sec: u32) -> Quota {
    let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_sec.max(1).saturating_mul(2)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

pub struct Limits {
    api: DefaultKeyedRateLimiter<String>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    max_failures: u32,
    trust_forwarded_for: bool,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("max_failures", &self.max_failures).finish_non_exhaustive()
    }
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        Self {
            api: RateLimiter::keyed(quota(settings.api_requests_per_sec)),
            failures: Mutex::new(HashMap::new()),
            max_failures: settings.auth_failures_per_minute.max(1),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Counts one API request of `credential` (a token id or session hash).
    /// Whether a request's source is the last `X-Forwarded-For` hop (`SOLO_TRUST_FORWARDED_FOR`).
    pub fn trust_forwarded_for(&self) -> bool {
        self.trust_forwarded_for
    }

    pub fn api_request(&self, credential: &str) -> Result<(), ApiError> {
        // Keys are bounded by live credentials; forget idle ones now and then.
        if self.api.len() > SWEEP_ABOVE {
            self.api.retain_recent();
        }
        self.api.check_key(&credential.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests { retry_after_secs: wait.as_secs().max(1) }
        })
    }

    /// Refuses authentication from `source` while it is over its failure budget.
    pub fn check_source(&self, source: IpAddr) -> Result<(), ApiError> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&source) {
            Some((count, since)) if *count >= self.max_failures && since.elapsed() < FAILURE_WINDOW => {
                let left = FAILURE_WINDOW.saturating_sub(since.elapsed());
                Err(ApiError::TooManyRequests { retry_after_secs: left.as_secs().max(1) })
            }
            _ => Ok(()),
        }
    }

    /// Records a failed authentication from `source`.
    pub fn record_failure(&self, source: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(source).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if entry.0 == self.max_failures {
            tracing::warn!(%source, "too many failed authentications: refusing this source for a minute");
        }
    }
}

pub fn source_of(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if let Some(ip) = forwarded.and_then(|v| v.rsplit(',').next()).and_then(|hop| hop.trim().parse().ok()) {
            return ip;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            api_requests_per_sec: 2,
            auth_failures_per_minute: 3,
            ws_commands_per_sec: 10,
            ..Settings::default()
        }
    }

    #[test]
    fn api_budget_is_per_credential_with_a_burst() {
        let limits = Limits::new(&settings());
        for _ in 0..4 {
            assert!(limits.api_request("pat_a").is_ok());
        }
        match limits.api_request("pat_a") {
            Err(ApiError::TooManyRequests { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limits.api_request("pat_b").is_ok(), "another credential has its own budget");
    }

    #[test]
    fn a_source_is_refused_after_its_failures_until_the_window_ends() {
        let limits = Limits::new(&settings());
        let source = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
        for _ in 0..3 {
            assert!(limits.check_source(source).is_ok());
            limits.record_failure(source);
        }
        assert!(matches!(limits.check_source(source), Err(ApiError::TooManyRequests { .. })));
        assert!(limits.check_source(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 8))).is_ok());
    }
}
