//! A connection's outgoing queue: what the hub and the reader hand to the
//! connection's writer.
//!
//! A bounded `tokio::sync::mpsc` channel would do the job, but it allocates its
//! first block of slots (about 2 KB here) up front, for every connection, idle
//! or not. This queue is a `VecDeque` behind a mutex that is empty, and owns no
//! memory, while nothing is queued, and gives memory back after a burst. The
//! writer takes everything queued in one lock, so a fan-out to a busy
//! subscriber costs one uncontended lock per publication.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::hub::Outgoing;

#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds its limit: the client is not reading fast enough.
    Full,
    /// The writer is gone (the connection is closing).
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outgoing>,
    closed: bool,
}

#[derive(Debug)]
pub struct Mailbox {
    queue: Mutex<Queue>,
    limit: usize,
    /// Wakes the writer when something was queued.
    queued: Notify,
    /// Wakes senders waiting for room when the writer took messages (or closed).
    room: Notify,
}

impl Mailbox {
    /// A queue holding at most `limit` messages.
    pub fn new(limit: usize) -> Self {
        Self { queue: Mutex::new(Queue::default()), limit: limit.max(1), queued: Notify::new(), room: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `message` unless the queue is full or closed.
    pub fn push(&self, message: Outgoing) -> Result<(), PushError> {
        self.push_or_return(message).map_err(|(error, _)| error)
    }

    fn push_or_return(&self, message: Outgoing) -> Result<(), (PushError, Outgoing)> {
        {
            let mut queue = self.lock();
            if queue.closed {
                return Err((PushError::Closed, message));
            }
            if queue.items.len() >= self.limit {
                return Err((PushError::Full, message));
            }
            queue.items.push_back(message);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// Queues `message`, waiting for room while the queue is full (backpressure
    /// on this connection only). Fails once the queue is closed.
    pub async fn send(&self, mut message: Outgoing) -> Result<(), PushError> {
        loop {
            // Registered before trying, so a drain between the try and the wait still wakes us.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.push_or_return(message) {
                Ok(()) => return Ok(()),
                Err((PushError::Closed, _)) => return Err(PushError::Closed),
                Err((PushError::Full, back)) => {
                    message = back;
                    room.await;
                }
            }
        }
    }

    /// Moves everything queued to the end of `into` (in order); returns how
    /// many. An empty `into` is swapped in, so the queue keeps no memory once
    /// the writer drops what it took.
    pub fn take_all(&self, into: &mut VecDeque<Outgoing>) -> usize {
        let taken = {
            let mut queue = self.lock();
            let taken = queue.items.len();
            if into.is_empty() {
                std::mem::swap(&mut queue.items, into);
            } else {
                into.append(&mut queue.items);
            }
            taken
        };
        if taken > 0 {
            self.room.notify_waiters();
        }
        taken
    }

    /// Waits until something may have been queued since the last wait.
    pub async fn wait(&self) {
        self.queued.notified().await;
    }

    /// Wakes the writer without queuing anything (it has something else to look at).
    pub fn wake(&self) {
        self.queued.notify_one();
    }

    /// Refuses every later message and releases senders waiting for room.
    pub fn close(&self) {
        {
            let mut queue = self.lock();
            queue.closed = true;
            queue.items = VecDeque::new();
        }
        self.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn bounded_in_order_and_empty_after_a_drain() {
        let mailbox = Mailbox::new(3);
        for _ in 0..3 {
            mailbox.push(Outgoing::Ping).expect("room");
        }
        assert_eq!(mailbox.push(Outgoing::Ping), Err(PushError::Full));
        let mut taken = VecDeque::new();
        assert_eq!(mailbox.take_all(&mut taken), 3);
        assert_eq!(mailbox.take_all(&mut taken), 0);
        mailbox.push(Outgoing::Ping).expect("room again");
        mailbox.close();
        assert_eq!(mailbox.push(Outgoing::Ping), Err(PushError::Closed));
        assert_eq!(mailbox.take_all(&mut taken), 0, "closing drops what was queued");
    }

    #[tokio::test]
    async fn a_full_queue_makes_senders_wait_until_the_writer_drains_or_closes() {
        let mailbox = Arc::new(Mailbox::new(1));
        mailbox.push(Outgoing::Ping).expect("room");
        let waiting = tokio::spawn({
            let mailbox = mailbox.clone();
            async move { mailbox.send(Outgoing::Ping).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "no room yet");
        let mut taken = VecDeque::new();
        mailbox.take_all(&mut taken);
        assert_eq!(waiting.await.expect("join"), Ok(()));

        let blocked = tokio::spawn({
            let mailbox = mailbox.clone();
            async move { mailbox.send(Outgoing::Ping).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        mailbox.close();
        assert_eq!(blocked.await.expect("join"), Err(PushError::Closed));
    }

    #[tokio::test]
    async fn the_writer_is_woken_by_a_push_made_before_it_waits() {
        let mailbox = Mailbox::new(4);
        mailbox.push(Outgoing::Ping).expect("room");
        // The permit stored by the push lets this wait return at once.
        tokio::time::timeout(Duration::from_secs(5), mailbox.wait()).await.expect("woken");
    }
}
