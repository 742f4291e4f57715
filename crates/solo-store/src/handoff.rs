//! Committed events handed from the writer to the dispatcher in memory.
//!
//! The outbox in the database is the durable record: the dispatcher can always
//! find what is unpublished there. Reading every event back from it costs a
//! query per dispatch round (and a thousand rows decoded after a big watcher
//! fan-out), so on SQLite, where this process is the only writer and commit
//! order is `seq` order, the group commit also hands each committed group's
//! events to the dispatcher here, in commit order, with nothing to decode.
//!
//! The hand-off is an optimisation, never the only path: it holds a bounded
//! number of events, and when it cannot vouch for having every committed event
//! in order (it overflowed because nobody took them), it says so once ([`Taken::Incomplete`]) and the
//! dispatcher reads the outbox from the database until it has caught up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::OutboxEvent;

/// How many committed events may wait here. A node whose dispatcher is not
/// taking them (another node leads, or it is backing off) drops them beyond
/// this, and reads the outbox instead when it gets to them.
const CAPACITY: usize = 20_000;

/// What the dispatcher gets from [`CommittedEvents::take`].
#[derive(Debug)]
pub enum Taken {
    /// Every event committed since the previous take (up to the limit asked
    /// for), in commit order; empty when there is none.
    Events(Vec<OutboxEvent>),
    /// Some committed events are not here: read the outbox until caught up.
    Incomplete,
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<OutboxEvent>,
    incomplete: bool,
}

/// The queue between the writer and the dispatcher of one process.
#[derive(Debug)]
pub struct CommittedEvents {
    queue: Mutex<Queue>,
    /// The dispatcher's wake-up: signalled after every commit that wrote events.
    signal: Arc<Notify>,
}

impl CommittedEvents {
    pub(crate) fn new(signal: Arc<Notify>) -> Self {
        Self { queue: Mutex::new(Queue::default()), signal }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The queue stays consistent whatever panicked while holding it.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a commit's events, in order, and wakes the dispatcher.
    pub(crate) fn committed(&self, events: Vec<OutboxEvent>) {
        if events.is_empty() {
            return;
        }
        {
            let mut queue = self.queue();
            if queue.incomplete || queue.events.len() + events.len() > CAPACITY {
                // The dispatcher reads the outbox for all of these anyway.
                queue.events.clear();
                queue.incomplete = true;
            } else {
                queue.events.extend(events);
            }
        }
        self.signal.notify_one();
    }

    /// Takes up to `limit` of the oldest events waiting, or says that the
    /// outbox must be read (once; the queue starts afresh after that answer).
    pub fn take(&self, limit: usize) -> Taken {
        let mut queue = self.queue();
        if queue.incomplete {
            queue.incomplete = false;
            queue.events.clear();
            return Taken::Incomplete;
        }
        let n = limit.min(queue.events.len());
        Taken::Events(queue.events.drain(..n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> OutboxEvent {
        OutboxEvent {
            seq,
            event_type: "test".to_owned(),
            trace_id: String::new(),
            envelope: "{}".to_owned(),
            routes: Vec::new(),
        }
    }

    fn seqs(taken: Taken) -> Vec<i64> {
        match taken {
            Taken::Events(events) => events.iter().map(|e| e.seq).collect(),
            Taken::Incomplete => panic!("expected events"),
        }
    }

    #[test]
    fn events_come_out_in_commit_order_up_to_the_limit() {
        let handoff = CommittedEvents::new(Arc::new(Notify::new()));
        handoff.committed(vec![event(1), event(2)]);
        handoff.committed(vec![event(3)]);
        assert_eq!(seqs(handoff.take(2)), vec![1, 2]);
        assert_eq!(seqs(handoff.take(10)), vec![3]);
        assert_eq!(seqs(handoff.take(10)), Vec::<i64>::new());
    }

    #[test]
    fn an_overflow_is_reported_once_then_the_queue_starts_afresh() {
        let handoff = CommittedEvents::new(Arc::new(Notify::new()));
        handoff.committed((0..CAPACITY as i64).map(event).collect());
        handoff.committed(vec![event(CAPACITY as i64)]);
        // Later commits are dropped too until the dispatcher has been told.
        handoff.committed(vec![event(CAPACITY as i64 + 1)]);
        assert!(matches!(handoff.take(10), Taken::Incomplete));
        handoff.committed(vec![event(7)]);
        assert_eq!(seqs(handoff.take(10)), vec![7]);
    }
}
