//! A `solo serve` started and owned by the benchmark, and what `/proc` says about it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

pub struct SoloServer {
    child: Child,
    pub addr: String,
    pat: String,
    token: tokio::sync::OnceCell<String>,
    admin: AdminRunner,
    _dir: tempfile::TempDir,
}

/// Runs `solo admin …` against a server's database, as its operator would.
#[derive(Clone)]
pub struct AdminRunner {
    solo: String,
    data: std::path::PathBuf,
    database: Option<String>,
}

impl AdminRunner {
    /// Runs `solo ARGS` and returns its standard output, trimmed.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.solo);
        command.env_remove("SOLO_DATABASE_URL");
        if let Some(url) = &self.database {
            command.env("SOLO_DATABASE_URL", url);
        }
        let out = command
            .args(args)
            .env("SOLO_DATA_DIR", &self.data)
            .output()
            .with_context(|| format!("running {}", self.solo))?;
        if !out.status.success() {
            bail!("solo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

/// Inodes of the established TCP connections whose local port is `port` (the
/// server side of every client connection to it), from `/proc/net/tcp`.
pub fn established_on(port: u16) -> anyhow::Result<std::collections::HashSet<u64>> {
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is "IP:PORT" in hex; state 01 is ESTABLISHED; the inode is field 9.
            let local_port =
                fields.get(1).and_then(|a| a.rsplit_once(':')).and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && fields.get(3) == Some(&"01") {
                if let Some(inode) = fields.get(9).and_then(|i| i.parse().ok()) {
                    inodes.insert(inode);
                }
            }
        }
    }
    Ok(inodes)
}

/// The value of series `name` (labels included, if any) in a `/metrics` text.
pub fn metric_in(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// A process's resource use, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct Process(pub u32);

impl Process {
    fn status_field(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("{field} in /proc status"))
    }

    /// Resident memory now, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.status_field("VmRSS:")
    }

    /// How many of `sockets` (inodes) this process holds open.
    pub fn holds(&self, sockets: &std::collections::HashSet<u64>) -> anyhow::Result<u64> {
        let mut held = 0;
        for entry in std::fs::read_dir(format!("/proc/{}/fd", self.0))? {
            let Ok(link) = entry.and_then(|e| std::fs::read_link(e.path())) else { continue };
            let link = link.to_string_lossy();
            let inode = link.strip_prefix("socket:[").and_then(|l| l.strip_suffix(']')).and_then(|i| i.parse().ok());
            if inode.is_some_and(|i| sockets.contains(&i)) {
                held += 1;
            }
        }
        Ok(held)
    }

    /// Peak resident memory, KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        self.status_field("VmHWM:")
    }

    /// Threads of the process now.
    pub fn threads(&self) -> anyhow::Result<u64> {
        self.status_field("Threads:")
    }

    /// File descriptors it holds open now.
    pub fn open_fds(&self) -> anyhow::Result<u64> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.0))?.count() as u64)
    }

    /// User + system CPU time so far, seconds (clock ticks of 1/100 s on Linux).
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0))?;
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).context("/proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15 of the line; the state, field 3, is index 0 here.
        Ok((ticks(11) + ticks(12)) as f64 / 100.0)
    }
}

impl SoloServer {
    /// Starts `solo serve` on a free loopback port with a fresh SQLite data
    /// directory and one user, `bench`, whose PAT the benchmark uses.
    pub async fn start(solo: &str, env: &[(&str, String)], cpus: Option<&str>) -> anyhow::Result<SoloServer> {
        Self::start_at(solo, env, cpus, "127.0.0.1:0", None).await
    }

    /// Starts `solo serve` on `addr`. Without `pat`, first creates the bench
    /// user and its token in the (fresh) database; a further node of a cluster
    /// passes the first node's token instead.
    pub async fn start_at(
        solo: &str,
        env: &[(&str, String)],
        cpus: Option<&str>,
        addr: &str,
        pat: Option<&str>,
    ) -> anyhow::Result<SoloServer> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let database = env.iter().find(|(k, _)| *k == "SOLO_DATABASE_URL").map(|(_, v)| v.clone());
        let admin = AdminRunner { solo: solo.to_owned(), data: data.clone(), database };
        let pat = match pat {
            Some(pat) => pat.to_owned(),
            None => {
                admin.run(&["admin", "user", "create", "bench", "--workspace", "bench"])?;
                admin.run(&["admin", "token", "create", "--user", "bench", "--name", "bench"])?
            }
        };
        let mut child = crate::programs::pinned(std::path::Path::new(solo), cpus)
            .args(["serve", "--addr", addr])
            .env("SOLO_DATA_DIR", &data)
            .env_remove("SOLO_DATABASE_URL")
            .env("SOLO_LOG_FORMAT", "json")
            .env("SOLO_LOG", "warn,solo_server=info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {solo} serve"))?;
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let Some(line) = lines.next() else { bail!("solo serve exited before serving") };
            let entry: Value = serde_json::from_str(&line?).unwrap_or_default();
            if entry["message"] == "solo is serving" {
                break entry["addr"].as_str().context("addr in log")?.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(SoloServer { child, addr, pat, token: tokio::sync::OnceCell::new(), admin, _dir: dir })
    }

    /// `solo admin` on this server's database.
    pub fn admin(&self) -> &AdminRunner {
        &self.admin
    }

    /// The bench user's personal access token.
    pub fn pat(&self) -> &str {
        &self.pat
    }

    /// The server's process id (under `taskset`, which execs it, the same process).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One connection token for every benchmark client (fetched once). The
    /// HTTP client is built only for that fetch: building one per call cost
    /// the generator 8 % of its core per Solo connect, a cost no peer's
    /// clients paid, and the connect rate measured it.
    pub async fn cached_token(&self) -> anyhow::Result<String> {
        let token = self
            .token
            .get_or_try_init(|| async { self.connection_token(&reqwest::Client::new(), &self.pat).await })
            .await?;
        Ok(token.clone())
    }

    /// A fresh connection token for the holder of `pat`.
    pub async fn connection_token(&self, http: &reqwest::Client, pat: &str) -> anyhow::Result<String> {
        let reply: Value = http.post(self.url("/api/realtime/token")).bearer_auth(pat).send().await?.json().await?;
        reply["token"].as_str().map(str::to_owned).context("connection token")
    }

    /// The bench user's id and its notifications channel: the fan-out channel,
    /// fed by creating notifications for that user.
    pub async fn notification_publisher(&self) -> anyhow::Result<(String, String)> {
        let me: Value =
            reqwest::Client::new().get(self.url("/api/me")).bearer_auth(&self.pat).send().await?.json().await?;
        let user = me["id"].as_str().context("user id")?.to_owned();
        let channel = format!("notifications:{user}");
        Ok((user, channel))
    }

    /// Creates a notification for `user` titled `title` (one publication on its channel).
    pub async fn create_notification(
        &self,
        http: &reqwest::Client,
        user: &str,
        title: &str,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(http
            .post(self.url("/api/notifications"))
            .bearer_auth(&self.pat)
            .json(&serde_json::json!({ "userId": user, "category": "system", "title": title }))
            .send()
            .await?)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts Solo as every scenario runs it: limits lifted for `clients`
    /// connections of the one bench user, the extra settings and CPU pinning
    /// of `programs`.
    pub async fn start_for(programs: &crate::programs::Programs, clients: u64) -> anyhow::Result<SoloServer> {
        let mut env = Self::unlimited(clients);
        env.extend(programs.solo_env.iter().cloned());
        Self::start(&programs.solo, &env, programs.server_cpus.as_deref()).await
    }

    /// Settings that keep the server's abuse limits out of a benchmark's way:
    /// one bench user holds every connection and writes as fast as it can.
    pub fn unlimited(connections: u64) -> Vec<(&'static str, String)> {
        vec![
            ("SOLO_WS_MAX_CONNECTIONS_PER_USER", (connections + 10).to_string()),
            ("SOLO_API_REQUESTS_PER_SEC", "1000000".into()),
            ("SOLO_RECOVERY_MAX_PUBLICATIONS", "100000".into()),
            ("SOLO_HISTORY_MAX_PUBLICATIONS", "100000".into()),
        ]
    }

    /// Creates a mission in the bench workspace; its id.
    pub async fn create_mission(&self) -> anyhow::Result<String> {
        let mission: Value = reqwest::Client::new()
            .post(self.url("/api/missions"))
            .bearer_auth(&self.pat)
            .json(&serde_json::json!({ "title": "bench" }))
            .send()
            .await?
            .json()
            .await?;
        Ok(mission["id"].as_str().context("mission id")?.to_owned())
    }

    /// Moves a mission to `stage`; its new version (= its channel's last offset).
    pub async fn change_stage(&self, http: &reqwest::Client, mission: &str, stage: &str) -> anyhow::Result<u64> {
        let response = http
            .post(self.url(&format!("/api/missions/{mission}/stage")))
            .bearer_auth(&self.pat)
            .json(&serde_json::json!({ "stage": stage }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("stage change: {}", response.status());
        }
        let mission: Value = response.json().await?;
        mission["version"].as_u64().context("mission version")
    }

    /// A gauge or counter from `/metrics`.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = reqwest::get(self.url("/metrics")).await?.text().await?;
        metric_in(&text, name).with_context(|| format!("metric {name}"))
    }

    pub fn process(&self) -> Process {
        Process(self.child.id())
    }

    /// Peak resident memory, KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        self.process().peak_rss_kib()
    }

    /// User + system CPU time so far, seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        self.process().cpu_seconds()
    }
}

impl SoloServer {
    /// Stops the server as an operator does (SIGTERM: it drains and closes
    /// its clients with 3001) and waits for it to exit, at most `limit`.
    pub fn terminate(&mut self, limit: Duration) -> anyhow::Result<()> {
        self.signal("TERM")?;
        let deadline = std::time::Instant::now() + limit;
        while self.child.try_wait()?.is_none() {
            if std::time::Instant::now() > deadline {
                bail!("solo serve did not stop within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl SoloServer {
    /// Kills the server (SIGKILL: no drain, no goodbye) and reaps it.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the server.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill -{signal} failed");
        }
        Ok(())
    }
}

impl Drop for SoloServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
