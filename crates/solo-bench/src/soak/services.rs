//! The soak's own PostgreSQL and Redis: private instances on free ports, so the
//! soak can restart and stop them as faults without touching the machine's
//! shared services.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::targets::free_port;

/// Waits until something accepts TCP connections on `port`.
fn wait_for_port(port: u16, limit: Duration, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not accept connections on port {port} within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// A PostgreSQL cluster of the soak's own (`initdb` in a temporary directory),
/// run with the binaries of the machine's PostgreSQL installation: the
/// newest `/usr/lib/postgresql/*/bin`, or `SOLO_SOAK_PG_BIN`. PostgreSQL
/// refuses to run as root, so as root it runs as the `postgres` user.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    pub fn start() -> anyhow::Result<PrivatePostgres> {
        let bin = postgres_bin()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("solo-soak-pg").tempdir()?;
        if as_postgres {
            let out = Command::new("id").args(["-u", "postgres"]).output().context("id -u postgres")?;
            let uid: u32 = String::from_utf8(out.stdout)?.trim().parse().context("the postgres user's id")?;
            let out = Command::new("id").args(["-g", "postgres"]).output().context("id -g postgres")?;
            let gid: u32 = String::from_utf8(out.stdout)?.trim().parse().context("the postgres group's id")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let postgres = PrivatePostgres { bin, dir, port: free_port()?, as_postgres };
        let data = postgres.data().to_string_lossy().into_owned();
        postgres.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])?;
        postgres.up()?;
        Ok(postgres)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when we are root).
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = command.args(args).current_dir(self.dir.path()).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!(
                "{program} {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) -> anyhow::Result<()> {
        let data = self.data().to_string_lossy().into_owned();
        let log = self.dir.path().join("postgres.log").to_string_lossy().into_owned();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB",
            self.port,
            self.dir.path().display()
        );
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start"])?;
        wait_for_port(self.port, Duration::from_secs(30), "PostgreSQL")
    }

    /// Stops the server as an operator's restart does (`-m fast`: sessions
    /// are terminated, transactions in flight rolled back).
    pub fn down(&self) -> anyhow::Result<()> {
        let data = self.data().to_string_lossy().into_owned();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// The URL of a database of this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` in `database` with `psql` and returns its unaligned output.
    pub fn query(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new("psql")
            .arg(self.url(database))
            .args(["-qtAX", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-c", sql])
            .output()
            .context("psql")?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data().to_string_lossy().into_owned();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|uid| uid.trim() == "0")
}

fn postgres_bin() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("SOLO_SOAK_PG_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .context("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin; set SOLO_SOAK_PG_BIN")
}

/// A `redis-server` of the soak's own, keeping nothing on disk, which the
/// soak stops and starts again as a fault.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> anyhow::Result<PrivateRedis> {
        let mut redis = PrivateRedis { port: free_port()?, child: None };
        redis.up()?;
        Ok(redis)
    }

    pub fn up(&mut self) -> anyhow::Result<()> {
        let child = Command::new(redis_server())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10), "redis-server")
    }

    /// Stops it (SIGKILL: what Solo sees of a crash or a stop is the same, the
    /// connection gone and new ones refused).
    pub fn down(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.down();
    }
}

fn redis_server() -> &'static Path {
    Path::new(if Path::new("/usr/bin/redis-server").exists() { "/usr/bin/redis-server" } else { "redis-server" })
}
