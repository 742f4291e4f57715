//! SQLite's write connection, driven by the request that holds the write lock.
//!
//! Through sqlx every SQLite statement is a message to the driver's worker
//! thread and a wake-up back: a notification's dozen statements cost a dozen
//! context switches each way, which was most of the write path's CPU. Here the
//! request that holds the group commit's lock ([`super::group_commit`]) runs its
//! statements on this connection itself, each one a function call of a few
//! microseconds; between statements it gives the runtime its turn when its
//! cooperative budget is spent, so a thousand-row fan-out does not hold a worker
//! thread to itself. Prepared statements are cached per SQL text.
//!
//! The connection never waits on the file lock inside SQLite (`busy_timeout`
//! 0, which would sleep the runtime's thread): taking the lock is retried here
//! with an async pause until the store's acquire timeout. And it never runs a
//! checkpoint in a commit (`wal_autocheckpoint` 0): copying the WAL back into
//! the database, with its `fsync`s, is [`spawn_checkpointer`]'s job, on a blocking
//! thread of its own.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sqlx::error::{DatabaseError, ErrorKind};

use super::exec::{Arg, Exec, Query, Row, Value};
use crate::StoreResult;

/// Prepared statements kept per connection: every write's statements, and the
/// multi-row ones in each size they were used at.
const STATEMENT_CACHE: usize = 256;

/// The write connection of an SQLite database.
pub(crate) struct SqliteWriter {
    conn: Connection,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens the database file (which the migrations created) for writing.
    pub(crate) fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(to_sqlx)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // The same settings as the read pool's connections (`prepare_sqlite`),
        // except the two this connection handles itself (see the module doc).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 0; PRAGMA wal_autocheckpoint = 0;",
        )
        .map_err(to_sqlx)?;
        Ok(Self { conn })
    }

    /// Runs statements without arguments (`BEGIN`, `SAVEPOINT`, `COMMIT`, …).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.conn.execute_batch(sql).map_err(to_sqlx)
    }

    /// `BEGIN IMMEDIATE`, waiting for another process's write lock (an admin
    /// command, a checkpoint's brief lock) with async pauses, up to `timeout`.
    pub(crate) async fn begin_immediate(&mut self, timeout: Duration) -> Result<(), sqlx::Error> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => return Ok(()),
                Err(e) if is_busy(&e) && started.elapsed() < timeout => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(to_sqlx(e)),
            }
        }
    }

    /// Runs one statement: its rows, and how many rows it changed.
    fn run(&mut self, query: &Query<'_>, want_rows: bool) -> Result<(Vec<Row>, u64), sqlx::Error> {
        let sql = numbered_parameters(&query.sql);
        let mut statement = self.conn.prepare_cached(&sql).map_err(to_sqlx)?;
        if statement.parameter_count() != query.args.len() {
            return Err(sqlx::Error::Protocol(format!(
                "the statement takes {} arguments, {} given",
                statement.parameter_count(),
                query.args.len()
            )));
        }
        for (at, arg) in query.args.iter().enumerate() {
            let bound = match arg {
                Arg::NullInt | Arg::NullText => statement.raw_bind_parameter(at + 1, rusqlite::types::Null),
                Arg::Int(n) => statement.raw_bind_parameter(at + 1, n),
                Arg::Text(text) => statement.raw_bind_parameter(at + 1, text.as_ref()),
            };
            bound.map_err(to_sqlx)?;
        }
        let columns: Option<Arc<[String]>> =
            want_rows.then(|| statement.column_names().into_iter().map(str::to_owned).collect());
        let width = statement.column_count();
        let mut rows = Vec::new();
        let mut raw = statement.raw_query();
        while let Some(row) = raw.next().map_err(to_sqlx)? {
            let Some(columns) = &columns else { continue };
            let mut values = Vec::with_capacity(width);
            for at in 0..width {
                values.push(match row.get_ref(at).map_err(to_sqlx)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
                    ValueRef::Blob(blob) => Value::Blob(blob.to_vec()),
                });
            }
            rows.push(Row::Lite { columns: Arc::clone(columns), values });
        }
        drop(raw);
        Ok((rows, self.conn.changes()))
    }
}

#[async_trait]
impl Exec for SqliteWriter {
    async fn fetch_all(&mut self, query: Query<'_>) -> StoreResult<Vec<Row>> {
        tokio::task::coop::consume_budget().await;
        Ok(self.run(&query, true)?.0)
    }

    async fn execute(&mut self, query: Query<'_>) -> StoreResult<u64> {
        tokio::task::coop::consume_budget().await;
        Ok(self.run(&query, false)?.1)
    }
}

/// The statement with `$N` parameters written `?N`: SQLite takes `$N` for a
/// parameter *named* "$N" and numbers named ones in order of first appearance,
/// where `?N` is exactly the N-th. (No statement here has a `$` followed by a
/// digit anywhere else, such as in a string literal.)
fn numbered_parameters(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let numbered = |at: usize| bytes[at] == b'$' && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
    if !(0..bytes.len()).any(numbered) {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    for (at, c) in sql.char_indices() {
        out.push(if numbered(at) { '?' } else { c });
    }
    Cow::Owned(out)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// A failure of the writer, as the same `sqlx::Error` a statement through sqlx
/// gives, so that callers classify it one way (busy, full, unique, …).
pub(crate) fn to_sqlx(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => sqlx::Error::Database(Box::new(WriterError {
            extended_code: failure.extended_code,
            message: message.unwrap_or_else(|| failure.to_string()),
        })),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// An error SQLite reported to the writer.
#[derive(Debug)]
struct WriterError {
    extended_code: i32,
    message: String,
}

impl std::fmt::Display for WriterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.extended_code, self.message)
    }
}

impl std::error::Error for WriterError {}

impl DatabaseError for WriterError {
    fn message(&self) -> &str {
        &self.message
    }

    /// The extended result code, as sqlx's SQLite driver reports it.
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.extended_code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// How often the checkpointer looks for new commits to copy back. SQLite's
/// own rule (every 1,000 pages) comes around every few tens of milliseconds
/// under a heavy write load; checkpointing as often keeps the WAL short, so its
/// file is rewritten from the start (pages the kernel has cached) rather than
/// grown (new blocks to allocate).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Copies the WAL back into the database file, off the write path (the writer
/// never checkpoints in a commit): every [`CHECKPOINT_EVERY`] in which
/// `commits` (the writer's count of commits; None once the store is gone)
/// moved. A passive checkpoint waits for nobody and blocks nobody; SQLite
/// starts the WAL over at the next write after one that copied everything.
pub(crate) fn spawn_checkpointer(path: PathBuf, commits: impl Fn() -> Option<u64> + Send + 'static) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut conn: Option<Connection> = None;
        let mut checkpointed_at = 0;
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(now) = commits() else { return };
            if now == checkpointed_at {
                continue;
            }
            let path = path.clone();
            let taken = conn.take();
            match tokio::task::spawn_blocking(move || checkpoint(&path, taken)).await {
                Ok(Ok(open)) => {
                    conn = Some(open);
                    checkpointed_at = now;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
                Err(_) => return,
            }
        }
    });
}

/// One passive checkpoint, on `conn` or a connection opened for it.
fn checkpoint(path: &Path, conn: Option<Connection>) -> Result<Connection, rusqlite::Error> {
    let conn = match conn {
        Some(conn) => conn,
        None => {
            let conn =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            conn.execute_batch("PRAGMA busy_timeout = 100;")?;
            conn
        }
    };
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_parameters_become_numbered_ones() {
        assert_eq!(numbered_parameters("SELECT 1"), "SELECT 1");
        assert_eq!(
            numbered_parameters("INSERT INTO t VALUES ($1, $12, '$', json_extract(x, '$.a'))"),
            "INSERT INTO t VALUES (?1, ?12, '$', json_extract(x, '$.a'))"
        );
    }

    #[tokio::test]
    async fn statements_bind_in_order_and_errors_keep_their_sqlite_code() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        Connection::open(&path)
            .expect("create")
            .execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER)")
            .expect("table");
        let mut writer = SqliteWriter::open(&path).expect("open");
        // `$2` before `$1`: bound by number, not by order of appearance.
        let rows = writer
            .fetch_all(
                super::super::exec::query("INSERT INTO t (b, a) VALUES ($2, $1) RETURNING a, b").bind("x").bind(7_i64),
            )
            .await
            .expect("insert");
        assert_eq!(rows[0].try_get::<String>("a").ok(), Some("x".to_owned()));
        assert_eq!(rows[0].try_get::<i64>("b").ok(), Some(7));
        let again = writer
            .execute(super::super::exec::query("INSERT INTO t (a, b) VALUES ($1, $2)").bind("x").bind(None::<i64>))
            .await;
        let Err(crate::StoreError::Database(sqlx::Error::Database(db))) = again else { panic!("{again:?}") };
        assert!(db.is_unique_violation(), "{db}");
        let changed = writer
            .execute(super::super::exec::query("UPDATE t SET b = b + 1 WHERE a = $1").bind("x"))
            .await
            .expect("update");
        assert_eq!(changed, 1);
    }
}
