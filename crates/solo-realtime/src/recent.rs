//! The latest publications of each channel, kept in memory so that clients
//! recovering after a reconnect are answered without reading history from the
//! database. Reconnects come in storms (a deploy, a network blip, a laptop
//! waking up a whole office): 10,000 clients recovering one channel used to
//! make 10,000 identical history queries and run the read pool dry.
//!
//! Every publication this node's hub is handed is recorded here, whether or
//! not a local client is subscribed (the clients that will recover are, by
//! definition, not subscribed right now). A channel's tail is contiguous: a
//! publication that does not follow the last one (a gap, another epoch) starts
//! the tail afresh. A tail never runs ahead of the store, so answering from it
//! is as safe as reading the store: anything committed but not yet recorded is
//! still on its way through the bus to the now subscribed client. When the bus
//! may have lost publications, everything is forgotten.
//!
//! Memory is bounded by a byte budget (`SOLO_RECOVERY_CACHE_BYTES`, envelopes
//! are shared with the bus message, so the budget counts what they keep
//! alive); over budget, the channels published least recently are dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Fixed cost counted per kept publication besides its envelope.
const ITEM_OVERHEAD: usize = 32;

struct Tail {
    epoch: String,
    /// Offset of `items[0]`.
    first: u64,
    items: VecDeque<Arc<str>>,
    bytes: usize,
    /// When it was last published to (a counter, for eviction).
    stamp: u64,
}

fn cost(envelope: &str) -> usize {
    envelope.len() + ITEM_OVERHEAD
}

impl Tail {
    fn start(channel: &str, epoch: &str, offset: u64, envelope: &Arc<str>, stamp: u64) -> Self {
        Self {
            epoch: epoch.to_owned(),
            first: offset,
            items: VecDeque::from([envelope.clone()]),
            bytes: channel.len() + epoch.len() + cost(envelope),
            stamp,
        }
    }

    fn top(&self) -> u64 {
        self.first + self.items.len() as u64 - 1
    }
}

/// Publications `offset+1 ..= top` of a channel, and its position.
#[derive(Debug)]
pub struct Recovered {
    pub epoch: String,
    pub top: u64,
    pub items: Vec<(u64, Arc<str>)>,
}

pub struct RecentPublications {
    per_channel: usize,
    budget_bytes: usize,
    state: Mutex<State>,
    clock: AtomicU64,
}

#[derive(Default)]
struct State {
    tails: HashMap<Arc<str>, Tail>,
    bytes: usize,
}

impl std::fmt::Debug for RecentPublications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentPublications").field("per_channel", &self.per_channel).finish_non_exhaustive()
    }
}

impl RecentPublications {
    /// Keeps up to `per_channel` publications per channel and about
    /// `budget_bytes` in all; a budget of 0 keeps nothing.
    pub fn new(per_channel: usize, budget_bytes: usize) -> Self {
        Self { per_channel, budget_bytes, state: Mutex::new(State::default()), clock: AtomicU64::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a publication handed to the hub.
    pub fn record(&self, channel: &str, epoch: &str, offset: u64, envelope: &Arc<str>) {
        if self.budget_bytes == 0 || self.per_channel == 0 || offset == 0 {
            return;
        }
        let stamp = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        let state = &mut *state;
        let (before, after) = match state.tails.get_mut(channel) {
            // A repeat (the dispatcher published it again): already kept.
            Some(tail) if tail.epoch == epoch && offset <= tail.top() => return,
            Some(tail) => {
                let before = tail.bytes;
                if tail.epoch == epoch && offset == tail.top() + 1 {
                    tail.items.push_back(envelope.clone());
                    tail.bytes += cost(envelope);
                    while tail.items.len() > self.per_channel {
                        if let Some(old) = tail.items.pop_front() {
                            tail.first += 1;
                            tail.bytes -= cost(&old);
                        }
                    }
                    tail.stamp = stamp;
                } else {
                    // A gap or a new epoch: only what follows is known to be contiguous.
                    *tail = Tail::start(channel, epoch, offset, envelope, stamp);
                }
                (before, tail.bytes)
            }
            None => {
                let tail = Tail::start(channel, epoch, offset, envelope, stamp);
                let after = tail.bytes;
                state.tails.insert(Arc::from(channel), tail);
                (0, after)
            }
        };
        state.bytes = state.bytes - before + after;
        if state.bytes > self.budget_bytes {
            self.evict(state);
        }
    }

    /// Drops the channels published least recently until a quarter of the
    /// budget is free again (so eviction is rare, not once per publication).
    fn evict(&self, state: &mut State) {
        let target = self.budget_bytes / 4 * 3;
        let mut by_age: Vec<(u64, Arc<str>)> = state.tails.iter().map(|(name, t)| (t.stamp, name.clone())).collect();
        by_age.sort_unstable_by_key(|(stamp, _)| *stamp);
        for (_, name) in by_age {
            if state.bytes <= target {
                break;
            }
            if let Some(tail) = state.tails.remove(&name) {
                state.bytes = state.bytes.saturating_sub(tail.bytes);
            }
        }
    }

    /// The channel's publications after `offset` in `epoch`, when this node
    /// holds all of them and there are at most `max` (otherwise the store must
    /// answer).
    pub fn since(&self, channel: &str, epoch: &str, offset: u64, max: u64) -> Option<Recovered> {
        let state = self.lock();
        let tail = state.tails.get(channel)?;
        let top = tail.top();
        // `offset > top` first: past it `offset + 1` cannot overflow (a client sends any u64).
        if tail.epoch != epoch || offset > top || offset + 1 < tail.first || top - offset > max {
            return None;
        }
        let skip = (offset + 1 - tail.first) as usize;
        let items = tail.items.iter().skip(skip).enumerate().map(|(i, e)| (offset + 1 + i as u64, e.clone())).collect();
        Some(Recovered { epoch: tail.epoch.clone(), top, items })
    }

    /// Forgets one channel (its history was removed).
    pub fn forget(&self, channel: &str) {
        let mut state = self.lock();
        if let Some(tail) = state.tails.remove(channel) {
            state.bytes = state.bytes.saturating_sub(tail.bytes);
        }
    }

    /// Forgets everything (the bus may have lost publications).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.tails.clear();
        state.bytes = 0;
    }

    /// Bytes counted against the budget (for tests and metrics).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(n: u64) -> Arc<str> {
        Arc::from(format!("{{\"n\":{n}}}").as_str())
    }

    fn offsets(r: &Recovered) -> Vec<u64> {
        r.items.iter().map(|(o, _)| *o).collect()
    }

    #[test]
    fn answers_only_what_it_holds_contiguously() {
        let recent = RecentPublications::new(3, 1 << 20);
        for offset in 1..=5 {
            recent.record("mission:m_1", "e1", offset, &envelope(offset));
        }
        // Holds 3..=5 now.
        let r = recent.since("mission:m_1", "e1", 2, 100).expect("from 3");
        assert_eq!((offsets(&r), r.top), (vec![3, 4, 5], 5));
        assert_eq!(&*r.items[0].1, "{\"n\":3}");
        assert!(recent.since("mission:m_1", "e1", 1, 100).is_none(), "2 was dropped");
        assert_eq!(offsets(&recent.since("mission:m_1", "e1", 5, 100).expect("up to date")), Vec::<u64>::new());
        assert!(recent.since("mission:m_1", "e1", 6, 100).is_none(), "ahead of this node");
        assert!(recent.since("mission:m_1", "e1", u64::MAX, 100).is_none(), "any offset a client sends");
        assert!(recent.since("mission:m_1", "e2", 4, 100).is_none(), "another epoch");
        assert!(recent.since("mission:m_1", "e1", 2, 2).is_none(), "more than asked for");
        assert!(recent.since("mission:m_2", "e1", 0, 100).is_none(), "unknown channel");
    }

    #[test]
    fn repeats_are_ignored_and_gaps_start_afresh() {
        let recent = RecentPublications::new(10, 1 << 20);
        recent.record("c", "e1", 1, &envelope(1));
        recent.record("c", "e1", 2, &envelope(2));
        recent.record("c", "e1", 2, &envelope(2));
        assert_eq!(offsets(&recent.since("c", "e1", 0, 10).expect("all")), vec![1, 2]);
        recent.record("c", "e1", 4, &envelope(4));
        assert!(recent.since("c", "e1", 2, 10).is_none(), "3 was never seen here");
        assert_eq!(offsets(&recent.since("c", "e1", 3, 10).expect("after the gap")), vec![4]);
        recent.record("c", "e2", 1, &envelope(1));
        assert!(recent.since("c", "e1", 3, 10).is_none(), "the old epoch is gone");
        assert_eq!(offsets(&recent.since("c", "e2", 0, 10).expect("new epoch")), vec![1]);
        recent.clear();
        assert!(recent.since("c", "e2", 0, 10).is_none());
        assert_eq!(recent.bytes(), 0);
    }

    #[test]
    fn the_budget_drops_the_channels_published_least_recently() {
        let big: Arc<str> = Arc::from("x".repeat(1000).as_str());
        let recent = RecentPublications::new(100, 10_000);
        for channel in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
            recent.record(channel, "e", 1, &big);
        }
        assert!(recent.bytes() <= 10_000, "{} bytes kept", recent.bytes());
        assert!(recent.since("a", "e", 0, 10).is_none(), "the oldest went first");
        assert!(recent.since("l", "e", 0, 10).is_some(), "the newest stays");
        let none = RecentPublications::new(100, 0);
        none.record("a", "e", 1, &big);
        assert!(none.since("a", "e", 0, 10).is_none(), "a zero budget keeps nothing");
    }
}
