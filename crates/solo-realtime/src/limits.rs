//! The per-connection command budget (`SOLO_WS_COMMANDS_PER_SEC`).

use std::num::NonZeroU32;

use governor::clock::MonotonicClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Governor's default clock calibrates itself (CPUID and a timing loop) each
/// time one is made: far too slow to make one per connection. The standard
/// monotonic clock costs nothing to create.
type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<std::time::Instant>>;

/// A quota of `per_sec` with bursts of twice that.
fn quota(per_sec: u32) -> Quota {
    let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_sec.max(1).saturating_mul(2)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

/// Commands of one realtime connection. Over budget a command is refused (error
/// 111, the client may retry later); a client that keeps sending regardless is
/// closed with 3013 after as many refusals in a row as its per-second budget.
pub struct CommandLimiter {
    limiter: Limiter,
    refused_in_a_row: u32,
    close_after: u32,
}

impl std::fmt::Debug for CommandLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandLimiter").field("refused_in_a_row", &self.refused_in_a_row).finish_non_exhaustive()
    }
}

/// What to do with one command.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Run,
    Refuse,
    Close,
}

impl CommandLimiter {
    /// A budget of `per_sec` commands a second, bursts of twice that.
    pub fn new(per_sec: u32) -> Self {
        Self {
            limiter: RateLimiter::direct_with_clock(quota(per_sec), MonotonicClock),
            refused_in_a_row: 0,
            close_after: per_sec.max(10),
        }
    }

    pub fn admit(&mut self) -> Admission {
        if self.limiter.check().is_ok() {
            self.refused_in_a_row = 0;
            return Admission::Run;
        }
        self.refused_in_a_row += 1;
        if self.refused_in_a_row >= self.close_after {
            Admission::Close
        } else {
            Admission::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_connection_is_refused_then_closed() {
        let mut commands = CommandLimiter::new(10);
        let outcomes: Vec<Admission> = (0..40).map(|_| commands.admit()).collect();
        assert_eq!(outcomes.iter().filter(|a| **a == Admission::Run).count(), 20, "the burst runs");
        assert_eq!(outcomes[20], Admission::Refuse);
        assert_eq!(outcomes.last(), Some(&Admission::Close));
    }
}
