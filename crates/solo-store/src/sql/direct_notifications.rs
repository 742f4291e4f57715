//! Direct notifications (`POST /api/notifications`), written in batches.
//!
//! A notification costs a handful of statements (the row, its inbox's counts,
//! the channel offset, the event, the channel history). Written one request
//! per transaction, concurrent requests for one user also queue on the same
//! inbox and channel rows: on PostgreSQL each holds those rows locked for all
//! its round trips and its commit, so they run one after another. So the
//! requests that arrive while a batch is being written wait in a queue, and
//! the next batch writes all of them in one transaction with multi-row
//! statements (one statement for a hundred rows, one inbox row bumped once per
//! user), answering each request only once that transaction has committed.
//!
//! - At rest a batch is one request: nothing waits for a timer.
//! - A request whose idempotency key an earlier request of the same batch
//!   used waits for the next batch, so it replays that earlier one (or is
//!   told the key was used for another request) exactly as it would have.
//! - When a batch fails before its commit (a constraint, a bad row), its
//!   requests are written again one by one, each in a transaction of its own:
//!   a failing request fails alone and loses none of the others. When the
//!   commit itself fails, no request of the batch was written and each gets
//!   that error (written again, a commit whose answer was lost could write
//!   them twice).
//! - The batch is written by a task of its own, not by a request: a client
//!   that hangs up does not take the other requests' batch with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use solo_domain::notification::NotificationView;
use solo_domain::time::now_ms;
use tokio::sync::oneshot;

use super::notifications::{insert, insert_many, notification_from, Insert, COLUMNS};
use super::{query, rows_per_statement, Exec, SqlStore, WriteTx};
use crate::{NewNotification, StoreError, StoreResult, WriteContext};

/// What a request gets back: the notification, and whether this request created it.
type Created = StoreResult<(NotificationView, bool)>;

/// The most requests one batch writes; the rest wait for the next one.
const MAX_BATCH: usize = 256;

/// Requests waiting for the next batch, and whether a batch writer runs.
#[derive(Default)]
pub(crate) struct DirectQueue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    waiting: Vec<Waiting>,
    /// A writer task runs and will take the waiting requests.
    writing: bool,
}

struct Waiting {
    ctx: WriteContext,
    new: NewNotification,
    answer: oneshot::Sender<Created>,
}

impl DirectQueue {
    /// Queues a request; true when no writer runs, so the caller must start one.
    fn push(&self, waiting: Waiting) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.waiting.push(waiting);
        !std::mem::replace(&mut state.writing, true)
    }

    /// The next batch, or None (and the writer stops) when nobody waits. Under
    /// the same lock as `push`, so a request is never left without a writer.
    fn next_batch(&self) -> Option<Vec<Waiting>> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.waiting.is_empty() {
            state.writing = false;
            return None;
        }
        let take = state.waiting.len().min(MAX_BATCH);
        let rest = state.waiting.split_off(take);
        Some(std::mem::replace(&mut state.waiting, rest))
    }
}

/// Why a batch was not written.
enum BatchFailed {
    /// Before the commit: nothing of it is kept, its requests can be written again.
    Statements,
    /// The commit failed: nothing of it is kept, and each request gets the cause.
    Commit(Arc<sqlx::Error>),
}

impl SqlStore {
    /// Creates a direct notification, written in the next batch (see the
    /// module's documentation). The boolean is false when an earlier request
    /// with the same idempotency key created it.
    pub(super) async fn create_direct_notification(&self, ctx: &WriteContext, new: NewNotification) -> Created {
        // The batch writer's transaction is no request's: this request's span
        // for it lasts until the batch holding it has committed.
        let _span = super::transaction_span(true);
        let (answer, created) = oneshot::channel();
        if self.direct.push(Waiting { ctx: ctx.clone(), new, answer }) {
            let store = self.clone();
            tokio::spawn(async move {
                while let Some(batch) = store.direct.next_batch() {
                    store.write_direct_batch(batch).await;
                }
            });
        }
        // Dropped unanswered only when the writer task died with the runtime.
        created.await.map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }

    async fn write_direct_batch(&self, mut batch: Vec<Waiting>) {
        while !batch.is_empty() {
            let (now, later) = first_use_of_each_key(batch);
            batch = later;
            if now.len() == 1 {
                for waiting in now {
                    let created = self.create_direct_alone(&waiting.ctx, &waiting.new).await;
                    let _ = waiting.answer.send(created);
                }
                continue;
            }
            match self.try_direct_batch(&now).await {
                Ok(answers) => {
                    for (waiting, created) in now.into_iter().zip(answers) {
                        let _ = waiting.answer.send(created);
                    }
                }
                Err(BatchFailed::Statements) => {
                    // Each on its own, side by side (they still share commits on SQLite).
                    let alone = now.iter().map(|waiting| self.create_direct_alone(&waiting.ctx, &waiting.new));
                    let answers = futures::future::join_all(alone).await;
                    for (waiting, created) in now.into_iter().zip(answers) {
                        let _ = waiting.answer.send(created);
                    }
                }
                Err(BatchFailed::Commit(cause)) => {
                    for waiting in now {
                        let _ = waiting.answer.send(Err(StoreError::GroupCommit(Arc::clone(&cause))));
                    }
                }
            }
        }
    }

    /// Writes a batch in one transaction; answers per request, in order.
    async fn try_direct_batch(&self, batch: &[Waiting]) -> Result<Vec<Created>, BatchFailed> {
        let mut tx = self.begin().await.map_err(|_| BatchFailed::Statements)?;
        let news = batch.iter().map(|waiting| &waiting.new);
        let earlier = earlier_requests(&mut tx, news).await.map_err(|_| BatchFailed::Statements)?;
        let mut answers: Vec<Option<Created>> = Vec::with_capacity(batch.len());
        let mut inserts = Vec::with_capacity(batch.len());
        for waiting in batch {
            let replay = replay_of(&earlier, &waiting.new);
            if replay.is_none() {
                inserts.push(Insert::direct(&waiting.ctx, &waiting.new));
            }
            answers.push(replay);
        }
        let wanted = inserts.len();
        let created = insert_many(&mut tx, inserts, now_ms()).await.map_err(|_| BatchFailed::Statements)?;
        if created.len() != wanted {
            // Nothing of a direct notification is dropped by a rule; if it were,
            // the answers would not line up: write them one by one instead.
            return Err(BatchFailed::Statements);
        }
        // The first request of a replay may be in this very commit group, not
        // yet committed: every answer waits for this commit.
        self.commit_with_events(tx).await.map_err(|e| BatchFailed::Commit(shared(e)))?;
        let mut created = created.into_iter();
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| match created.next().flatten() {
                    Some(notification) => Ok((notification, true)),
                    // Another node inserted this key at the same moment.
                    None => Err(StoreError::IdempotencyMismatch),
                })
            })
            .collect())
    }

    /// One request in a transaction of its own.
    async fn create_direct_alone(&self, ctx: &WriteContext, new: &NewNotification) -> Created {
        let mut tx = self.begin().await?;
        let earlier = earlier_requests(&mut tx, [new]).await?;
        if let Some(replay) = replay_of(&earlier, new) {
            if replay.is_ok() {
                // The first request may be in this very commit group, not yet
                // committed: the replay answers once it is.
                self.commit_with_events(tx).await?;
            }
            return replay;
        }
        let created =
            insert(&mut tx, Insert::direct(ctx, new), now_ms()).await?.ok_or(StoreError::IdempotencyMismatch)?;
        self.commit_with_events(tx).await?;
        Ok((created, true))
    }
}

/// Splits a batch into the first request for each (creator, idempotency key)
/// and the requests that repeat a key used earlier in it, keeping their order.
fn first_use_of_each_key(batch: Vec<Waiting>) -> (Vec<Waiting>, Vec<Waiting>) {
    let mut seen = std::collections::HashSet::new();
    batch.into_iter().partition(|waiting| match &waiting.new.idempotency {
        Some((key, _)) => seen.insert((waiting.new.created_by.to_string(), key.clone())),
        None => true,
    })
}

/// The notifications earlier requests created, by (creator, idempotency key),
/// with the hash of the request that used the key.
type Earlier = HashMap<(String, String), (NotificationView, Option<String>)>;

/// The notifications earlier requests created with the idempotency keys of `news`.
async fn earlier_requests<'a>(
    tx: &mut WriteTx,
    news: impl IntoIterator<Item = &'a NewNotification>,
) -> StoreResult<Earlier> {
    let keyed: Vec<(&str, &str)> = news
        .into_iter()
        .filter_map(|new| new.idempotency.as_ref().map(|(key, _)| (new.created_by.as_str(), key.as_str())))
        .collect();
    let mut earlier = HashMap::new();
    for chunk in keyed.chunks(rows_per_statement(2)) {
        let matches: Vec<String> = (0..chunk.len())
            .map(|n| format!("(created_by = ${} AND idempotency_key = ${})", 2 * n + 1, 2 * n + 2))
            .collect();
        let sql = format!(
            "SELECT {COLUMNS}, created_by, idempotency_key, request_hash FROM notifications WHERE {}",
            matches.join(" OR ")
        );
        let mut statement = query(sql);
        for (creator, key) in chunk {
            statement = statement.bind(*creator).bind(*key);
        }
        for row in tx.fetch_all(statement).await? {
            let creator: String = row.try_get("created_by")?;
            let key: String = row.try_get("idempotency_key")?;
            earlier.insert((creator, key), (notification_from(&row)?, row.try_get("request_hash")?));
        }
    }
    Ok(earlier)
}

/// The answer to a request whose idempotency key an earlier request used: that
/// request's notification when it sent the same request, a mismatch otherwise.
/// None when the key is new (or the request has none).
fn replay_of(earlier: &Earlier, new: &NewNotification) -> Option<Created> {
    let (key, hash) = new.idempotency.as_ref()?;
    let (first, stored) = earlier.get(&(new.created_by.to_string(), key.clone()))?;
    Some(if stored.as_deref() == Some(hash.as_str()) {
        Ok((first.clone(), false))
    } else {
        Err(StoreError::IdempotencyMismatch)
    })
}

/// A commit's error, to be given to every request of the batch.
fn shared(error: StoreError) -> Arc<sqlx::Error> {
    match error {
        StoreError::GroupCommit(cause) => cause,
        StoreError::Database(cause) => Arc::new(cause),
        other => Arc::new(sqlx::Error::Protocol(other.to_string())),
    }
}
