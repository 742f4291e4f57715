//! `solo-bench connections`: idle connections, each subscribed and answering
//! keepalives; how many the server holds, how fast they connect, and the
//! server's memory per connection. Solo's can also be HTTP streams
//! (`--transport http_stream|sse`: its unidirectional ones, following the
//! bench user's notifications), to compare with its WebSocket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::programs::Programs;
use crate::targets::{Kind, Target};
use crate::{check_server_memory, hold_client, source_address};

/// How a client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    WebSocket,
    /// Solo's `/connection/uni_http_stream`.
    HttpStream,
    /// Solo's `/connection/uni_sse`.
    Sse,
}

impl Transport {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::HttpStream => "http_stream",
            Transport::Sse => "sse",
        }
    }

    pub(crate) fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "websocket" => Transport::WebSocket,
            "http_stream" => Transport::HttpStream,
            "sse" => Transport::Sse,
            other => bail!("unknown transport `{other}` (websocket, http_stream, sse)"),
        })
    }
}

pub(crate) async fn run(
    kind: Kind,
    programs: &Programs,
    count: u64,
    concurrency: usize,
    hold: Duration,
) -> anyhow::Result<ConnectionsResult> {
    run_over(kind, Transport::WebSocket, programs, count, concurrency, hold).await
}

pub(crate) async fn run_over(
    kind: Kind,
    transport: Transport,
    programs: &Programs,
    count: u64,
    concurrency: usize,
    hold: Duration,
) -> anyhow::Result<ConnectionsResult> {
    if transport != Transport::WebSocket && kind != Kind::Solo {
        bail!("{} speaks WebSocket only", kind.name());
    }
    let mut programs = programs.clone();
    programs.solo_env.push(("SOLO_PING_INTERVAL_SECS", "5".into()));
    let target = Arc::new(Target::start(kind, &programs, count).await?);
    let process = target.process();
    let idle_rss = process.rss_kib()?;

    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(concurrency));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut clients = Vec::with_capacity(count as usize);
    // Server memory as connections open, for the report's chart: about 20 samples.
    let sample_every = (count / 20).max(1);
    let mut samples = vec![(0, idle_rss)];
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await.context("semaphore")?;
        if n % sample_every == sample_every - 1 {
            samples.push((opened.load(Ordering::Relaxed), process.rss_kib()?));
        }
        if n % 100 == 99 {
            if let Err(e) = check_server_memory(&process, opened.load(Ordering::Relaxed)) {
                stop.cancel();
                return Err(e);
            }
        }
        let (target, opened, failed, stop) = (target.clone(), opened.clone(), failed.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let opening = match transport {
                Transport::WebSocket => {
                    target.subscribe(source_address(n)).await.map(|socket| Client::WebSocket(Box::new(socket)))
                }
                _ => open_stream(&target, transport, source_address(n)).await.map(Client::Stream),
            };
            match opening {
                Ok(mut client) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                    match &mut client {
                        Client::WebSocket(socket) => hold_client(target.kind, socket, &stop).await,
                        Client::Stream(socket) => hold_stream(socket, &stop).await,
                    }
                }
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("{}: connection {n} failed: {e:#}", target.kind.name());
                    }
                }
            }
        }));
    }
    while opened.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(hold).await;
    let held = match target.solo() {
        Some(solo) => solo.metric("solo_connections").await? as u64,
        None => opened.load(Ordering::Relaxed),
    };
    let rss = process.rss_kib()?;
    let peak = process.peak_rss_kib()?;
    let cpu = process.cpu_seconds()?;
    samples.push((opened.load(Ordering::Relaxed), rss));
    stop.cancel();
    for client in clients {
        let _ = client.await;
    }
    let opened = opened.load(Ordering::Relaxed);
    let per_connection = (rss.saturating_sub(idle_rss)) as f64 * 1024.0 / opened.max(1) as f64;
    Ok(ConnectionsResult {
        scenario: "connections",
        server: kind.name(),
        transport: transport.name(),
        requested: count,
        opened,
        failed: failed.load(Ordering::Relaxed),
        held,
        connect_per_sec: (opened as f64 / connect_secs).round(),
        rss_idle_kib: idle_rss,
        rss_kib: rss,
        rss_peak_kib: peak,
        rss_bytes_per_connection: per_connection.round(),
        rss_kib_by_connections: samples,
        server_cpu_secs: cpu,
    })
}

/// What the `connections` scenario measured (printed as JSON by the CLI).
#[derive(Debug, serde::Serialize)]
pub(crate) struct ConnectionsResult {
    pub scenario: &'static str,
    pub server: &'static str,
    pub transport: &'static str,
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    /// Connections the server still held at the end.
    pub held: u64,
    pub connect_per_sec: f64,
    pub rss_idle_kib: u64,
    pub rss_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_bytes_per_connection: f64,
    /// (connections open, server RSS KiB) while they were opened.
    pub rss_kib_by_connections: Vec<(u64, u64)>,
    pub server_cpu_secs: f64,
}

enum Client {
    WebSocket(Box<crate::Socket>),
    Stream(TcpStream),
}

/// Opens one of Solo's unidirectional HTTP streams from `source` with the
/// bench user's token, and waits for its connect message.
async fn open_stream(target: &Target, transport: Transport, source: std::net::SocketAddr) -> anyhow::Result<TcpStream> {
    let solo = target.solo().context("HTTP streams are Solo's")?;
    let connect = json!({ "token": solo.cached_token().await? }).to_string();
    let addr = target.addr;
    let request = match transport {
        Transport::HttpStream => format!(
            "POST /connection/uni_http_stream HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{connect}",
            connect.len()
        ),
        Transport::Sse => {
            let url = reqwest::Url::parse_with_params(
                &format!("http://{addr}/connection/uni_sse"),
                [("cf_connect", &connect)],
            )?;
            let query = url.query().unwrap_or_default();
            format!("GET /connection/uni_sse?{query} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
        }
        Transport::WebSocket => bail!("not an HTTP stream"),
    };
    let mut socket = crate::targets::connect_from(source, addr).await?;
    socket.write_all(request.as_bytes()).await?;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 2048];
    while !seen.windows(10).any(|w| w == b"\"connect\":") {
        let n =
            tokio::time::timeout(Duration::from_secs(60), socket.read(&mut chunk)).await.context("no connect")??;
        if n == 0 {
            bail!("closed before connecting: {}", String::from_utf8_lossy(&seen));
        }
        seen.extend_from_slice(&chunk[..n]);
    }
    if !seen.starts_with(b"HTTP/1.1 200") {
        bail!("refused: {}", String::from_utf8_lossy(&seen));
    }
    Ok(socket)
}

/// Reads (and drops) what a stream sends until told to stop or it ends: its
/// pings need no answer, the server answers them for a one-way stream.
async fn hold_stream(socket: &mut TcpStream, stop: &CancellationToken) {
    let mut sink = [0u8; 512];
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            read = socket.read(&mut sink) => if !matches!(read, Ok(n) if n > 0) { return },
        }
    }
}
