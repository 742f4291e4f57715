//! The SQL implementation of the store, on SQLite (embedded mode) or PostgreSQL
//! (cluster mode), chosen by the database URL.
//!
//! Both backends run the same statements through sqlx's `Any` driver: every
//! statement here is written in the common subset (`$N` parameters, `RETURNING`,
//! `ON CONFLICT`), instants are integer milliseconds and flags are integers, so
//! one implementation serves both and the conformance tests hold it to that.
//! Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`).
//!
//! SQLite allows one writer at a time; rather than let concurrent writers
//! collide on the file lock and retry, embedded mode funnels every write
//! through one connection of its own ([`writer`], driven directly rather than
//! through sqlx), while reads use a pool, and the write transactions of
//! concurrent requests are committed together ([`group_commit`]). Single
//! statements join the group too ([`SqlStore::write_one`]). The write code is
//! written once against [`Exec`], which PostgreSQL serves through sqlx; there
//! one pool serves reads and writes, one transaction per request.
//!
//! (About 550 lines before its unit tests: the connection setup, the write
//! transaction every module writes through (`WriteTx`, `write_one`, `commit`)
//! and `append_events`, which every write composes; split apart, they would
//! have to be exported to each other.)

mod accounts;
mod community;
mod config;
mod direct_notifications;
mod events;
mod exec;
mod explain;
mod group_commit;
mod inbox_state;
mod missions;
mod notifications;
mod preferences;
mod workstations;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use solo_domain::event::{new_trace_id, Subject};
use solo_domain::{EventEnvelope, EventPayload};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::Notify;

pub(crate) use self::exec::{query, Exec, Query, Row};
use self::group_commit::{GroupCommit, Member};
use crate::{CommittedEvents, OutboxEvent, Route, Store, StoreError, StoreResult, WriteContext};

/// Which SQL engine is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Connection settings for [`SqlStore::connect`].
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// Upper bound on pooled connections (reads, and writes on PostgreSQL).
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self { max_connections: 8, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The store on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    read: AnyPool,
    /// PostgreSQL's pool for writes (the same as `read`); on SQLite only the
    /// migrations use it, before the writer opens.
    write: AnyPool,
    dialect: Dialect,
    outbox_signal: Arc<Notify>,
    /// SQLite's writer, shared by the requests of a group (None on PostgreSQL).
    group_commit: Option<Arc<GroupCommit>>,
    /// Committed events handed to the dispatcher in memory (SQLite only).
    committed: Option<Arc<CommittedEvents>>,
    /// Direct notifications waiting for the next batch ([`direct_notifications`]).
    direct: Arc<direct_notifications::DirectQueue>,
    /// SQLite: the shared lock that keeps a restore from replacing the
    /// database under this process (see [`crate::database_lock`]).
    _in_use: Option<Arc<crate::database_lock::InUse>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("dialect", &self.dialect).finish_non_exhaustive()
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The latest SQLite migration this build knows (a backup from a later one is
/// not restored by it).
pub(crate) fn sqlite_schema_version() -> i64 {
    SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

impl SqlStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str, options: &SqlOptions) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(StoreError::Invalid("the database URL must start with sqlite:// or postgres://".to_owned()));
        };
        let connect_options = AnyConnectOptions::from_str(url)?;

        let store = match dialect {
            Dialect::Sqlite => {
                let pool = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(1)
                        .acquire_timeout(options.acquire_timeout)
                        .after_connect(|conn, _meta| Box::pin(async move { prepare_sqlite(conn).await }))
                };
                let file = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.get_filename().to_path_buf();
                let in_use = Arc::new(crate::database_lock::InUse::hold(&file).map_err(sqlx::Error::Io)?);
                let write = pool(1).connect_with(connect_options.clone()).await?;
                let read = pool(options.max_connections.max(1)).connect_with(connect_options).await?;
                let outbox_signal = Arc::new(Notify::new());
                let committed = Arc::new(CommittedEvents::new(Arc::clone(&outbox_signal)));
                let group_commit = GroupCommit::new(file.clone(), options.acquire_timeout, Arc::clone(&committed));
                let alive = Arc::downgrade(&group_commit);
                writer::spawn_checkpointer(file, move || alive.upgrade().map(|g| g.commits()));
                Self {
                    read,
                    write,
                    dialect,
                    outbox_signal,
                    group_commit: Some(group_commit),
                    committed: Some(committed),
                    direct: Arc::default(),
                    _in_use: Some(in_use),
                }
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect_options)
                    .await?;
                Self {
                    read: pool.clone(),
                    write: pool,
                    dialect,
                    outbox_signal: Arc::new(Notify::new()),
                    group_commit: None,
                    committed: None,
                    direct: Arc::default(),
                    _in_use: None,
                }
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations this build knows that the database lacks.
    ///
    /// A rolling upgrade runs the previous release beside the next one on the
    /// same database, after the next one migrated it. Migrations only expand
    /// the schema (expand/contract, see `docs/dev/runbooks/cluster.md`), so a
    /// build that finds migrations it does not know runs on, with a warning,
    /// instead of refusing to start.
    async fn migrate(&self) -> StoreResult<()> {
        let known = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        let migrator = sqlx::migrate::Migrator {
            migrations: known.migrations.clone(),
            ignore_missing: true,
            ..sqlx::migrate::Migrator::DEFAULT
        };
        migrator.run(&self.write).await?;
        let newest_known = known.iter().map(|m| m.version).max().unwrap_or(0);
        let newest_applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(&self.write).await?;
        if let Some(applied) = newest_applied.filter(|applied| *applied > newest_known) {
            tracing::warn!(
                schema = applied,
                known = newest_known,
                "the database's schema is newer than this build: running on it (upgrade this node next)"
            );
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a write transaction. On SQLite it is the request's savepoint in
    /// the group being committed ([`group_commit`]); the group's transaction
    /// takes the write lock at once (`BEGIN IMMEDIATE`), so another process
    /// holding it makes this wait up to the busy timeout here, rather than fail
    /// half-way through. On PostgreSQL it is a transaction of its own.
    pub(crate) async fn begin(&self) -> StoreResult<WriteTx> {
        if let Some(group_commit) = &self.group_commit {
            return Ok(WriteTx {
                conn: TxConn::Grouped(group_commit.begin().await?),
                events: Vec::new(),
                _span: transaction_span(false),
            });
        }
        // Closed unless committed, whatever happens from here on (see `WriteTx`).
        let mut tx = OwnTx { conn: self.write.acquire().await?, committed: false };
        Executor::execute(&mut *tx.conn, "BEGIN").await?;
        Ok(WriteTx { conn: TxConn::Own(tx), events: Vec::new(), _span: transaction_span(false) })
    }

    /// Commits a transaction that wrote events and wakes the dispatcher. Returns
    /// once the writes are committed (on SQLite, with the rest of their group).
    pub(crate) async fn commit_with_events(&self, tx: WriteTx) -> StoreResult<()> {
        // SQLite's group hands the events to the dispatcher (and wakes it) once
        // committed; PostgreSQL's dispatcher reads them from the outbox.
        let wake_dispatcher = !tx.hands_over_events();
        self.commit(tx).await?;
        if wake_dispatcher {
            self.outbox_signal.notify_one();
        }
        Ok(())
    }

    /// Runs one write statement as a transaction of its own; returns how many
    /// rows it changed. On SQLite it joins the write group like any request, so
    /// it takes its turn with them rather than wait on the file's lock, which
    /// the writer holds nearly all the time under load. On PostgreSQL it runs
    /// on a pooled connection by itself.
    pub(crate) async fn write_one(&self, statement: Query<'_>) -> StoreResult<u64> {
        if self.group_commit.is_none() {
            let mut conn = self.write.acquire().await?;
            return Exec::execute(&mut *conn, statement).await;
        }
        let mut tx = self.begin().await?;
        let changed = tx.execute(statement).await?;
        self.commit(tx).await?;
        Ok(changed)
    }

    /// Commits a transaction; one that appended events commits with
    /// [`SqlStore::commit_with_events`], which also wakes the dispatcher.
    pub(crate) async fn commit(&self, tx: WriteTx) -> StoreResult<()> {
        match tx.conn {
            TxConn::Grouped(member) => member.commit(tx.events).await,
            TxConn::Own(mut tx) => {
                Executor::execute(&mut *tx.conn, "COMMIT").await?;
                tx.committed = true;
                Ok(())
            }
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// One request's write transaction, begun and committed with plain SQL rather
/// than sqlx's transaction bookkeeping.
///
/// When a statement or the `COMMIT` fails (disk full, I/O error, lock timeout),
/// SQLite may or may not have rolled the transaction back by itself. sqlx's own
/// transaction bookkeeping cannot tell, and once it disagrees with the database
/// later transactions turn into savepoints inside one that never commits: every
/// later write reports success and is lost (the full-disk fault test found
/// this). So a transaction that does not end in a successful `COMMIT`, for any
/// reason (error, cancelled request), takes its connection with it: closing a
/// connection rolls back whatever it had open, and the pool opens a fresh one.
/// On SQLite the group commit keeps the same rule for the group's
/// transaction: a request that fails rolls back to its own savepoint, and
/// when that is not possible the group's connection is closed.
pub(crate) struct WriteTx {
    conn: TxConn,
    /// The events appended in it, in order ([`append_events`]): on SQLite they
    /// go to the dispatcher in memory once committed.
    events: Vec<OutboxEvent>,
    /// Lives as long as the transaction, for exported traces (a child of the
    /// request's span); none otherwise.
    _span: tracing::Span,
}

/// The span of a request's write transaction, when spans are exported
/// (`solo_domain::spans`). `batched`: the request's rows are written by a
/// batch writer (direct notifications) and the span covers its wait for that
/// batch's commit. Outside any request (a batch writer, background work)
/// there is none: it would be a trace of its own, with no request to follow.
pub(crate) fn transaction_span(batched: bool) -> tracing::Span {
    if !solo_domain::spans::exported() || tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    tracing::info_span!("store.transaction", batched)
}

impl WriteTx {
    /// Whether the events appended in it go to the dispatcher in memory once
    /// committed (a member of SQLite's group), rather than only to the outbox.
    fn hands_over_events(&self) -> bool {
        matches!(self.conn, TxConn::Grouped(_))
    }
}

enum TxConn {
    /// A request's savepoint in SQLite's current group.
    Grouped(Member),
    /// A PostgreSQL transaction of its own.
    Own(OwnTx),
}

/// A transaction on a connection of the write pool, which it closes when
/// dropped uncommitted.
pub(crate) struct OwnTx {
    conn: PoolConnection<Any>,
    committed: bool,
}

impl Drop for OwnTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

#[async_trait]
impl Exec for WriteTx {
    async fn fetch_all(&mut self, query: Query<'_>) -> StoreResult<Vec<Row>> {
        match &mut self.conn {
            TxConn::Grouped(member) => member.conn().fetch_all(query).await,
            TxConn::Own(tx) => Exec::fetch_all(&mut *tx.conn, query).await,
        }
    }

    async fn execute(&mut self, query: Query<'_>) -> StoreResult<u64> {
        match &mut self.conn {
            TxConn::Grouped(member) => member.conn().execute(query).await,
            TxConn::Own(tx) => Exec::execute(&mut *tx.conn, query).await,
        }
    }
}

/// Per-connection SQLite settings. WAL lets readers proceed while the writer
/// commits; `synchronous = NORMAL` is durable across application crashes in WAL
/// mode (only an OS crash may lose the last commits) and much faster than FULL.
/// Temporary storage in memory: each request of a group commit runs in a
/// savepoint, whose undo copy of every page it touches (the statement journal)
/// would otherwise be written to a temporary file, a `pwrite` per page.
async fn prepare_sqlite(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 5000",
    ] {
        Executor::execute(&mut *conn, pragma).await?;
    }
    Ok(())
}

/// Appends an event inside the caller's transaction, and the notifications its
/// rules call for (each with its own `notification.created` event). The caller
/// commits with [`SqlStore::commit_with_events`].
pub(crate) async fn append_event(
    tx: &mut WriteTx,
    ctx: &WriteContext,
    subject: Subject,
    version: i64,
    payload: EventPayload,
    now_ms: i64,
) -> StoreResult<EventEnvelope> {
    let envelope = append_event_only(tx, ctx, subject, version, payload, now_ms).await?;
    if solo_domain::rules::may_notify(&envelope.payload) {
        notifications::derive(tx, ctx, &envelope).await?;
    }
    Ok(envelope)
}

/// Appends one event: see [`append_events`].
pub(crate) async fn append_event_only(
    tx: &mut WriteTx,
    ctx: &WriteContext,
    subject: Subject,
    version: i64,
    payload: EventPayload,
    now_ms: i64,
) -> StoreResult<EventEnvelope> {
    let mut appended = append_events(tx, ctx, vec![NewEvent { subject, version, payload }], now_ms).await?;
    appended.pop().ok_or_else(|| StoreError::Corrupt("an appended event went missing".to_owned()))
}

/// An event to append: what it is about, the subject's version, what happened.
pub(crate) struct NewEvent {
    pub subject: Subject,
    pub version: i64,
    pub payload: EventPayload,
}

/// Rows per multi-row statement with `params_per_row` bound parameters each:
/// at most about 250 parameters, since SQLite looks each parameter's name up
/// in a list as long as the statement's (binding is quadratic in their number:
/// at 1,400 per statement it was a tenth of a big fan-out's time, at 500 still
/// 8 %; 250 answered a thousand-watcher stage change ~6 % sooner than 500, and
/// 150 no sooner than 250), and at most 100 rows; so a thousand rows take a
/// few dozen statements.
pub(crate) fn rows_per_statement(params_per_row: usize) -> usize {
    (250 / params_per_row.max(1)).clamp(1, 100)
}

/// Appends events in the caller's transaction, in order: takes each channel's
/// next offsets (all the offsets a channel needs in one statement), stores each
/// envelope serialized once and records the channel history. Statements are
/// per batch, not per event, so a stage change notifying a thousand watchers
/// costs a few dozen statements rather than thousands.
pub(crate) async fn append_events(
    tx: &mut WriteTx,
    ctx: &WriteContext,
    events: Vec<NewEvent>,
    now_ms: i64,
) -> StoreResult<Vec<EventEnvelope>> {
    Ok(append_events_routed(tx, ctx, events, now_ms).await?.0)
}

/// [`append_events`], also answering the channels and offsets each event took
/// (for callers that report them, as the server API's publish does).
pub(crate) async fn append_events_routed(
    tx: &mut WriteTx,
    ctx: &WriteContext,
    events: Vec<NewEvent>,
    now_ms: i64,
) -> StoreResult<(Vec<EventEnvelope>, Vec<Vec<Route>>)> {
    append_events_of(tx, events.into_iter().map(|event| (event, ctx)).collect(), now_ms).await
}

/// [`append_events_routed`] for events of several requests written in one
/// transaction (a batch of notifications): each keeps its own actor and trace
/// id. Events whose context has no trace id share one new trace id.
pub(crate) async fn append_events_of(
    tx: &mut WriteTx,
    events: Vec<(NewEvent, &WriteContext)>,
    now_ms: i64,
) -> StoreResult<(Vec<EventEnvelope>, Vec<Vec<Route>>)> {
    let mut untraced: Option<String> = None;
    let envelopes: Vec<EventEnvelope> = events
        .into_iter()
        .map(|(event, ctx)| {
            let trace_id = if ctx.trace_id.is_empty() {
                untraced.get_or_insert_with(new_trace_id).clone()
            } else {
                ctx.trace_id.clone()
            };
            EventEnvelope {
                id: uuid::Uuid::now_v7(),
                payload: event.payload,
                version: event.version,
                ts: now_ms,
                trace_id,
                actor: ctx.actor.clone(),
                subject: event.subject,
            }
        })
        .collect();
    let channels_of: Vec<Vec<String>> =
        envelopes.iter().map(|e| e.channels().iter().map(ToString::to_string).collect()).collect();

    // How many offsets each channel takes. Rows are locked in one global order
    // (by name), so two transactions that touch the same channels cannot
    // deadlock on PostgreSQL.
    let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
    for name in channels_of.iter().flatten() {
        *wanted.entry(name.as_str()).or_default() += 1;
    }
    let wanted: Vec<(&str, i64)> = wanted.into_iter().collect();
    // Per channel: the next offset to hand out, and the stream's epoch.
    let mut next: HashMap<String, (u64, String)> = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(rows_per_statement(4)) {
        let sql = format!(
            "INSERT INTO channels (name, epoch, top_offset, updated_at) VALUES {} \
             ON CONFLICT (name) DO UPDATE SET top_offset = channels.top_offset + excluded.top_offset, \
             updated_at = excluded.updated_at RETURNING name, top_offset, epoch",
            value_rows(chunk.len(), 4, "")
        );
        let mut statement = query(sql);
        for (name, count) in chunk {
            statement = statement.bind(*name).bind(new_epoch()).bind(*count).bind(now_ms);
        }
        let taken: HashMap<&str, i64> = chunk.iter().copied().collect();
        for row in tx.fetch_all(statement).await? {
            let name: String = row.try_get("name")?;
            let top: i64 = row.try_get("top_offset")?;
            let count = taken.get(name.as_str()).copied().unwrap_or(1);
            let first = u64::try_from(top - count + 1).map_err(|_| StoreError::Corrupt(format!("offset {top}")))?;
            next.insert(name, (first, row.try_get("epoch")?));
        }
    }
    let mut routes_of: Vec<Vec<Route>> = Vec::with_capacity(envelopes.len());
    for names in &channels_of {
        let mut routes = Vec::with_capacity(names.len());
        for name in names {
            let (offset, epoch) =
                next.get_mut(name).ok_or_else(|| StoreError::Corrupt(format!("no offset taken for {name}")))?;
            routes.push(Route { channel: name.clone(), offset: *offset, epoch: epoch.clone() });
            *offset += 1;
        }
        routes_of.push(routes);
    }

    // Each envelope serialized once: stored, and handed to the dispatcher as is.
    let mut rows: Vec<(&EventEnvelope, String, &Vec<Route>)> = Vec::with_capacity(envelopes.len());
    for (envelope, routes) in envelopes.iter().zip(&routes_of) {
        rows.push((envelope, serde_json::to_string(envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?, routes));
    }
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(envelopes.len());
    for chunk in rows.chunks(rows_per_statement(9)) {
        let sql = format!(
            "INSERT INTO events (id, type, subject_kind, subject_id, version, ts, trace_id, envelope, routes) \
             VALUES {} RETURNING id, seq",
            value_rows(chunk.len(), 9, "")
        );
        let mut statement = query(sql);
        for (envelope, envelope_json, routes) in chunk {
            let routes_json = serde_json::to_string(routes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            statement = statement
                .bind(envelope.id.to_string())
                .bind(envelope.payload.type_name())
                .bind(subject_kind_name(&envelope.subject))
                .bind(envelope.subject.id.as_str())
                .bind(envelope.version)
                .bind(now_ms)
                .bind(envelope.trace_id.as_str())
                .bind(envelope_json.as_str())
                .bind(routes_json);
        }
        for row in tx.fetch_all(statement).await? {
            seqs.insert(row.try_get("id")?, row.try_get("seq")?);
        }
    }

    // Every route's history row, a chunk of rows per statement.
    let mut history: Vec<(&Route, i64)> = Vec::new();
    // Only SQLite's group commit hands events to the dispatcher in memory.
    let hand_over = tx.hands_over_events();
    let mut outbox: Vec<OutboxEvent> = Vec::with_capacity(if hand_over { rows.len() } else { 0 });
    for (envelope, envelope_json, routes) in rows {
        let seq = *seqs
            .get(&envelope.id.to_string())
            .ok_or_else(|| StoreError::Corrupt(format!("event {} was not stored", envelope.id)))?;
        history.extend(routes.iter().map(|route| (route, seq)));
        if !hand_over {
            continue;
        }
        outbox.push(OutboxEvent {
            seq,
            event_type: envelope.payload.type_name().to_owned(),
            trace_id: envelope.trace_id.clone(),
            envelope: envelope_json,
            routes: routes.clone(),
        });
    }
    for chunk in history.chunks(rows_per_statement(4)) {
        let sql = format!(
            "INSERT INTO publications (channel, stream_offset, event_seq, ts) VALUES {}",
            value_rows(chunk.len(), 4, "")
        );
        let mut statement = query(sql);
        for (route, seq) in chunk {
            statement = statement.bind(route.channel.as_str()).bind(route.offset as i64).bind(*seq).bind(now_ms);
        }
        tx.execute(statement).await?;
    }
    tx.events.extend(outbox);
    Ok((envelopes, routes_of))
}

fn subject_kind_name(subject: &Subject) -> String {
    serde_json::to_value(subject.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A fresh stream epoch: 8 random hex digits. It changes only when history is lost.
pub(crate) fn new_epoch() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The rows of a multi-row `VALUES`: `rows` rows of `per_row` parameters each,
/// numbered from `$1` on, each followed by `constants` (e.g. `1, NULL`) if any.
pub(crate) fn value_rows(rows: usize, per_row: usize, constants: &str) -> String {
    let tail = if constants.is_empty() { String::new() } else { format!(", {constants}") };
    (0..rows).map(|i| format!("({}{tail})", placeholders(i * per_row, per_row))).collect::<Vec<_>>().join(", ")
}

/// `$1, $2, …, $n` starting after `offset` parameters, for `IN (…)` lists.
pub(crate) fn placeholders(offset: usize, n: usize) -> String {
    (1..=n).map(|i| format!("${}", offset + i)).collect::<Vec<_>>().join(", ")
}

pub(crate) fn decode<T>(value: Option<T>, what: &str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("unexpected {what} in the database")))
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    fn group_commits(&self) -> Option<(u64, u64)> {
        self.group_commit.as_ref().map(|g| g.committed())
    }

    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

#[cfg(test)]
mod tests {
    use solo_domain::event::SubjectKind;
    use solo_domain::{Channel, PostId, UserId, WorkspaceId};

    use super::*;
    use crate::EventStore;

    /// Several events of one batch on the same channel take consecutive
    /// offsets from one statement, in order, after the offsets already taken.
    #[tokio::test]
    async fn events_of_one_batch_share_a_channel_without_gaps() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("solo.db").display());
        let store = SqlStore::connect(&url, &SqlOptions::default()).await.expect("connect");
        let workspace = WorkspaceId::generate();
        let post = |n: usize| NewEvent {
            subject: Subject { kind: SubjectKind::Post, id: format!("p{n}") },
            version: 1,
            payload: EventPayload::CommunityPosted {
                workspace_id: workspace.clone(),
                post_id: PostId::generate(),
                author_id: UserId::generate(),
                body: format!("post {n}"),
                mentions: vec![],
            },
        };
        let ctx = WriteContext::system("");
        for batch in [vec![post(0)], vec![post(1), post(2), post(3)]] {
            let mut tx = store.begin().await.expect("begin");
            append_events(&mut tx, &ctx, batch, 1).await.expect("append");
            store.commit_with_events(tx).await.expect("commit");
        }
        let channel = Channel::Workspace(workspace);
        let history = store.channel_history(&channel, 0, 10).await.expect("history");
        let offsets: Vec<u64> = history.iter().map(|h| h.offset).collect();
        assert_eq!(offsets, vec![1, 2, 3, 4]);
        let bodies: Vec<String> = history
            .iter()
            .map(|h| {
                let envelope: serde_json::Value = serde_json::from_str(&h.envelope).expect("envelope");
                envelope["data"]["body"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        assert_eq!(bodies, ["post 0", "post 1", "post 2", "post 3"], "offsets follow the batch's order");
        assert_eq!(store.channel_position(&channel).await.expect("position").offset, 4);
    }
}
