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
//! through a single pooled connection (`write`), while reads use a separate
//! pool, and the write transactions of concurrent requests are committed
//! together ([`group_commit`]). PostgreSQL uses one pool for both, one
//! transaction per request.

mod accounts;
mod community;
mod config;
mod events;
mod group_commit;
mod missions;
mod notifications;
mod workstations;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use solo_domain::event::{new_trace_id, Subject};
use solo_domain::{EventEnvelope, EventPayload};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use tokio::sync::Notify;

use self::group_commit::{GroupCommit, Member};
use crate::{Route, Store, StoreError, StoreResult, WriteContext};

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
    write: AnyPool,
    dialect: Dialect,
    outbox_signal: Arc<Notify>,
    /// SQLite's writer, shared by the requests of a group (None on PostgreSQL).
    group_commit: Option<Arc<GroupCommit>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("dialect", &self.dialect).finish_non_exhaustive()
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
                let write = pool(1).connect_with(connect_options.clone()).await?;
                let read = pool(options.max_connections.max(1)).connect_with(connect_options).await?;
                let outbox_signal = Arc::new(Notify::new());
                let group_commit = Some(GroupCommit::new(write.clone(), Arc::clone(&outbox_signal)));
                Self { read, write, dialect, outbox_signal, group_commit }
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
                }
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await?;
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
            return Ok(WriteTx::Grouped(group_commit.begin().await?));
        }
        // Closed unless committed, whatever happens from here on (see `WriteTx`).
        let mut tx = OwnTx { conn: self.write.acquire().await?, committed: false };
        tx.conn.execute("BEGIN").await?;
        Ok(WriteTx::Own(tx))
    }

    /// Commits a transaction that wrote events and wakes the dispatcher. Returns
    /// once the writes are committed (on SQLite, with the rest of their group).
    pub(crate) async fn commit_with_events(&self, tx: WriteTx) -> StoreResult<()> {
        match tx {
            WriteTx::Grouped(member) => match &self.group_commit {
                Some(group_commit) => group_commit.commit(member).await,
                None => Err(StoreError::Corrupt("a grouped write without a group commit".to_owned())),
            },
            WriteTx::Own(mut tx) => {
                tx.conn.execute("COMMIT").await?;
                tx.committed = true;
                self.outbox_signal.notify_one();
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
/// On SQLite the group commit keeps the same rule for the group's transaction.
pub(crate) enum WriteTx {
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

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTx::Grouped(member) => member.conn_ref(),
            WriteTx::Own(tx) => &tx.conn,
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTx::Grouped(member) => member.conn(),
            WriteTx::Own(tx) => &mut tx.conn,
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
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute("PRAGMA temp_store = MEMORY").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute("PRAGMA busy_timeout = 5000").await?;
    Ok(())
}

/// Appends an event inside the caller's transaction, and the notifications its
/// rules call for (each with its own `notification.created` event). The caller
/// commits with [`SqlStore::commit_with_events`].
pub(crate) async fn append_event(
    tx: &mut AnyConnection,
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

/// Appends one event: assigns the next offset of each of its channels, stores the
/// envelope serialized once, and records the channel history.
pub(crate) async fn append_event_only(
    tx: &mut AnyConnection,
    ctx: &WriteContext,
    subject: Subject,
    version: i64,
    payload: EventPayload,
    now_ms: i64,
) -> StoreResult<EventEnvelope> {
    let envelope = EventEnvelope {
        id: uuid::Uuid::now_v7(),
        payload,
        version,
        ts: now_ms,
        trace_id: if ctx.trace_id.is_empty() { new_trace_id() } else { ctx.trace_id.clone() },
        actor: ctx.actor.clone(),
        subject,
    };
    // Lock channel rows in one global order (by name), so two transactions that
    // touch the same channels cannot deadlock on PostgreSQL.
    let mut names: Vec<String> = envelope.channels().iter().map(ToString::to_string).collect();
    names.sort();
    let mut routes = Vec::with_capacity(names.len());
    for name in names {
        let row = sqlx::query(
            "INSERT INTO channels (name, epoch, top_offset, updated_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO UPDATE SET top_offset = channels.top_offset + 1, updated_at = $3 \
             RETURNING top_offset, epoch",
        )
        .bind(&name)
        .bind(new_epoch())
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let offset: i64 = row.try_get("top_offset")?;
        routes.push(Route { channel: name, offset: offset as u64, epoch: row.try_get("epoch")? });
    }
    let envelope_json = serde_json::to_string(&envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let routes_json = serde_json::to_string(&routes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let seq: i64 = sqlx::query(
        "INSERT INTO events (id, type, subject_kind, subject_id, version, ts, trace_id, envelope, routes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
    )
    .bind(envelope.id.to_string())
    .bind(envelope.payload.type_name())
    .bind(subject_kind_name(&envelope.subject))
    .bind(&envelope.subject.id)
    .bind(version)
    .bind(now_ms)
    .bind(&envelope.trace_id)
    .bind(&envelope_json)
    .bind(&routes_json)
    .fetch_one(&mut *tx)
    .await?
    .try_get("seq")?;
    if !routes.is_empty() {
        // Every route's history row in one statement: one round trip, however many channels.
        let rows: Vec<String> = (0..routes.len())
            .map(|i| format!("({}, ${}, ${})", placeholders(i * 2, 2), 2 * routes.len() + 1, 2 * routes.len() + 2))
            .collect();
        let sql =
            format!("INSERT INTO publications (channel, stream_offset, event_seq, ts) VALUES {}", rows.join(", "));
        let mut query = sqlx::query(&sql);
        for route in &routes {
            query = query.bind(&route.channel).bind(route.offset as i64);
        }
        query.bind(seq).bind(now_ms).execute(&mut *tx).await?;
    }
    Ok(envelope)
}

fn subject_kind_name(subject: &Subject) -> String {
    serde_json::to_value(subject.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A fresh stream epoch: 8 random hex digits. It changes only when history is lost.
pub(crate) fn new_epoch() -> String {
    format!("{:08x}", rand::random::<u32>())
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
