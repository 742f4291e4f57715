//! Backup and restore of the embedded SQLite database.
//!
//! A backup is taken while the server serves: `VACUUM INTO` copies the
//! database as one read transaction sees it, so the copy is consistent (every
//! committed write before it, none after, the WAL included) and writers are
//! not held up (in WAL mode a reader does not block them). The copy is then
//! checked (`PRAGMA quick_check`) before it is reported as a backup.
//!
//! A restore replaces the database file, so it must not run under a live
//! server: every process that opens the store holds a shared lock on
//! `<database>.lock` for as long as it runs (the kernel drops it when the
//! process dies, even by `kill -9`), and a restore takes that lock exclusively
//! or refuses. The database it replaces is kept beside it, with its WAL, as
//! `<database>.before-restore-<unix seconds>`.
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`, or base backups and
//! WAL archiving for point-in-time recovery); docs/reliability.md says what
//! Solo needs from them.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rusqlite::{Connection, OpenFlags};

use crate::database_lock::lock_path;
use crate::sql::sqlite_schema_version;

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; a backup never overwrites a file, choose a new name")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("a Solo server or command is using {0}; stop it before restoring")]
    InUse(PathBuf),
    #[error("{path} is not a usable Solo database: {reason}")]
    NotSolo { path: PathBuf, reason: String },
    #[error("{path} was written by a newer Solo (schema {found}, this build knows up to {known}); restore it with that version")]
    Newer { path: PathBuf, found: i64, known: i64 },
    #[error("the database URL is not an SQLite one; back up PostgreSQL with pg_dump (see docs/reliability.md)")]
    NotSqlite,
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_path_buf(), source }
}

/// What a backup or a restore found in the database it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSummary {
    pub bytes: u64,
    /// The latest migration applied.
    pub schema_version: i64,
    /// Events kept as history.
    pub events: i64,
    pub notifications: i64,
}

/// The SQLite database file a `sqlite://` URL names.
pub fn sqlite_file(url: &str) -> Result<PathBuf, BackupError> {
    if !url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| BackupError::NotSolo { path: PathBuf::from(url), reason: e.to_string() })?;
    Ok(options.get_filename().to_path_buf())
}

/// Copies the database at `db` to `dest` while it may be in use.
pub fn backup(db: &Path, dest: &Path) -> Result<DatabaseSummary, BackupError> {
    if !db.exists() {
        return Err(BackupError::Missing(db.to_path_buf()));
    }
    if dest.exists() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    let source = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // A writer holds the lock only for a commit's moment; wait that out.
    source.busy_timeout(std::time::Duration::from_secs(5))?;
    let dest_text = dest.to_str().ok_or_else(|| BackupError::NotSolo {
        path: dest.to_path_buf(),
        reason: "the backup path must be valid UTF-8".to_owned(),
    })?;
    source.execute("VACUUM INTO ?1", [dest_text])?;
    drop(source);
    let summary = check(dest)?;
    File::open(dest).and_then(|f| f.sync_all()).map_err(io(dest))?;
    Ok(summary)
}

/// Replaces the database at `db` with the backup at `backup`, once no process
/// uses it. The replaced database is kept beside it; returns its new name.
pub fn restore(backup: &Path, db: &Path) -> Result<(DatabaseSummary, Option<PathBuf>), BackupError> {
    if !backup.exists() {
        return Err(BackupError::Missing(backup.to_path_buf()));
    }
    let summary = check(backup)?;
    let lock = lock_path(db);
    let lock_file = OpenOptions::new().create(true).truncate(false).write(true).open(&lock).map_err(io(&lock))?;
    match lock_file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(BackupError::InUse(db.to_path_buf())),
        Err(TryLockError::Error(e)) => return Err(io(&lock)(e)),
    }
    let kept = if db.exists() {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut aside = db.as_os_str().to_owned();
        aside.push(format!(".before-restore-{stamp}"));
        let aside = PathBuf::from(aside);
        // The database, its WAL and its shared-memory index move together, so
        // the kept copy opens with everything the WAL held.
        for suffix in ["", "-wal", "-shm"] {
            let from = with_suffix(db, suffix);
            if from.exists() {
                std::fs::rename(&from, with_suffix(&aside, suffix)).map_err(io(&from))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    let incoming = with_suffix(db, ".restoring");
    std::fs::copy(backup, &incoming).map_err(io(&incoming))?;
    File::open(&incoming).and_then(|f| f.sync_all()).map_err(io(&incoming))?;
    std::fs::rename(&incoming, db).map_err(io(db))?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself is durable only once its directory is.
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    drop(lock_file);
    Ok((summary, kept))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Checks that `path` is an intact Solo database this build can open.
fn check(path: &Path) -> Result<DatabaseSummary, BackupError> {
    let not_solo = |reason: String| BackupError::NotSolo { path: path.to_path_buf(), reason };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| not_solo(e.to_string()))?;
    let verdict: String =
        conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(|e| not_solo(e.to_string()))?;
    if verdict != "ok" {
        return Err(not_solo(format!("integrity check: {verdict}")));
    }
    let schema_version: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success", [], |row| row.get(0))
        .map_err(|e| not_solo(format!("no migration history ({e})")))?;
    let known = sqlite_schema_version();
    if schema_version > known {
        return Err(BackupError::Newer { path: path.to_path_buf(), found: schema_version, known });
    }
    let count = |table: &str| -> Result<i64, BackupError> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0))
            .map_err(|e| not_solo(format!("table {table}: {e}")))
    };
    let events = count("events")?;
    let notifications = count("notifications")?;
    let bytes = std::fs::metadata(path).map_err(io(path))?.len();
    Ok(DatabaseSummary { bytes, schema_version, events, notifications })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database_lock::InUse;

    fn database(path: &Path, version: i64) {
        let conn = Connection::open(path).expect("create");
        conn.execute_batch(&format!(
            "CREATE TABLE _sqlx_migrations (version INTEGER PRIMARY KEY, success BOOLEAN NOT NULL); \
             INSERT INTO _sqlx_migrations VALUES ({version}, 1); \
             CREATE TABLE events (id TEXT); CREATE TABLE notifications (id TEXT); \
             INSERT INTO events VALUES ('e1'), ('e2'); INSERT INTO notifications VALUES ('n1');"
        ))
        .expect("schema");
    }

    #[test]
    fn a_backup_never_overwrites_and_a_restore_keeps_what_it_replaced() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("solo.db");
        database(&db, 1);
        let copy = dir.path().join("copy.db");
        let summary = backup(&db, &copy).expect("backup");
        assert_eq!((summary.schema_version, summary.events, summary.notifications), (1, 2, 1));
        assert!(matches!(backup(&db, &copy), Err(BackupError::Exists(_))));

        Connection::open(&db).expect("open").execute("DELETE FROM events", []).expect("delete");
        let (restored, kept) = restore(&copy, &db).expect("restore");
        assert_eq!(restored.events, 2);
        let kept = kept.expect("the replaced database is kept");
        let events: i64 = Connection::open(&kept)
            .expect("kept opens")
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .expect("count");
        assert_eq!(events, 0, "the kept copy is the database as it was");
        let events: i64 =
            Connection::open(&db).expect("open").query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).expect("n");
        assert_eq!(events, 2);
    }

    #[test]
    fn a_restore_refuses_a_database_in_use_a_newer_schema_and_a_file_that_is_not_one() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("solo.db");
        database(&db, 1);
        let copy = dir.path().join("copy.db");
        backup(&db, &copy).expect("backup");

        let held = InUse::hold(&db).expect("hold");
        assert!(matches!(restore(&copy, &db), Err(BackupError::InUse(_))));
        drop(held);

        let newer = dir.path().join("newer.db");
        database(&newer, sqlite_schema_version() + 1);
        assert!(matches!(restore(&newer, &db), Err(BackupError::Newer { .. })));

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not a database at all, just some text").expect("write");
        assert!(matches!(restore(&junk, &db), Err(BackupError::NotSolo { .. })));
        assert!(matches!(restore(&dir.path().join("absent.db"), &db), Err(BackupError::Missing(_))));
        restore(&copy, &db).expect("once nothing holds it, the restore runs");
    }
}
