//! `solo-bench`: load generator for Solo Realtime.
//!
//! Each scenario starts the servers it measures itself, on loopback, one at a
//! time: `solo serve` (fresh data directory) and the peers of `bench/peers`
//! (Bun, Node with `ws`, Sockudo), and reads their memory and CPU from
//! `/proc`. Clients bind round-robin to 127.0.0.2–127.0.0.9 so the ephemeral
//! port range of one source address is no limit. `solo-bench all` runs every
//! scenario several times and writes `bench/RESULTS.md`.

mod charts;
mod cluster;
mod connections;
mod fanout;
mod ingest;
mod programs;
mod report;
mod server;
mod soak;
mod storm;
mod targets;
mod upgrade;
mod watchers;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::programs::Programs;
use crate::targets::Kind;

#[derive(Parser)]
#[command(name = "solo-bench", about = "Load generator for Solo Realtime and its peers")]
struct Cli {
    #[command(flatten)]
    programs: ProgramArgs,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args)]
struct ProgramArgs {
    /// The `solo` binary to start.
    #[arg(long, global = true, default_value = "target/release/solo")]
    solo: String,
    /// The peers' folder (package.json, peer scripts, node_modules).
    #[arg(long, global = true, default_value = "bench/peers")]
    peers: PathBuf,
    /// The Sockudo binary (built by bench/peers/sockudo-install); Sockudo is skipped without it.
    #[arg(long, global = true, env = "SOLO_BENCH_SOCKUDO")]
    sockudo: Option<PathBuf>,
    /// Run servers under `taskset -c CPUS` (e.g. `0`; run the generator itself on the other core).
    #[arg(long, global = true)]
    server_cpus: Option<String>,
}

impl ProgramArgs {
    fn programs(&self) -> Programs {
        Programs {
            solo: self.solo.clone(),
            peers: self.peers.clone(),
            sockudo: self.sockudo.clone().filter(|p| p.exists()),
            server_cpus: self.server_cpus.clone(),
            solo_env: Vec::new(),
        }
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// Idle connections (each subscribed, answering keepalives): how many one
    /// server holds, how fast they connect, and its memory per connection.
    Connections {
        /// `solo`, `bun`, `node` or `sockudo`.
        #[arg(long, default_value = "solo")]
        server: String,
        /// Connections to open.
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        /// Connection attempts in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Seconds to hold every connection open before measuring.
        #[arg(long, default_value_t = 10)]
        hold_secs: u64,
        /// `websocket`, or (Solo) `http_stream` or `sse`: its unidirectional HTTP streams.
        #[arg(long, default_value = "websocket")]
        transport: String,
    },
    /// N subscribers on one channel, publication rate ramped until p99 latency
    /// passes 100 ms or delivery falls below 99.9 %.
    Fanout {
        #[arg(long, default_value = "solo")]
        server: String,
        #[arg(long, default_value_t = 1_000)]
        subscribers: u64,
        /// First rate, publications per second (doubled each step).
        #[arg(long, default_value_t = 100.0)]
        start_rate: f64,
        #[arg(long, default_value_t = 100_000.0)]
        max_rate: f64,
        /// Seconds per step.
        #[arg(long, default_value_t = 5)]
        step_secs: u64,
        /// Latency probe rate; default half of the capacity found.
        #[arg(long)]
        probe_rate: Option<f64>,
        /// A peer's payload is padded to this many bytes, about the size of
        /// Solo's publication frame, so every server moves the same bytes; 0
        /// publishes the bare marker (about 30 bytes).
        #[arg(long, default_value_t = targets::PEER_PAYLOAD_BYTES)]
        peer_payload_bytes: usize,
        /// The format Solo's subscribers speak: `json` or `protobuf`.
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Notifications created per second through the API (Solo, SQLite or PostgreSQL).
    Ingest {
        #[arg(long, default_value_t = 20_000)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// PostgreSQL server URL (a scratch database is created on it); SQLite without it.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Notifications at a fixed rate to one subscriber while workstations send
    /// heartbeats (Solo on SQLite): what other writes cost their end-to-end latency.
    BesideHeartbeats {
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Workstations sending heartbeats (0: none, the baseline).
        #[arg(long, default_value_t = 1_000)]
        workstations: usize,
        /// Seconds between two heartbeats of one workstation.
        #[arg(long, default_value_t = 5)]
        every_secs: u64,
        /// Seconds of measurement.
        #[arg(long, default_value_t = 10)]
        step_secs: u64,
    },
    /// One stage change on a mission watched by many users: time until the last
    /// watcher's inbox push (Solo, SQLite or PostgreSQL).
    Watchers {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        /// Stage changes to time, one after another.
        #[arg(long, default_value_t = 20)]
        changes: usize,
        /// PostgreSQL server URL (a scratch database is created on it); SQLite without it.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Idle connections held by several `solo serve` processes sharing one port
    /// (SO_REUSEPORT) in cluster mode on PostgreSQL and Redis: connections held,
    /// connect rate, memory per connection over all nodes.
    ClusterConnections {
        /// `solo serve` processes.
        #[arg(long, default_value_t = 6)]
        nodes: usize,
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// PostgreSQL server URL (a scratch database is created on it).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
        /// Redis URL for the cluster's bus and presence.
        #[arg(long, default_value = "redis://127.0.0.1:6379")]
        redis: String,
        #[arg(long, default_value_t = 10)]
        hold_secs: u64,
        /// Connection attempts in flight at once, over all generators.
        #[arg(long, default_value_t = 512)]
        concurrency: usize,
    },
    /// The rolling-upgrade drill: node A on `--previous`, node B on this
    /// `--solo`, one PostgreSQL and Redis; B migrates, A restarts on the new
    /// build; clients on both must lose nothing (`scripts/upgrade-drill`).
    Upgrade {
        /// The previous release's `solo` binary.
        #[arg(long)]
        previous: String,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
        #[arg(long, default_value = "redis://127.0.0.1:6379")]
        redis: String,
        #[arg(long, default_value_t = 40)]
        clients: u64,
        /// Notifications created per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// Seconds of each phase (before, during and after A's upgrade).
        #[arg(long, default_value_t = 5)]
        phase_secs: u64,
    },
    /// One generator process of `cluster-connections` (started by it).
    #[command(hide = true)]
    Hold {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        count: u64,
        /// Index of the first client (spreads source addresses across generators).
        #[arg(long, default_value_t = 0)]
        first: u64,
        #[arg(long, default_value_t = 128)]
        concurrency: usize,
    },
    /// Every client drops at once, publications happen while they are away, and
    /// all reconnect at once with recovery: time until all caught up, gaps found
    /// (must be 0), the server's peak memory and CPU.
    ReconnectStorm {
        /// Clients.
        #[arg(long, default_value_t = 5_000)]
        count: u64,
        /// Publications made while the clients are away.
        #[arg(long, default_value_t = 50)]
        missed: u64,
        /// Connection attempts in flight at once while setting up (the storm itself is unthrottled).
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
    },
    /// The soak with chaos (`bench/soak`): a cluster on a PostgreSQL and Redis
    /// of its own, clients that reconnect and recover, steady writes, and one
    /// fault every so often; fails if anything is lost or a 5xx comes outside
    /// the faults, and writes the report (`bench/SOAK.md`).
    Soak {
        #[arg(long, default_value_t = 30.0)]
        minutes: f64,
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        #[arg(long, default_value_t = 5_000)]
        clients: u64,
        #[arg(long, default_value_t = 50)]
        users: usize,
        #[arg(long, default_value_t = 200)]
        workstations: usize,
        #[arg(long, default_value_t = 40)]
        missions: usize,
        #[arg(long, default_value_t = 200.0)]
        heartbeats_per_sec: f64,
        #[arg(long, default_value_t = 50.0)]
        notifications_per_sec: f64,
        #[arg(long, default_value_t = 20.0)]
        stage_changes_per_sec: f64,
        /// Seconds between faults.
        #[arg(long, default_value_t = 150)]
        fault_every_secs: u64,
        /// Seconds before the first fault (and before the slopes start).
        #[arg(long, default_value_t = 120)]
        warmup_secs: u64,
        /// Mean seconds a client stays before leaving for a while.
        #[arg(long, default_value_t = 600)]
        mean_stay_secs: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "bench/SOAK.md")]
        out: PathBuf,
        /// Where the timeline charts go (none when not given).
        #[arg(long)]
        charts: Option<PathBuf>,
        /// Also write every write attempt to this CSV file.
        #[arg(long)]
        attempts_csv: Option<PathBuf>,
    },
    /// Only the report's "Fan-out by protocol format (Solo)" section, printed:
    /// Solo with JSON subscribers against protobuf ones, without the rest.
    Formats {
        /// Small sizes and short steps.
        #[arg(long)]
        quick: bool,
        /// Runs of each measurement (medians and spread).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Every scenario against Solo and every peer, several runs each; writes a
    /// Markdown report with medians and Solo/peer ratios.
    All {
        /// Small sizes and short steps: every scenario in about a minute (CI smoke).
        #[arg(long)]
        quick: bool,
        /// Runs of each measurement (the report gives medians and spread).
        #[arg(long)]
        runs: Option<usize>,
        /// Where the report goes.
        #[arg(long, default_value = "bench/RESULTS.md")]
        out: PathBuf,
        /// PostgreSQL server URL for the PostgreSQL rows (skipped without it).
        #[arg(long, env = "SOLO_BENCH_POSTGRES")]
        postgres: Option<String>,
    },
}

fn kind_of(name: &str) -> anyhow::Result<Kind> {
    Kind::parse(name).with_context(|| format!("unknown server `{name}`: solo, bun, node or sockudo"))
}

/// The generator runs on one thread: `bench/run` pins it to one core (the
/// servers get the other), and a multi-thread runtime there handed every
/// connection between its main thread and its worker, a wake-up and a context
/// switch each, which took a fifth of the core in the connections scenario.
///
/// The soak is the exception: it starts and stops servers and databases with
/// blocking calls beside thousands of clients, so it gets both cores' worth of
/// worker threads (it is not pinned; everything shares the machine).
fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = if matches!(cli.scenario, Scenario::Soak { .. }) {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let programs = cli.programs.programs();
    match cli.scenario {
        Scenario::Connections { server, count, concurrency, hold_secs, transport } => {
            let transport = connections::Transport::parse(&transport)?;
            let hold = Duration::from_secs(hold_secs);
            let report =
                connections::run_over(kind_of(&server)?, transport, &programs, count, concurrency, hold).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.opened < count {
                bail!("not every connection opened");
            }
            Ok(())
        }
        Scenario::Fanout {
            server,
            subscribers,
            start_rate,
            max_rate,
            step_secs,
            probe_rate,
            peer_payload_bytes,
            format,
        } => {
            let options = fanout::FanoutOptions {
                format: targets::ProtocolFormat::parse(&format)?,
                subscribers,
                start_rate,
                max_rate,
                step: Duration::from_secs(step_secs),
                drain: Duration::from_secs(2),
                refine: 2,
                probe_rate,
                concurrency: 256,
                peer_payload_bytes,
            };
            let result = fanout::run(kind_of(&server)?, &programs, &options).await?;
            println!("{}", result.to_json());
            Ok(())
        }
        Scenario::Ingest { count, concurrency, postgres } => {
            let report = ingest::run(&programs, count, concurrency, postgres.as_deref()).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Scenario::BesideHeartbeats { rate, workstations, every_secs, step_secs } => {
            let options = fanout::FanoutOptions {
                subscribers: 1,
                start_rate: rate,
                max_rate: rate,
                step: Duration::from_secs(step_secs),
                drain: Duration::from_secs(1),
                refine: 0,
                probe_rate: None,
                concurrency: 64,
                peer_payload_bytes: 0,
                format: targets::ProtocolFormat::Json,
            };
            let load = fanout::HeartbeatLoad { workstations, every: Duration::from_secs(every_secs.max(1)) };
            let (step, beats) = fanout::fixed_with_heartbeats(&programs, &options, rate, load).await?;
            println!(
                "{}",
                json!({
                    "scenario": "beside-heartbeats",
                    "rate": rate,
                    "achieved": step.achieved,
                    "heartbeats_answered": beats,
                    "heartbeats_per_sec": workstations as f64 / every_secs.max(1) as f64,
                    "p50_ms": step.quantile_ms(0.5),
                    "p99_ms": step.quantile_ms(0.99),
                    "max_ms": step.max_ms(),
                })
            );
            Ok(())
        }
        Scenario::Watchers { watchers, changes, postgres } => {
            let report = watchers::run(&programs, watchers, changes, postgres.as_deref()).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Scenario::Soak {
            minutes,
            nodes,
            clients,
            users,
            workstations,
            missions,
            heartbeats_per_sec,
            notifications_per_sec,
            stage_changes_per_sec,
            fault_every_secs,
            warmup_secs,
            mean_stay_secs,
            seed,
            out,
            charts,
            attempts_csv,
        } => {
            let options = soak::SoakOptions {
                solo: programs.solo.clone(),
                duration: Duration::from_secs_f64(minutes * 60.0),
                nodes: nodes.max(1),
                clients,
                users: users.max(1),
                workstations,
                missions,
                rates: soak::Rates {
                    heartbeats: heartbeats_per_sec,
                    notifications: notifications_per_sec,
                    stage_changes: stage_changes_per_sec,
                    read_all_every: Duration::from_secs(60),
                },
                fault_every: Duration::from_secs(fault_every_secs.max(1)),
                warmup: Duration::from_secs(warmup_secs),
                mean_stay: Duration::from_secs(mean_stay_secs.max(1)),
                seed,
                out,
                charts,
            };
            let record = soak::run(&options).await?;
            soak::write_report(&record, &options.out, options.charts.as_deref())?;
            if let Some(path) = &attempts_csv {
                soak::write_attempts_csv(&record, path)?;
            }
            let summary = soak::summary_json(&record);
            println!("{summary}");
            let failures = soak::failures(&record);
            if !failures.is_empty() {
                bail!("the soak failed: {}", failures.join("; "));
            }
            Ok(())
        }
        Scenario::ReconnectStorm { count, missed, concurrency } => {
            let report = storm::run(&programs, count, missed, concurrency).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.failed != 0 || report.gaps != 0 {
                bail!("clients failed or publications went missing");
            }
            Ok(())
        }
        Scenario::ClusterConnections { nodes, count, postgres, redis, hold_secs, concurrency } => {
            let options = cluster::ClusterOptions {
                nodes,
                count,
                postgres,
                redis,
                hold: Duration::from_secs(hold_secs),
                concurrency,
            };
            let report = cluster::run(&programs.solo, &options).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.held < count {
                bail!("not every connection was held");
            }
            Ok(())
        }
        Scenario::Hold { addr, token, channel, count, first, concurrency } => {
            cluster::hold(&addr, &token, &channel, count, first, concurrency).await
        }
        Scenario::Upgrade { previous, postgres, redis, clients, rate, phase_secs } => {
            let options = upgrade::UpgradeOptions {
                previous,
                next: programs.solo.clone(),
                postgres,
                redis,
                clients,
                rate,
                phase: Duration::from_secs(phase_secs),
            };
            let result = upgrade::run(&options).await?;
            println!("{}", serde_json::to_string(&result)?);
            Ok(())
        }
        Scenario::Formats { quick, runs } => {
            print!("{}", report::formats(&programs, quick, runs).await?);
            Ok(())
        }
        Scenario::All { quick, runs, out, postgres } => {
            report::all(&programs, quick, runs.unwrap_or(if quick { 1 } else { 3 }), &out, postgres.as_deref()).await
        }
    }
}

/// Server memory the benchmark lets a server reach before it stops opening
/// connections to it, so one server's appetite cannot take the machine down
/// (`SOLO_BENCH_MAX_SERVER_RSS_MIB`, default 14336: this machine has 24 GiB).
pub(crate) fn check_server_memory(process: &server::Process, opened: u64) -> anyhow::Result<()> {
    let limit_mib: u64 =
        std::env::var("SOLO_BENCH_MAX_SERVER_RSS_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(14_336);
    let rss_mib = process.rss_kib()? / 1024;
    if rss_mib > limit_mib {
        anyhow::bail!(
            "stopped after {opened} connections: server RSS {rss_mib} MiB passed the benchmark's limit of \
             {limit_mib} MiB (SOLO_BENCH_MAX_SERVER_RSS_MIB)"
        );
    }
    Ok(())
}

/// Loopback addresses clients connect from, spread over so each holds few ports.
const SOURCE_ADDRESSES: u64 = 250;

/// The loopback source address of the `n`th client. The kernel finds a free
/// port for an address by scanning its range, and every connection a run
/// closed keeps its port for a minute (TIME_WAIT): with 8 addresses, a run
/// after a few others spent seconds of kernel time in `bind`, and its connect
/// rate measured that. Over 250, each address holds a few hundred.
pub(crate) fn source_address(n: u64) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (n % SOURCE_ADDRESSES) as u8)), 0)
}

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Connects from `source`, authenticates and sends `subscribe` (the request
/// given); returns the socket and the subscribe result.
/// Opens a Solo client in the protobuf format (`?format=protobuf`),
/// connected and subscribed to `channel`.
pub(crate) async fn open_subscribed_protobuf(
    source: SocketAddr,
    target: SocketAddr,
    token: &str,
    channel: &str,
) -> anyhow::Result<Socket> {
    use prost::Message as _;
    let url = format!("ws://{target}/connection/websocket?format=protobuf");
    let mut ws = targets::open_websocket(url, source, target).await?;
    let hello = [targets::ProtobufCommand::connect(1, token), targets::ProtobufCommand::subscribe(2, channel)];
    let frame: Vec<u8> = hello.iter().flat_map(|c| c.encode_length_delimited_to_vec()).collect();
    ws.send(Message::Binary(frame.into())).await?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("no reply")?;
        let Some(Ok(Message::Binary(bytes))) = frame else { bail!("closed before subscribing") };
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let reply = targets::ProtobufReply::decode_length_delimited(&mut rest)?;
            if let Some(error) = reply.error {
                bail!("server error {}", error.code);
            }
            if reply.id == 2 {
                return Ok(ws);
            }
        }
    }
}

/// A Solo client's first frame: `connect` with `token`, then `subscribe`
/// with the request `subscribe` (newline-separated commands in one frame).
pub(crate) fn hello(token: &str, subscribe: &Value) -> String {
    format!("{}\n{}", json!({"id": 1, "connect": {"token": token}}), json!({"id": 2, "subscribe": subscribe}))
}

/// Opens a Solo client, sends `hello` (see [`hello`]) and reads its frames
/// line by line until `reply` makes something of one (or fails on one).
async fn open_with_hello<T>(
    source: SocketAddr,
    target: SocketAddr,
    hello: tokio_tungstenite::tungstenite::Utf8Bytes,
    mut reply: impl FnMut(&str) -> anyhow::Result<Option<T>>,
) -> anyhow::Result<(Socket, T)> {
    let url = format!("ws://{target}/connection/websocket");
    let mut ws = targets::open_websocket(url, source, target).await?;
    ws.send(Message::Text(hello)).await?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("no reply")?;
        let Some(Ok(Message::Text(text))) = frame else { bail!("closed before subscribing") };
        for line in text.split('\n') {
            if let Some(found) = reply(line)? {
                return Ok((ws, found));
            }
        }
    }
}

/// Opens a Solo client that sends `hello` and waits until it is subscribed,
/// for scenarios that open thousands and need nothing from the replies: the
/// frame is built once per run and shared, and the replies are checked for an
/// error and for the subscribe reply without parsing them. The load
/// generator's core is what limits the connect rate, and building and parsing
/// JSON per client took a twentieth of it, work a peer's clients (whose
/// subscription is in the URL) never did.
pub(crate) async fn open_subscribed_with(
    source: SocketAddr,
    target: SocketAddr,
    hello: tokio_tungstenite::tungstenite::Utf8Bytes,
) -> anyhow::Result<Socket> {
    let scan = |line: &str| {
        if memchr::memmem::find(line.as_bytes(), br#""error""#).is_some() {
            bail!("server error: {line}");
        }
        Ok(line.starts_with(r#"{"id":2,"#).then_some(()))
    };
    Ok(open_with_hello(source, target, hello, scan).await?.0)
}

/// Opens a Solo client subscribed with the request `subscribe`; returns it
/// with the subscribe reply's result.
pub(crate) async fn open_subscribed(
    source: SocketAddr,
    target: SocketAddr,
    token: &str,
    subscribe: Value,
) -> anyhow::Result<(Socket, Value)> {
    let parse = |line: &str| {
        let message: Value = serde_json::from_str(line)?;
        if message["error"].is_object() {
            bail!("server error: {message}");
        }
        Ok((message["id"] == 2).then(|| message["subscribe"].clone()))
    };
    open_with_hello(source, target, hello(token, &subscribe).into(), parse).await
}

/// Answers keepalives until told to stop.
pub(crate) async fn hold_client(kind: Kind, ws: &mut Socket, stop: &CancellationToken) {
    read_client(kind, ws, stop, |_| {}).await;
}

/// Hands every frame's payload to `on_frame` and answers keepalives, until
/// told to stop or the connection ends: text frames, and binary frames (Solo's
/// protobuf format, whose publications carry the event's JSON, markers
/// included, as bytes).
pub(crate) async fn read_client(
    kind: Kind,
    ws: &mut Socket,
    stop: &CancellationToken,
    mut on_frame: impl FnMut(&[u8]),
) {
    // One wait for the whole read loop: a new one per frame registered and
    // dropped a waiter each time, a few per cent of a fan-out subscriber's cost.
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    on_frame(text.as_bytes());
                    if let Some(reply) = kind.keepalive_reply(text.as_str()) {
                        if ws.send(Message::Text(reply.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    on_frame(&bytes);
                    if kind == Kind::Solo && targets::has_protobuf_ping(&bytes) {
                        // The pong: an empty command, length-delimited.
                        if ws.send(Message::Binary(vec![0].into())).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    }
}
