//! Follows one channel for the CLI: over the realtime protocol when it can, by
//! polling `GET /api/events` when it cannot, switching back and forth without
//! printing anything twice or skipping anything (both paths read the same
//! stream offsets; event ids are deduplicated as a second guard). With
//! `--since`, it first replays the channel's kept history from that point over
//! HTTP, then subscribes from the last offset it printed: nothing is missed and
//! nothing printed twice at the seam.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::since::Since;
use super::{Api, ApiFailure, Fetched};

/// Something that happened on the channel.
pub enum Item {
    /// A publication: the event envelope.
    Event(Value),
    /// Someone joined or left the channel (realtime only).
    Join(Value),
    Leave(Value),
}

/// How a realtime session ended.
enum Ended {
    /// It could not be had or it dropped: fall back to polling, or reconnect.
    Unavailable(String),
    /// The server closed it; reconnect soon.
    Closed(String),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const SEEN_CAPACITY: usize = 4096;
/// Publications read per history request while replaying.
const REPLAY_PAGE: usize = 1000;

/// Whether a kept publication comes after the `--since` point.
fn after_point(since: &Since, envelope: &Value, cutoff_ms: i64) -> bool {
    match since {
        Since::Offset(_) => true,
        Since::Within(_) => envelope["ts"]
            .as_str()
            .and_then(|ts| chrono::DateTime::parse_from_rfc3339(ts).ok())
            .is_some_and(|ts| ts.timestamp_millis() >= cutoff_ms),
        // The point itself is not printed; what follows it is (see `replay`).
        Since::After(_) => false,
    }
}

/// Whether a publication is the one an id names: the event, or the notification it created.
fn is_point(id: &str, envelope: &Value) -> bool {
    envelope["id"].as_str() == Some(id) || envelope["data"]["notification"]["id"].as_str() == Some(id)
}

pub struct Watcher {
    api: Api,
    channel: String,
    join_leave: bool,
    /// The stream position we have delivered up to: (epoch, offset).
    position: Option<(String, u64)>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    poll_interval: Duration,
    etag: Option<String>,
}

impl Watcher {
    pub fn new(api: Api, channel: String, join_leave: bool) -> Self {
        Self {
            api,
            channel,
            join_leave,
            position: None,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            poll_interval: Duration::from_secs(15),
            etag: None,
        }
    }

    fn first_time(&mut self, envelope: &Value) -> bool {
        let Some(id) = envelope["id"].as_str() else { return true };
        if !self.seen.insert(id.to_owned()) {
            return false;
        }
        self.seen_order.push_back(id.to_owned());
        if self.seen_order.len() > SEEN_CAPACITY {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Delivers a publication once, in offset order, and advances the position.
    fn deliver(
        &mut self,
        offset: u64,
        envelope: Value,
        handle: &mut impl FnMut(Item) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if let Some((_, current)) = &mut self.position {
            if offset <= *current {
                return Ok(());
            }
            *current = offset;
        }
        if self.first_time(&envelope) {
            handle(Item::Event(envelope))?;
        }
        Ok(())
    }

    /// Prints the channel's kept history from `since` on, oldest first, and
    /// leaves the position at the stream's latest offset, so [`Watcher::run`]
    /// follows on from exactly there.
    pub async fn replay(
        &mut self,
        since: &Since,
        handle: &mut impl FnMut(Item) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let channel = self.channel.clone();
        let cutoff_ms = match since {
            Since::Within(ms) => chrono::Utc::now().timestamp_millis() - i64::try_from(*ms).unwrap_or(i64::MAX),
            _ => 0,
        };
        let mut after = match since {
            Since::Offset(offset) => *offset,
            _ => 0,
        };
        let mut printing = !matches!(since, Since::After(_));
        let mut first = true;
        loop {
            let path = format!("/api/events?channel={channel}&since={after}&limit={REPLAY_PAGE}");
            let page: Value = self.api.get(&path).await?;
            let epoch = page["epoch"].as_str().unwrap_or_default().to_owned();
            let top = page["offset"].as_u64().unwrap_or(0);
            if first {
                first = false;
                if let Since::Offset(offset) = since {
                    if *offset > top {
                        anyhow::bail!("offset {offset} is past the latest offset of {channel} ({top})");
                    }
                    if page["reset"] == true {
                        eprintln!("warning: history after offset {offset} is no longer all kept; replaying what is");
                    }
                }
                self.position = Some((epoch.clone(), after));
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            for item in &items {
                let offset = item["offset"].as_u64().unwrap_or(0);
                let envelope = &item["event"];
                if printing || after_point(since, envelope, cutoff_ms) {
                    printing = true;
                    self.deliver(offset, envelope.clone(), handle)?;
                } else {
                    if let Since::After(id) = since {
                        printing = is_point(id, envelope);
                    }
                    self.position = Some((epoch.clone(), offset));
                }
            }
            after = page["nextSince"].as_u64().unwrap_or(top).max(after);
            if items.len() < REPLAY_PAGE || after >= top {
                if let Since::After(id) = since {
                    if !printing {
                        anyhow::bail!("`{id}` is not in the kept history of {channel}");
                    }
                }
                self.position = Some((epoch, after));
                return Ok(());
            }
        }
    }

    /// Runs until an unrecoverable error (authentication, permission).
    pub async fn run(&mut self, mut handle: impl FnMut(Item) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut offline = false;
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.session(&mut handle, &mut offline).await? {
                Ended::Closed(reason) => {
                    eprintln!("reconnecting ({reason})");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Ended::Unavailable(reason) => {
                    // Poll first: the answer says how often to poll (X-Poll-Interval).
                    let polled = self.poll(&mut handle).await;
                    if !offline {
                        eprintln!("offline: polling every {}s ({reason})", self.poll_interval.as_secs());
                        offline = true;
                    }
                    if let Err(e) = polled {
                        if e.downcast_ref::<ApiFailure>().is_some_and(|f| f.is_auth() || f.status == 404) {
                            return Err(e);
                        }
                        eprintln!("poll failed: {e:#}");
                    }
                    tokio::time::sleep(self.poll_interval).await;
                }
            }
        }
    }

    /// One realtime session: connect, subscribe (recovering from our position),
    /// then read until the connection ends.
    async fn session(
        &mut self,
        handle: &mut impl FnMut(Item) -> anyhow::Result<()>,
        offline: &mut bool,
    ) -> anyhow::Result<Ended> {
        let token: Value = match self.api.post("/api/realtime/token", json!({})).await {
            Ok(token) => token,
            Err(e) if e.downcast_ref::<ApiFailure>().is_some_and(ApiFailure::is_auth) => return Err(e),
            Err(e) => return Ok(Ended::Unavailable(format!("{e:#}"))),
        };
        let url = token["url"].as_str().unwrap_or_default().to_owned();
        let socket = match tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url.as_str())).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(e)) => return Ok(Ended::Unavailable(format!("realtime endpoint: {e}"))),
            Err(_) => return Ok(Ended::Unavailable("realtime endpoint: timed out".into())),
        };
        let (mut write, mut read) = socket.split();
        let mut next_id = 1u32;
        let mut send = |value: Value| {
            next_id += 1;
            Message::Text(value.to_string().into())
        };
        let connect = json!({ "id": 1, "connect": { "token": token["token"], "name": "solo-cli", "version": env!("CARGO_PKG_VERSION") } });
        if write.send(send(connect)).await.is_err() {
            return Ok(Ended::Unavailable("realtime endpoint closed".into()));
        }
        let mut subscribe = json!({ "channel": self.channel, "join_leave": self.join_leave });
        if let Some((epoch, offset)) = &self.position {
            subscribe["recover"] = json!(true);
            subscribe["epoch"] = json!(epoch);
            subscribe["offset"] = json!(offset);
        }
        if write.send(send(json!({ "id": 2, "subscribe": subscribe }))).await.is_err() {
            return Ok(Ended::Unavailable("realtime endpoint closed".into()));
        }

        let mut ping_every = Duration::from_secs(25);
        let mut last_heard = Instant::now();
        let mut refresh_at: Option<Instant> = None;
        loop {
            let deadline = last_heard + ping_every + Duration::from_secs(10);
            let refresh = refresh_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let frame = tokio::select! {
                frame = tokio::time::timeout_at(deadline, read.next()) => frame,
                _ = tokio::time::sleep_until(refresh) => {
                    refresh_at = None;
                    match self.api.post::<Value>("/api/realtime/token", json!({})).await {
                        Ok(fresh) => {
                            let _ = write.send(send(json!({ "id": 3, "refresh": { "token": fresh["token"] } }))).await;
                        }
                        Err(e) if e.downcast_ref::<ApiFailure>().is_some_and(ApiFailure::is_auth) => return Err(e),
                        Err(_) => {}
                    }
                    continue;
                }
            };
            let text = match frame {
                Err(_) => return Ok(Ended::Closed("no ping from the server".into())),
                Ok(None) => return Ok(Ended::Closed("connection lost".into())),
                Ok(Some(Err(e))) => return Ok(Ended::Closed(format!("connection lost: {e}"))),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let reason = frame
                        .map(|f| format!("closed by the server: {} {}", u16::from(f.code), f.reason))
                        .unwrap_or_else(|| "closed".into());
                    return Ok(Ended::Closed(reason));
                }
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
            };
            last_heard = Instant::now();
            for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
                let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
                if message.as_object().is_some_and(|o| o.is_empty()) {
                    if write.send(Message::Text("{}".into())).await.is_err() {
                        return Ok(Ended::Closed("connection lost".into()));
                    }
                    continue;
                }
                if let Some(error) = message.get("error") {
                    let code = error["code"].as_u64().unwrap_or(0);
                    let text = error["message"].as_str().unwrap_or("error").to_owned();
                    if matches!(code, 102 | 103) {
                        anyhow::bail!("cannot follow {}: {text} ({code})", self.channel);
                    }
                    return Ok(Ended::Unavailable(format!("{text} ({code})")));
                }
                if let Some(connected) = message.get("connect") {
                    ping_every = Duration::from_secs(connected["ping"].as_u64().unwrap_or(25).max(1));
                    if let Some(ttl) = connected["ttl"].as_u64() {
                        refresh_at = Some(Instant::now() + Duration::from_secs(ttl.saturating_sub(30).max(5)));
                    }
                    continue;
                }
                if let Some(refreshed) = message.get("refresh") {
                    if let Some(ttl) = refreshed["ttl"].as_u64() {
                        refresh_at = Some(Instant::now() + Duration::from_secs(ttl.saturating_sub(30).max(5)));
                    }
                    continue;
                }
                if let Some(subscribed) = message.get("subscribe") {
                    if *offline {
                        eprintln!("online: realtime connection restored");
                        *offline = false;
                    }
                    if subscribed["was_recovering"] == true && subscribed["recovered"] != true {
                        eprintln!("warning: some updates were missed while away and are no longer in history");
                    }
                    let epoch = subscribed["epoch"].as_str().unwrap_or_default().to_owned();
                    let recovered = subscribed["publications"].as_array().cloned().unwrap_or_default();
                    if subscribed["recovered"] != true {
                        self.position = Some((epoch.clone(), subscribed["offset"].as_u64().unwrap_or(0)));
                    }
                    for publication in recovered {
                        let offset = publication["offset"].as_u64().unwrap_or(0);
                        self.deliver(offset, publication["data"].clone(), handle)?;
                    }
                    self.position = Some((epoch, subscribed["offset"].as_u64().unwrap_or(0)));
                    continue;
                }
                let push = &message["push"];
                if push["channel"] != self.channel.as_str() {
                    continue;
                }
                if let Some(publication) = push.get("pub") {
                    let offset = publication["offset"].as_u64().unwrap_or(0);
                    self.deliver(offset, publication["data"].clone(), handle)?;
                } else if let Some(join) = push.get("join") {
                    handle(Item::Join(join["info"].clone()))?;
                } else if let Some(leave) = push.get("leave") {
                    handle(Item::Leave(leave["info"].clone()))?;
                } else if let Some(unsubscribed) = push.get("unsubscribe") {
                    anyhow::bail!(
                        "the server ended the subscription to {}: {}",
                        self.channel,
                        unsubscribed["reason"].as_str().unwrap_or("unsubscribed")
                    );
                }
            }
        }
    }

    /// One round of polling `GET /api/events`, paging until caught up.
    async fn poll(&mut self, handle: &mut impl FnMut(Item) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let channel = self.channel.clone();
        if self.position.is_none() {
            let page: Value = self.api.get(&format!("/api/events?channel={channel}&limit=1")).await?;
            self.position =
                Some((page["epoch"].as_str().unwrap_or_default().to_owned(), page["offset"].as_u64().unwrap_or(0)));
            return Ok(());
        }
        loop {
            let Some((epoch, offset)) = self.position.clone() else { return Ok(()) };
            let path = format!("/api/events?channel={channel}&since={offset}&epoch={epoch}&limit=100");
            match self.api.get_conditional::<Value>(&path, self.etag.as_deref()).await? {
                Fetched::NotModified { poll_interval } => {
                    self.set_interval(poll_interval);
                    return Ok(());
                }
                Fetched::Fresh { body, etag, poll_interval } => {
                    self.set_interval(poll_interval);
                    self.etag = etag;
                    if body["reset"] == true {
                        eprintln!("warning: some updates were missed and are no longer in history");
                        let top = body["offset"].as_u64().unwrap_or(0);
                        self.position = Some((body["epoch"].as_str().unwrap_or_default().to_owned(), top));
                        self.etag = None;
                        return Ok(());
                    }
                    let items = body["items"].as_array().cloned().unwrap_or_default();
                    for item in &items {
                        self.deliver(item["offset"].as_u64().unwrap_or(0), item["event"].clone(), handle)?;
                    }
                    if let Some((_, current)) = &mut self.position {
                        *current = (*current).max(body["nextSince"].as_u64().unwrap_or(*current));
                    }
                    if items.len() < 100 {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn set_interval(&mut self, seconds: Option<u64>) {
        if let Some(seconds) = seconds.filter(|s| *s > 0 && *s <= 3600) {
            self.poll_interval = Duration::from_secs(seconds);
        }
    }
}
