//! The servers a benchmark runs against: Solo, and the peers users would pick
//! instead (Bun's uWebSockets pub/sub, Node with `ws`, Sockudo), each started
//! by the benchmark on loopback, each speaking its own protocol.
//!
//! Every target does the same job: clients subscribe to one channel, a
//! publisher sends text over HTTP, the server fans it out. The payload carries
//! a marker (`bench:<seq>:<sent-nanos>:`) that survives every protocol's
//! framing, so one scanner reads publications from all of them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use crate::programs::{pinned, Programs};
use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use memchr::memmem;
use serde_json::json;
use sha2::Sha256;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::server::SoloServer;
use crate::Socket;

/// Which server, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Solo,
    Bun,
    NodeWs,
    Sockudo,
}

impl Kind {
    /// What a client must send back for a frame it received (keepalive), if anything.
    pub fn keepalive_reply(self, frame: &str) -> Option<&'static str> {
        match self {
            // A ping is a line of its own (`{}`), alone or among the frame's replies;
            // no other line starts with `{}`.
            // (memmem: this runs on every frame a fan-out subscriber reads, and
            // `str::contains` cost the generator 4 % of its time.)
            Kind::Solo => {
                (frame.starts_with("{}") || memmem::find(frame.as_bytes(), b"\n{}").is_some()).then_some("{}")
            }
            Kind::Sockudo => frame.contains("\"pusher:ping\"").then_some(r#"{"event":"pusher:pong","data":{}}"#),
            Kind::Bun | Kind::NodeWs => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Solo => "Solo",
            Kind::Bun => "Bun",
            Kind::NodeWs => "Node ws",
            Kind::Sockudo => "Sockudo",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        match name.to_ascii_lowercase().as_str() {
            "solo" => Some(Kind::Solo),
            "bun" => Some(Kind::Bun),
            "node" | "node-ws" | "ws" => Some(Kind::NodeWs),
            "sockudo" => Some(Kind::Sockudo),
            _ => None,
        }
    }
}

/// The format Solo's benchmark clients speak (the peers have one each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolFormat {
    #[default]
    Json,
    Protobuf,
}

impl ProtocolFormat {
    pub fn parse(name: &str) -> anyhow::Result<ProtocolFormat> {
        match name {
            "json" => Ok(ProtocolFormat::Json),
            "protobuf" => Ok(ProtocolFormat::Protobuf),
            other => bail!("unknown format `{other}` (json, protobuf)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProtocolFormat::Json => "JSON",
            ProtocolFormat::Protobuf => "protobuf",
        }
    }
}

/// The commands a protobuf benchmark client sends (field numbers of
/// Centrifugo's `client.proto`): connect and subscribe.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtobufCommand {
    #[prost(uint32, tag = "1")]
    pub id: u32,
    #[prost(message, optional, tag = "4")]
    pub connect: Option<ProtobufText>,
    #[prost(message, optional, tag = "5")]
    pub subscribe: Option<ProtobufText>,
}

/// A request with one string (a connect's token, a subscribe's channel: both field 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtobufText {
    #[prost(string, tag = "1")]
    pub text: String,
}

impl ProtobufCommand {
    pub fn connect(id: u32, token: &str) -> Self {
        Self { id, connect: Some(ProtobufText { text: token.to_owned() }), subscribe: None }
    }

    pub fn subscribe(id: u32, channel: &str) -> Self {
        Self { id, connect: None, subscribe: Some(ProtobufText { text: channel.to_owned() }) }
    }
}

/// As much of a protobuf reply as a benchmark client reads: its id and error code.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtobufReply {
    #[prost(uint32, tag = "1")]
    pub id: u32,
    #[prost(message, optional, tag = "2")]
    pub error: Option<ProtobufError>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtobufError {
    #[prost(uint32, tag = "1")]
    pub code: u32,
}

/// Whether a binary frame of Solo's holds a ping: an empty reply, which is a
/// zero length among its length-delimited replies.
pub fn has_protobuf_ping(mut frame: &[u8]) -> bool {
    while !frame.is_empty() {
        let Ok(len) = prost::encoding::decode_varint(&mut frame) else { return false };
        if len == 0 {
            return true;
        }
        let Some(rest) = usize::try_from(len).ok().and_then(|len| frame.get(len..)) else { return false };
        frame = rest;
    }
    false
}

const SOCKUDO_APP: (&str, &str, &str) = ("bench-app", "bench-key", "bench-secret");

/// A running server under test.
pub struct Target {
    pub kind: Kind,
    /// The format Solo's clients speak (set before opening any).
    pub format: ProtocolFormat,
    pub addr: SocketAddr,
    pid: u32,
    solo: Option<SoloServer>,
    solo_publisher: Option<(String, String)>,
    /// Solo's JSON clients' first frame (see [`crate::hello`]), built once.
    solo_hello: tokio::sync::OnceCell<tokio_tungstenite::tungstenite::Utf8Bytes>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    /// Starts `kind` on a free loopback port with a clean state; `clients` is
    /// how many connections it must accept (Solo's per-user limit is lifted to it).
    pub async fn start(kind: Kind, programs: &Programs, clients: u64) -> anyhow::Result<Target> {
        match kind {
            Kind::Solo => {
                let server = SoloServer::start_for(programs, clients).await?;
                let addr = server.addr.parse().context("solo address")?;
                let publisher = server.notification_publisher().await?;
                Ok(Target {
                    format: ProtocolFormat::Json,
                    kind,
                    addr,
                    pid: server.pid(),
                    solo: Some(server),
                    solo_publisher: Some(publisher),
                    solo_hello: tokio::sync::OnceCell::new(),
                    child: None,
                    _dir: None,
                })
            }
            Kind::Bun | Kind::NodeWs => {
                let port = free_port()?;
                let peers = &programs.peers;
                let (program, args): (PathBuf, Vec<PathBuf>) = match kind {
                    Kind::Bun => (peers.join("node_modules/bun/bin/bun.exe"), vec![peers.join("bun-pubsub.js")]),
                    _ => (PathBuf::from("node"), vec![peers.join("node-ws-pubsub.mjs")]),
                };
                let mut command = pinned(&program, programs.server_cpus.as_deref());
                command.args(&args).env("PORT", port.to_string()).stdout(Stdio::piped()).stderr(Stdio::null());
                let mut child = command.spawn().with_context(|| format!("starting {}", program.display()))?;
                let stdout = child.stdout.take().context("peer stdout")?;
                let mut lines = BufReader::new(stdout).lines();
                match lines.next() {
                    Some(Ok(line)) if line.starts_with("listening") => {}
                    other => bail!("{} did not start: {other:?}", kind.name()),
                }
                std::thread::spawn(move || for _ in lines {});
                let pid = child.id();
                Ok(Target {
                    format: ProtocolFormat::Json,
                    kind,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    pid,
                    solo: None,
                    solo_publisher: None,
                    solo_hello: tokio::sync::OnceCell::new(),
                    child: Some(child),
                    _dir: None,
                })
            }
            Kind::Sockudo => {
                let binary = programs.sockudo.clone().context("Sockudo is not built (bench/peers/sockudo-install)")?;
                let port = free_port()?;
                // Sockudo reads ./config/ when present: start it in an empty directory.
                let dir = tempfile::tempdir()?;
                let (app, key, secret) = SOCKUDO_APP;
                let mut command = pinned(&binary, programs.server_cpus.as_deref());
                command
                    .current_dir(dir.path())
                    .env("HOST", "127.0.0.1")
                    .env("PORT", port.to_string())
                    .env("SOCKUDO_DEFAULT_APP_ID", app)
                    .env("SOCKUDO_DEFAULT_APP_KEY", key)
                    .env("SOCKUDO_DEFAULT_APP_SECRET", secret)
                    .env("SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "0")
                    .env("SOCKUDO_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SECOND", "1000000")
                    .env("SOCKUDO_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SECOND", "1000000")
                    .env("SOCKUDO_DEFAULT_APP_MAX_READ_REQUESTS_PER_SECOND", "1000000")
                    .env("SOCKUDO_MAX_CONNECTIONS", "0")
                    .env("RATE_LIMITER_ENABLED", "false")
                    .env("METRICS_ENABLED", "false")
                    .env("ADAPTER_DRIVER", "local")
                    .env("CACHE_DRIVER", "memory")
                    .env("QUEUE_DRIVER", "none")
                    .env("APP_MANAGER_DRIVER", "memory")
                    .env("RATE_LIMITER_DRIVER", "memory")
                    .env("WEBSOCKET_MAX_MESSAGES", "100000")
                    .env("SHUTDOWN_GRACE_PERIOD", "0")
                    .env("RUST_LOG", "error")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                let http = reqwest::Client::new();
                let ready = format!("http://{addr}/up/{app}");
                let mut up = false;
                for _ in 0..200 {
                    if http.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
                        up = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let pid = child.id();
                let target = Target {
                    kind,
                    format: ProtocolFormat::Json,
                    addr,
                    pid,
                    solo: None,
                    solo_publisher: None,
                    solo_hello: tokio::sync::OnceCell::new(),
                    child: Some(child),
                    _dir: Some(dir),
                };
                if !up {
                    bail!("Sockudo did not become ready");
                }
                Ok(target)
            }
        }
    }

    /// Solo's clients in `format` (the peers speak their own).
    pub fn speaking(mut self, format: ProtocolFormat) -> Self {
        self.format = format;
        self
    }

    pub fn process(&self) -> crate::server::Process {
        crate::server::Process(self.pid)
    }

    pub fn solo(&self) -> Option<&SoloServer> {
        self.solo.as_ref()
    }

    /// Opens a client from `source`, subscribed to the benchmark channel and ready to receive.
    pub async fn subscribe(&self, source: SocketAddr) -> anyhow::Result<Socket> {
        match self.kind {
            Kind::Solo => {
                let server = self.solo.as_ref().context("solo")?;
                let (_, channel) = self.solo_publisher.as_ref().context("publisher")?;
                if self.format == ProtocolFormat::Protobuf {
                    let token = server.cached_token().await?;
                    return crate::open_subscribed_protobuf(source, self.addr, &token, channel).await;
                }
                let hello = self
                    .solo_hello
                    .get_or_try_init(|| async {
                        let token = server.cached_token().await?;
                        anyhow::Ok(crate::hello(&token, &json!({ "channel": channel })).into())
                    })
                    .await?;
                crate::open_subscribed_with(source, self.addr, hello.clone()).await
            }
            Kind::Bun | Kind::NodeWs => {
                let url = format!("ws://{}/ws?channel=bench", self.addr);
                open_websocket(url, source, self.addr).await
            }
            Kind::Sockudo => {
                let url = format!("ws://{}/app/{}?protocol=7", self.addr, SOCKUDO_APP.1);
                let mut ws = open_websocket(url, source, self.addr).await?;
                wait_for(&mut ws, |line| line.contains("pusher:connection_established")).await?;
                let subscribe = json!({"event": "pusher:subscribe", "data": {"channel": "bench"}});
                ws.send(Message::Text(subscribe.to_string().into())).await?;
                wait_for(&mut ws, |line| line.contains("subscription_succeeded")).await?;
                Ok(ws)
            }
        }
    }

    /// Publishes `payload` to every subscriber of the benchmark channel.
    pub async fn publish(&self, http: &reqwest::Client, payload: &str) -> anyhow::Result<()> {
        let response = match self.kind {
            Kind::Solo => {
                let server = self.solo.as_ref().context("solo")?;
                let (user, _) = self.solo_publisher.as_ref().context("publisher")?;
                server.create_notification(http, user, payload).await?
            }
            Kind::Bun | Kind::NodeWs => {
                http.post(format!("http://{}/publish?channel=bench", self.addr)).body(payload.to_owned()).send().await?
            }
            Kind::Sockudo => {
                let (app, key, secret) = SOCKUDO_APP;
                let body = json!({"name": "bench", "channel": "bench", "data": payload}).to_string();
                let path = format!("/apps/{app}/events");
                let body_md5 = hex_of(&Md5::digest(body.as_bytes()));
                let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                let query = format!("auth_key={key}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={body_md5}");
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).context("hmac key")?;
                mac.update(format!("POST\n{path}\n{query}").as_bytes());
                let signature = hex_of(&mac.finalize().into_bytes());
                http.post(format!("http://{}{path}?{query}&auth_signature={signature}", self.addr))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?
            }
        };
        if !response.status().is_success() {
            bail!("{} refused a publication: {}", self.kind.name(), response.status());
        }
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // SIGKILL: Sockudo has been seen ignoring SIGTERM after large runs,
            // and a benchmark's server holds nothing worth a clean stop.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A loopback port nothing listens on now (for a server started next).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `127.0.0.1:` and a [`free_port`].
pub(crate) fn free_addr() -> anyhow::Result<String> {
    Ok(format!("127.0.0.1:{}", free_port()?))
}

/// A TCP connection to `target` from the loopback address `source`.
pub async fn connect_from(source: SocketAddr, target: SocketAddr) -> anyhow::Result<tokio::net::TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(source)?;
    let stream = socket.connect(target).await?;
    // As browsers and the SDKs' WebSocket clients do: a command leaves at once.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A WebSocket client from `source` to `target`. Tungstenite's default read
/// buffer (128 KiB, zeroed on every read) made zeroing memory most of the load
/// generator's work with 10,000 subscribers; benchmark frames are small.
pub async fn open_websocket(url: String, source: SocketAddr, target: SocketAddr) -> anyhow::Result<Socket> {
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let stream = connect_from(source, target).await?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    Ok(ws)
}

/// Reads frames until one of their lines passes `check`.
async fn wait_for(ws: &mut Socket, check: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("no reply")?;
        let Some(Ok(Message::Text(text))) = frame else { bail!("closed before subscribing") };
        if text.split('\n').any(&check) {
            return Ok(());
        }
    }
}

/// One publication found in a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub seq: u64,
    pub sent_nanos: u64,
}

/// Bytes of payload a peer publishes in the fan-out scenarios (the marker,
/// then padding). Solo's publication there is a real notification event: its
/// push frame (envelope, notification, unread counts) is about 960 bytes. A
/// peer publishing the bare marker (about 30 bytes) moves a thirtieth of the
/// bytes through the kernel, and the generator reads a thirtieth of them: with
/// one core each, the generator's own reading then bounded Solo's capacity
/// and latency, not the server's. Padded, every server moves the same bytes.
pub const PEER_PAYLOAD_BYTES: usize = 940;

/// The payload of publication `seq`, sent `sent_nanos` after the benchmark's
/// clock started, padded with dots to `pad_to` bytes (no padding when the
/// marker is already that long).
pub fn payload(seq: u64, sent_nanos: u64, pad_to: usize) -> String {
    let mut text = format!("bench:{seq}:{sent_nanos}:");
    if text.len() < pad_to {
        text.push_str(&".".repeat(pad_to - text.len()));
    }
    text
}

/// Finds `bench:` in frames: SIMD-accelerated, built once. The generator reads
/// every frame of every subscriber, so its own cost per frame must stay far
/// below the servers'.
static MARKER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"bench:"));

/// Every marker in `frame`, in order.
pub fn markers(bytes: &[u8]) -> impl Iterator<Item = Marker> + '_ {
    MARKER.find_iter(bytes).filter_map(move |at| {
        let (seq, rest) = number_then_colon(&bytes[at + 6..])?;
        let (sent_nanos, _) = number_then_colon(rest)?;
        Some(Marker { seq, sent_nanos })
    })
}

/// A decimal number followed by `:`, and what follows the colon.
fn number_then_colon(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || bytes.get(digits) != Some(&b':') {
        return None;
    }
    let value = bytes[..digits].iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    Some((value, &bytes[digits + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_survive_every_framing() {
        let solo = r#"{"push":{"channel":"notifications:u_1","pub":{"data":{"data":{"title":"bench:7:1234:"}}}}}"#;
        let pusher = r#"{"event":"bench","channel":"bench","data":"bench:8:99:"}"#;
        let batch = format!("{solo}\n{{}}\n{pusher}");
        let found: Vec<Marker> = markers(batch.as_bytes()).collect();
        assert_eq!(found, vec![Marker { seq: 7, sent_nanos: 1234 }, Marker { seq: 8, sent_nanos: 99 }]);
        assert_eq!(markers(payload(3, 4, 0).as_bytes()).collect::<Vec<_>>(), vec![Marker { seq: 3, sent_nanos: 4 }]);
        let padded = payload(5, 6, PEER_PAYLOAD_BYTES);
        assert_eq!(padded.len(), PEER_PAYLOAD_BYTES);
        assert_eq!(markers(padded.as_bytes()).collect::<Vec<_>>(), vec![Marker { seq: 5, sent_nanos: 6 }]);
        // Not markers: no digits, no closing colon, a number too large.
        assert_eq!(markers(b"bench::1: bench:1 bench:1:2 bench:99999999999999999999:1:").count(), 0);
        assert_eq!(markers(b"bench:nope").count(), 0);
    }

    #[test]
    fn a_protobuf_frame_carries_its_markers_and_its_pings() {
        // A push (field 4) whose publication data holds a marker, then a ping (an empty reply).
        let data = br#"{"title":"bench:9:42:"}"#;
        let mut frame = vec![0x22, data.len() as u8];
        frame.extend_from_slice(data);
        let mut delimited = vec![frame.len() as u8];
        delimited.extend_from_slice(&frame);
        assert_eq!(markers(&delimited).collect::<Vec<_>>(), vec![Marker { seq: 9, sent_nanos: 42 }]);
        assert!(!has_protobuf_ping(&delimited));
        delimited.push(0);
        assert!(has_protobuf_ping(&delimited));
        assert!(!has_protobuf_ping(&[0x05, 0x01]), "a length past the frame is no ping");
    }
}
