//! The programs a benchmark starts, and how they are started (pinned to CPUs).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the benchmark finds the programs it starts.
#[derive(Debug, Clone)]
pub struct Programs {
    pub solo: String,
    /// `bench/peers` (package.json, the peer scripts, node_modules).
    pub peers: PathBuf,
    /// The Sockudo binary, when it has been built (`bench/peers/sockudo-install`).
    pub sockudo: Option<PathBuf>,
    /// CPU list for servers (`taskset -c`), e.g. `0`; none: no pinning.
    pub server_cpus: Option<String>,
    /// Extra settings for Solo (e.g. `SOLO_DATABASE_URL` for PostgreSQL).
    pub solo_env: Vec<(&'static str, String)>,
}

/// `program`, under `taskset -c <cpus>` when pinning is asked for.
pub fn pinned(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program);
            command
        }
        None => Command::new(program),
    }
}
