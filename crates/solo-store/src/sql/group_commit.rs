//! Group commit for SQLite's single writer.
//!
//! SQLite takes one write transaction at a time, and each commit appends every
//! page the transaction touched to the WAL: a notification dirties a dozen
//! pages (the row, its indexes, the unread counts, the channel, the event and
//! its history), so one commit per request writes the same hot pages over and
//! over. Here every write request still runs as its own unit, inside a
//! `SAVEPOINT` of a transaction shared with the requests queued behind it, and
//! one `COMMIT` ends the group:
//!
//! 1. A request takes the writer (a fair lock, so requests run in arrival
//!    order); the first of a group opens the transaction (`BEGIN IMMEDIATE`).
//! 2. It runs its statements inside `SAVEPOINT request`. Success releases the
//!    savepoint; an error (or a cancelled request) rolls back to it, undoing
//!    that request alone.
//! 3. A successful request leaves its answer slot in the group and makes sure
//!    a *finisher* is queued on the lock; it waits for the commit without
//!    holding the writer, so the next request runs meanwhile.
//! 4. The finisher, queued behind the requests that were waiting when it was
//!    called, commits and answers every member: only then does a request reply,
//!    so a reply still means the row is committed. When the commit fails (disk
//!    full, I/O), every member of the group gets the error and none of their
//!    writes is kept; the members that had already failed were rolled back
//!    before.
//!
//! A group is as large as the queue that formed while the previous one
//! committed: one request at rest, dozens under load, with no timer.
//!
//! The statements run on SQLite's own connection ([`SqliteWriter`]), driven by
//! the request holding the writer: `SAVEPOINT`, `RELEASE` and `COMMIT` are
//! function calls that cannot be interrupted half-way. A request can still go
//! away at its own awaits (between its statements, or while `BEGIN` waits for
//! another process's lock); the writer then goes to a guard whose drop rolls
//! that request back to its savepoint and makes sure the open transaction is
//! committed, so the single write connection is never left holding a
//! transaction nobody will end. When a rollback to a request's savepoint fails
//! (SQLite rolled the whole transaction back by itself), the group is
//! abandoned: its waiting members get an error, the connection is closed
//! (which rolls back whatever it held) and the next request opens a fresh one.
//! The same reasoning as [`super::WriteTx`]: never guess the state of a
//! transaction.
//!
//! A request that returns data its transaction read without writing (an
//! idempotent replay, say) still commits, so that it never answers with
//! another member's write before that write is committed.
//!
//! The events a group's members appended are handed to the dispatcher in
//! memory once the group commits ([`CommittedEvents`]), in commit order; a
//! member's events join the group when it releases its savepoint and leave it
//! again if that savepoint is rolled back.
//!
//! (Past 500 lines only with its unit tests, which drive the private state
//! machine; the code itself is under 400.)

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::writer::SqliteWriter;
use crate::{CommittedEvents, OutboxEvent, StoreError, StoreResult};

/// Why a group's members were not committed, shared by all of them.
type GroupOutcome = Result<(), Arc<sqlx::Error>>;

/// The writer lock and the group being built under it.
pub(crate) struct GroupCommit {
    /// The database file the writer opens (again, after a group was given up).
    path: PathBuf,
    /// How long a request waits for the writer before it is told "busy".
    acquire_timeout: Duration,
    group: Arc<Mutex<Group>>,
    /// Whether a finisher is queued on the lock and has not run yet.
    finisher_queued: AtomicBool,
    /// Requests waiting for the writer: the finisher lets them join the open
    /// group before it commits (see [`GroupCommit::group_is_full`]).
    waiting: AtomicUsize,
    /// Transactions committed since start (groups, and writes of one request
    /// that nobody waited for); the checkpointer watches it.
    commits: AtomicU64,
    /// Where a committed group's events go (and the dispatcher's wake-up).
    committed: Arc<CommittedEvents>,
    /// Groups committed, and the requests in them (requests / groups = mean group size).
    groups: AtomicU64,
    members: AtomicU64,
}

pub(crate) struct Group {
    /// The write connection; closed (and opened again by the next request)
    /// when a group is given up.
    writer: Option<SqliteWriter>,
    state: TxState,
    /// Requests whose savepoint was released, waiting for the commit.
    members: Vec<oneshot::Sender<GroupOutcome>>,
    /// The events of the group's transaction, in `seq` order.
    events: Vec<OutboxEvent>,
    /// Where the events of the request inside its savepoint start in `events`.
    request_events_from: usize,
    /// When the group's transaction began.
    opened_at: Instant,
}

impl Default for Group {
    fn default() -> Self {
        Self {
            writer: None,
            state: TxState::Idle,
            members: Vec::new(),
            events: Vec::new(),
            request_events_from: 0,
            opened_at: Instant::now(),
        }
    }
}

/// The most requests one commit answers: past it, the group commits even
/// with requests waiting, so no reply waits for an unbounded queue.
const MAX_GROUP_MEMBERS: usize = 128;

/// The longest a group stays open while requests keep joining it.
const MAX_GROUP_AGE: Duration = Duration::from_millis(10);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// No transaction is open.
    #[default]
    Idle,
    /// `BEGIN` was sent and not confirmed. No member can be waiting yet.
    Beginning,
    /// A transaction is open, and no request is inside its savepoint.
    Open,
    /// A request is inside its savepoint (or sent the statement that opens it).
    InRequest,
    /// A request sent the `RELEASE` of its savepoint; the answer is not in yet.
    Releasing,
}

impl GroupCommit {
    pub(crate) fn new(path: PathBuf, acquire_timeout: Duration, committed: Arc<CommittedEvents>) -> Arc<Self> {
        Arc::new(Self {
            path,
            acquire_timeout,
            group: Arc::new(Mutex::new(Group::default())),
            finisher_queued: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            committed,
            groups: AtomicU64::new(0),
            members: AtomicU64::new(0),
        })
    }

    /// Takes the writer and opens the request's savepoint (and the group's
    /// transaction when it is the first).
    pub(crate) async fn begin(self: &Arc<Self>) -> StoreResult<Member> {
        // Bounded like waiting for a pooled connection was: a writer stuck
        // (another process holding the file's lock) answers "busy", not never.
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let waited = tokio::time::timeout(self.acquire_timeout, self.group.clone().lock_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let group = waited.map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?;
        // From here, a caller that goes away leaves the rest to the member's drop.
        let mut member = Member { group: Some(group), gate: Arc::clone(self) };
        let group = member.group();
        settle(group);
        if group.state == TxState::Idle {
            if group.writer.is_none() {
                group.writer = Some(SqliteWriter::open(&self.path)?);
            }
            group.state = TxState::Beginning;
            if let Err(e) = group.conn_mut().begin_immediate(self.acquire_timeout).await {
                abandon(group, None);
                return Err(e.into());
            }
            group.state = TxState::Open;
            group.opened_at = Instant::now();
        }
        group.state = TxState::InRequest;
        group.request_events_from = group.events.len();
        if let Err(e) = group.conn_mut().batch("SAVEPOINT request") {
            // No savepoint to roll back to: the rollback fails and the group is
            // given up, rather than guess what the transaction still holds.
            recover(group);
            return Err(e.into());
        }
        Ok(member)
    }

    /// Finishes what a step left when its caller went away (rolls the request
    /// back to its savepoint), then makes sure the open transaction gets committed.
    fn settle_after_cancel(self: &Arc<Self>, mut group: OwnedMutexGuard<Group>) {
        settle(&mut group);
        let open = group.state == TxState::Open;
        drop(group);
        if open {
            self.queue_finisher();
        }
    }

    /// How many groups committed, and how many requests they held, since start.
    pub(crate) fn committed(&self) -> (u64, u64) {
        (self.groups.load(Ordering::Relaxed), self.members.load(Ordering::Relaxed))
    }

    /// Makes sure a finisher is queued on the lock. Called by whoever leaves a
    /// transaction open, so an open transaction never waits for a next request.
    fn queue_finisher(self: &Arc<Self>) {
        if self.finisher_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (the store outlived it): the next request commits instead.
            self.finisher_queued.store(false, Ordering::Release);
            return;
        };
        let gate = Arc::clone(self);
        runtime.spawn(async move {
            let mut yielded = false;
            loop {
                let mut group = gate.group.clone().lock_owned().await;
                if !gate.group_is_full(&group) {
                    if gate.waiting.load(Ordering::Acquire) > 0 {
                        // Back in the (first come, first served) queue, behind them.
                        drop(group);
                        continue;
                    }
                    if !yielded {
                        // Once, let every task that is ready to run have its
                        // turn: requests on their way to the writer join
                        // this group. With nothing else to run, this returns
                        // at once.
                        yielded = true;
                        drop(group);
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
                gate.finisher_queued.store(false, Ordering::Release);
                gate.finish(&mut group);
                return;
            }
        });
    }

    /// Whether the open group commits now rather than let more requests join.
    /// Each commit writes every page its transaction touched, and requests
    /// share their hot pages (the channel's and the outbox's last ones, the
    /// indexes' right edges): a group of dozens writes a few times the pages of
    /// one request, not dozens of times. So the finisher lets the requests that
    /// wait for the writer, or are about to, join first, up to
    /// [`MAX_GROUP_MEMBERS`] or [`MAX_GROUP_AGE`].
    fn group_is_full(&self, group: &Group) -> bool {
        group.state != TxState::Open
            || group.members.len() >= MAX_GROUP_MEMBERS
            || group.opened_at.elapsed() >= MAX_GROUP_AGE
    }

    /// Transactions committed since start.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Commits the open group. The lock is held, so no request is inside a
    /// savepoint, except one that was cancelled there.
    fn finish(&self, group: &mut Group) {
        settle(group);
        if group.state != TxState::Open {
            return;
        }
        // A cancelled COMMIT (only when the runtime stops) leaves this state behind.
        group.state = TxState::Beginning;
        match group.conn_mut().batch("COMMIT") {
            Ok(()) => {
                group.state = TxState::Idle;
                self.commits.fetch_add(1, Ordering::Relaxed);
                if !group.members.is_empty() {
                    self.groups.fetch_add(1, Ordering::Relaxed);
                    self.members.fetch_add(group.members.len() as u64, Ordering::Relaxed);
                }
                for member in group.members.drain(..) {
                    let _ = member.send(Ok(()));
                }
                self.committed.committed(std::mem::take(&mut group.events));
            }
            Err(e) => abandon(group, Some(Arc::new(e))),
        }
    }
}

impl Group {
    /// Forgets the events of the request whose savepoint was rolled back.
    fn drop_request_events(&mut self) {
        let from = self.request_events_from.min(self.events.len());
        self.events.truncate(from);
    }

    fn conn_mut(&mut self) -> &mut SqliteWriter {
        // Only called in states where a transaction holds the connection.
        self.writer.as_mut().expect("an open write transaction holds its connection")
    }
}

/// Brings a transaction left in the middle of a step back to a known state.
fn settle(group: &mut Group) {
    match group.state {
        TxState::Idle | TxState::Open => {}
        // `BEGIN` sent, answer unknown: no member can be waiting yet.
        TxState::Beginning => abandon(group, None),
        TxState::InRequest | TxState::Releasing => recover(group),
    }
}

/// Undoes whatever the request inside the savepoint wrote, and leaves the
/// group's transaction open for the others. When the savepoint cannot be
/// rolled back to, the group is given up: SQLite rolls a whole transaction back
/// by itself on some errors (I/O, a full disk or memory in a statement without
/// a statement journal), and then neither the savepoint nor the members'
/// released writes exist any more. The one exception: after a `RELEASE` whose
/// answer was not seen, a savepoint that is gone means the release went
/// through, and the request's writes stay in the group, as any write whose
/// caller left after asking to commit.
fn recover(group: &mut Group) {
    let released = group.state == TxState::Releasing;
    match group.conn_mut().batch("ROLLBACK TO SAVEPOINT request") {
        Ok(()) => {
            group.drop_request_events();
            match group.conn_mut().batch("RELEASE SAVEPOINT request") {
                Ok(()) => group.state = TxState::Open,
                Err(e) => abandon(group, Some(Arc::new(e))),
            }
        }
        Err(e) if released && e.to_string().contains("no such savepoint") => group.state = TxState::Open,
        Err(e) => abandon(group, Some(Arc::new(e))),
    }
}

/// Gives up the group: every waiting member gets the error, and the connection is
/// closed rather than returned, which rolls back whatever it held.
fn abandon(group: &mut Group, cause: Option<Arc<sqlx::Error>>) {
    let cause = cause.unwrap_or_else(|| {
        Arc::new(sqlx::Error::Protocol("the write transaction was abandoned in an unknown state".to_owned()))
    });
    for member in group.members.drain(..) {
        let _ = member.send(Err(Arc::clone(&cause)));
    }
    // Rolled back with the connection: nothing of it is handed over.
    group.events.clear();
    // Closing the connection rolls back whatever it held.
    group.writer = None;
    group.state = TxState::Idle;
}

/// One request's part of a group: it holds the writer from `begin` until its
/// savepoint is released. The caller can go away at any `.await` (its client
/// hung up); dropping the member then settles the transaction on a task of its
/// own (a request inside its savepoint is rolled back to it) rather than leave
/// it half-way, and the writer stays locked until that is done.
pub(crate) struct Member {
    group: Option<OwnedMutexGuard<Group>>,
    gate: Arc<GroupCommit>,
}

impl Member {
    fn group(&mut self) -> &mut Group {
        self.group.as_mut().expect("a member holds the writer until it commits")
    }

    pub(crate) fn conn(&mut self) -> &mut SqliteWriter {
        self.group().conn_mut()
    }

    /// Releases the savepoint, then waits for the group to commit. `events`
    /// are the ones the request appended, in order.
    pub(crate) async fn commit(mut self, events: Vec<OutboxEvent>) -> StoreResult<()> {
        let group = self.group();
        // Joined before the release, so a release whose answer is lost (the
        // caller went away) keeps them exactly when it keeps the writes.
        group.events.extend(events);
        group.state = TxState::Releasing;
        if let Err(e) = group.conn_mut().batch("RELEASE SAVEPOINT request") {
            // The release was answered: the savepoint is as it was before it.
            group.state = TxState::InRequest;
            recover(group);
            return Err(e.into());
        }
        group.state = TxState::Open;
        let (answer, outcome) = oneshot::channel();
        group.members.push(answer);
        // Dropping the member queues the finisher and lets the next request in.
        drop(self);
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::GroupCommit(e)),
            // The group was dropped without an answer (the store is gone).
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let Some(group) = self.group.take() else { return };
        match group.state {
            TxState::Idle => {}
            TxState::Open => {
                drop(group);
                self.gate.queue_finisher();
            }
            _ => self.gate.settle_after_cancel(group),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Row;

    use crate::sql::{query, Exec, SqlOptions, SqlStore};
    use crate::{ConfigStore, Store, StoreResult};

    async fn sqlite() -> (SqlStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("solo.db").display());
        (SqlStore::connect(&url, &SqlOptions::default()).await.expect("connect"), dir)
    }

    /// One request: writes `key`, then, when it is meant to fail, breaks the
    /// primary key half-way through (after a write of its own that must vanish).
    async fn request(store: SqlStore, n: usize, fail: bool) -> StoreResult<()> {
        let mut tx = store.begin().await?;
        let insert = "INSERT INTO config (scope, key, value, updated_at) VALUES ('test', $1, '1', 0)";
        tx.execute(query(insert).bind(format!("k{n}"))).await?;
        if fail {
            tx.execute(query(insert).bind(format!("k{n}"))).await?;
        }
        store.commit_with_events(tx).await
    }

    async fn stored_keys(store: &SqlStore) -> Vec<String> {
        let rows = sqlx::query("SELECT key FROM config WHERE scope = 'test' ORDER BY key")
            .fetch_all(&store.read)
            .await
            .expect("read keys");
        rows.iter().map(|row| row.get::<String, _>("key")).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_fails_alone_and_its_group_commits_the_rest() {
        let (store, _dir) = sqlite().await;
        let requests: Vec<_> = (0..200).map(|n| tokio::spawn(request(store.clone(), n, n % 7 == 3))).collect();
        let mut expected = Vec::new();
        for (n, handle) in requests.into_iter().enumerate() {
            let outcome = handle.await.expect("request task");
            if n % 7 == 3 {
                assert!(outcome.is_err(), "request {n} broke a primary key and must fail");
            } else {
                outcome.unwrap_or_else(|e| panic!("request {n} failed: {e}"));
                expected.push(format!("k{n}"));
            }
        }
        expected.sort();
        assert_eq!(stored_keys(&store).await, expected, "every success kept, nothing of a failure");
        let (groups, members) = store.group_commits().expect("SQLite commits in groups");
        assert_eq!(members, expected.len() as u64);
        assert!(groups < members, "200 requests at once share commits: {groups} groups");
    }

    /// One request that appends an event, then fails after it when `fail`.
    async fn event_request(store: SqlStore, n: usize, fail: bool) -> StoreResult<()> {
        use solo_domain::event::{Subject, SubjectKind};
        use solo_domain::{EventPayload, PostId, UserId, WorkspaceId};
        let mut tx = store.begin().await?;
        let event = crate::sql::NewEvent {
            subject: Subject { kind: SubjectKind::Post, id: format!("p{n}") },
            version: 1,
            payload: EventPayload::CommunityPosted {
                workspace_id: WorkspaceId::generate(),
                post_id: PostId::generate(),
                author_id: UserId::generate(),
                body: format!("post {n}"),
                mentions: vec![],
            },
        };
        crate::sql::append_events(&mut tx, &crate::WriteContext::system(""), vec![event], 1).await?;
        if fail {
            let insert = "INSERT INTO config (scope, key, value, updated_at) VALUES ('test', 'dup', '1', 0)";
            tx.execute(query(insert)).await?;
            tx.execute(query(insert)).await?;
        }
        store.commit_with_events(tx).await
    }

    /// The dispatcher's in-memory feed gets exactly the committed events, in
    /// `seq` order: those of failed requests (rolled back to their savepoint)
    /// are not in it, and it matches the outbox in the database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn committed_events_are_handed_over_in_order_and_only_those() {
        use crate::{EventStore, Taken};
        let (store, _dir) = sqlite().await;
        let requests: Vec<_> = (0..120).map(|n| tokio::spawn(event_request(store.clone(), n, n % 5 == 2))).collect();
        for (n, handle) in requests.into_iter().enumerate() {
            let outcome = handle.await.expect("request task");
            assert_eq!(outcome.is_err(), n % 5 == 2, "request {n}: {outcome:?}");
        }
        let handoff = store.committed_events().expect("SQLite hands events over");
        let Taken::Events(handed) = handoff.take(usize::MAX) else { panic!("nothing overflowed") };
        let outbox = store.unpublished_events(1_000, 0).await.expect("outbox");
        let seqs = |events: &[crate::OutboxEvent]| events.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(handed.len(), 96, "120 requests, every fifth failed");
        assert_eq!(seqs(&handed), seqs(&outbox), "the same events, in the same order");
        assert!(handed.windows(2).all(|w| w[0].seq < w[1].seq));
        for (mine, stored) in handed.iter().zip(&outbox) {
            assert_eq!(mine.envelope, stored.envelope);
            assert_eq!(mine.routes.len(), stored.routes.len());
            assert_eq!(mine.routes[0].offset, stored.routes[0].offset);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_cancelled_inside_its_savepoint_leaves_nothing_and_blocks_nobody() {
        let (store, _dir) = sqlite().await;
        // Holds the writer inside its savepoint until it is cancelled.
        let held = store.clone();
        let (inside_tx, inside) = tokio::sync::oneshot::channel();
        let cancelled = tokio::spawn(async move {
            let mut tx = held.begin().await.expect("begin");
            tx.execute(query(
                "INSERT INTO config (scope, key, value, updated_at) VALUES ('test', 'cancelled', '1', 0)",
            ))
            .await
            .expect("insert");
            let _ = inside_tx.send(());
            std::future::pending::<()>().await;
            drop(tx);
        });
        inside.await.expect("the request got inside");
        let waiting: Vec<_> = (0..20).map(|n| tokio::spawn(request(store.clone(), n, false))).collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancelled.abort();
        for handle in waiting {
            handle.await.expect("request task").expect("a request queued behind the cancelled one commits");
        }
        let keys = stored_keys(&store).await;
        assert_eq!(keys.len(), 20, "{keys:?}");
        assert!(!keys.contains(&"cancelled".to_owned()));
        // Writes outside a group still get the connection between groups.
        store.config_put("test", "after", &serde_json::json!(1)).await.expect("a plain write");
    }

    /// A caller that goes away while its group's `BEGIN` waits for another
    /// process's lock must not leave the transaction open with nobody to end it:
    /// the writes outside a group (sessions, settings, the outbox's marks) would
    /// wait for the connection until they time out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_abandoned_while_its_begin_waits_leaves_the_writer_free() {
        use sqlx::{ConnectOptions, Connection, Executor};
        let (store, dir) = sqlite().await;
        let mut intruder = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("solo.db"))
            .connect()
            .await
            .expect("another connection");
        intruder.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
        let waiting = tokio::spawn(request(store.clone(), 1, false));
        tokio::time::sleep(Duration::from_millis(200)).await;
        waiting.abort();
        intruder.execute("ROLLBACK").await.expect("release the lock");
        intruder.close().await.expect("close");
        let plain =
            tokio::time::timeout(Duration::from_secs(3), store.config_put("test", "after", &serde_json::json!(1)))
                .await
                .expect("a plain write gets the connection without waiting out its timeout");
        plain.expect("a plain write");
        request(store.clone(), 2, false).await.expect("the next grouped write");
        assert!(stored_keys(&store).await.contains(&"k2".to_owned()));
    }
}
