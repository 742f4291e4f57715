//! The lock that keeps a restore from replacing the SQLite database under a
//! process that has it open (see [`crate::backup`]): every store that opens
//! the database holds it shared; a restore takes it exclusively or refuses.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The file every process using the database at `db` holds a lock on.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A shared hold on a database: restores wait for every one to be let go.
#[derive(Debug)]
pub struct InUse {
    _file: File,
}

impl InUse {
    /// Takes the shared lock of the database at `db` (waiting out a restore
    /// that holds it exclusively, which takes seconds at most).
    pub fn hold(db: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(lock_path(db))?;
        file.lock_shared()?;
        Ok(Self { _file: file })
    }
}
