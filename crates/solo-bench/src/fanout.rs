//! Fan-out: N subscribers on one channel, publications at a rising rate, until
//! p99 publish-to-receive latency passes 100 ms or delivery falls below 99.9 %
//! (halved instead while the first rate does not hold). The highest rate that
//! held is the server's capacity; latency is then measured again at a probe
//! rate (half of a reference capacity) so servers are compared at the same load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::programs::Programs;
use crate::source_address;
use crate::targets::{markers, payload, Kind, ProtocolFormat, Target};

/// Latency past which a rate no longer holds.
const P99_LIMIT_MS: f64 = 100.0;
/// Share of expected deliveries below which a rate no longer holds.
const DELIVERY_FLOOR: f64 = 0.999;
/// Lowest rate the ramp tries when the first one does not hold.
const MIN_RATE: f64 = 1.0;
/// Publications of step `k` are numbered from `k * STEP_SEQ`.
const STEP_SEQ: u64 = 1_000_000_000;

/// The benchmark's clock: payloads carry nanoseconds since it started, and
/// subscribers in the same process read the same clock.
fn clock() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    clock().elapsed().as_nanos() as u64
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds from 1 µs to 10 minutes, 3 significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

#[derive(Debug, Clone)]
pub struct FanoutOptions {
    pub subscribers: u64,
    pub start_rate: f64,
    pub max_rate: f64,
    pub step: Duration,
    pub drain: Duration,
    /// Bisection rounds between the last rate that held and the first that did not.
    pub refine: u32,
    /// Rate to measure latency at afterwards; none: half of this server's capacity.
    pub probe_rate: Option<f64>,
    pub concurrency: usize,
    /// What a peer's payload is padded to ([`crate::targets::PEER_PAYLOAD_BYTES`]); 0: the bare marker.
    pub peer_payload_bytes: usize,
    /// The format Solo's subscribers speak.
    pub format: ProtocolFormat,
}

/// What one rate step measured.
#[derive(Debug, Clone)]
pub struct Step {
    pub rate: f64,
    pub achieved: f64,
    pub published: u64,
    pub publish_errors: u64,
    pub delivered: u64,
    pub expected: u64,
    pub histogram: Histogram<u64>,
    /// The server's CPU time over the step (publishing, delivering, draining).
    pub server_cpu_secs: f64,
}

impl Step {
    /// Server CPU per delivered message, in microseconds.
    pub fn cpu_us_per_delivery(&self) -> f64 {
        if self.delivered == 0 {
            return f64::NAN;
        }
        self.server_cpu_secs * 1e6 / self.delivered as f64
    }

    pub fn delivery(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.delivered as f64 / self.expected as f64
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.histogram.max() as f64 / 1000.0
    }

    pub fn held(&self) -> bool {
        self.publish_errors == 0
            && self.achieved >= self.rate * 0.95
            && self.delivery() >= DELIVERY_FLOOR
            && self.quantile_ms(0.99) <= P99_LIMIT_MS
    }

    pub fn to_json(&self) -> Value {
        json!({
            "rate": self.rate.round(),
            "achieved": self.achieved.round(),
            "published": self.published,
            "publish_errors": self.publish_errors,
            "delivery": self.delivery(),
            "p50_ms": self.quantile_ms(0.5),
            "p90_ms": self.quantile_ms(0.9),
            "p99_ms": self.quantile_ms(0.99),
            "max_ms": self.max_ms(),
            "held": self.held(),
            "server_cpu_us_per_delivery": self.cpu_us_per_delivery(),
        })
    }
}

/// The outcome of a fan-out run against one server.
#[derive(Debug, Clone)]
pub struct FanoutResult {
    pub kind: Kind,
    pub subscribers: u64,
    pub connected: u64,
    pub capacity: f64,
    pub steps: Vec<Step>,
    pub probe: Option<Step>,
    pub peak_rss_kib: u64,
    pub cpu_secs: f64,
}

impl FanoutResult {
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": "fanout",
            "server": self.kind.name(),
            "subscribers": self.subscribers,
            "connected": self.connected,
            "capacity_per_sec": self.capacity.round(),
            "steps": self.steps.iter().map(Step::to_json).collect::<Vec<_>>(),
            "probe": self.probe.as_ref().map(Step::to_json),
            "server_peak_rss_kib": self.peak_rss_kib,
            "server_cpu_secs": self.cpu_secs,
        })
    }
}

/// What the subscribers received, by step: one histogram per step shared by
/// every subscriber (a histogram each would cost the generator more than
/// reading the frames does).
#[derive(Default)]
struct Tally {
    steps: Mutex<HashMap<u64, (u64, Histogram<u64>)>>,
}

impl Tally {
    fn record(&self, step: u64, micros: u64) {
        let mut steps = self.steps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (count, histogram) = steps.entry(step).or_insert_with(|| (0, new_histogram()));
        *count += 1;
        let _ = histogram.record(micros.max(1));
    }

    /// Step `step`'s deliveries and latencies; late arrivals of earlier steps are dropped.
    fn take(&self, step: u64) -> (u64, Histogram<u64>) {
        let mut steps = self.steps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let taken = steps.remove(&step).unwrap_or_else(|| (0, new_histogram()));
        steps.retain(|s, _| *s > step);
        taken
    }
}

/// The subscribers' side: one task per connection, all recording into one tally.
struct Subscribers {
    tally: Arc<Tally>,
    alive: Arc<AtomicU64>,
    count: u64,
    /// Cancelled on drop: ends every subscriber.
    _stop: tokio_util::sync::DropGuard,
}

impl Subscribers {
    async fn open(target: &Arc<Target>, count: u64, concurrency: usize) -> anyhow::Result<Subscribers> {
        let stop = CancellationToken::new();
        let tally = Arc::new(Tally::default());
        let alive = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(Semaphore::new(concurrency));
        let process = target.process();
        let subscribers =
            Subscribers { tally: tally.clone(), alive: alive.clone(), count, _stop: stop.clone().drop_guard() };
        for n in 0..count {
            let permit = gate.clone().acquire_owned().await.context("semaphore")?;
            if n % 100 == 99 {
                // Dropping `subscribers` on return ends the subscribers opened so far.
                crate::check_server_memory(&process, alive.load(Ordering::Relaxed))?;
            }
            let (target, tally, alive, failed, stop) =
                (target.clone(), tally.clone(), alive.clone(), failed.clone(), stop.clone());
            tokio::spawn(async move {
                match target.subscribe(source_address(n)).await {
                    Ok(ws) => {
                        alive.fetch_add(1, Ordering::Relaxed);
                        drop(permit);
                        listen(&target, ws, &tally, &stop).await;
                        alive.fetch_sub(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("{}: subscriber {n} failed: {e:#}", target.kind.name());
                        }
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        while alive.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(subscribers)
    }

    /// Every subscriber's deliveries of step `step`, merged.
    fn collect(&self, step: u64) -> (u64, Histogram<u64>) {
        self.tally.take(step)
    }
}

/// Reads publications into the tally and answers keepalives until `stop`.
async fn listen(target: &Target, mut ws: crate::Socket, tally: &Tally, stop: &CancellationToken) {
    let mut last_seq = u64::MAX;
    crate::read_client(target.kind, &mut ws, stop, |text| {
        let received = now_nanos();
        for marker in markers(text) {
            // A server may repeat the payload inside one publication; count it once.
            if last_seq == marker.seq {
                continue;
            }
            last_seq = marker.seq;
            tally.record(marker.seq / STEP_SEQ, received.saturating_sub(marker.sent_nanos) / 1000);
        }
    })
    .await;
}

/// Publishes at `rate` for `duration`, then waits `drain` and collects what arrived.
async fn run_step(
    target: &Arc<Target>,
    subscribers: &Subscribers,
    step_id: u64,
    rate: f64,
    options: &FanoutOptions,
) -> Step {
    let total = (rate * options.step.as_secs_f64()).round().max(1.0) as u64;
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap_or_default();
    let published = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(Semaphore::new(256));
    // Solo's payload is a notification's title; its frame is the whole event.
    let pad_to = if target.kind == Kind::Solo { 0 } else { options.peer_payload_bytes };
    let process = target.process();
    let cpu_before = process.cpu_seconds().unwrap_or(f64::NAN);
    let start = tokio::time::Instant::now();
    let mut requests = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        let (target, http, published, errors) = (target.clone(), http.clone(), published.clone(), errors.clone());
        requests.push(tokio::spawn(async move {
            let body = payload(step_id * STEP_SEQ + i, now_nanos(), pad_to);
            match target.publish(&http, &body).await {
                Ok(()) => published.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("{}: publish failed: {e:#}", target.kind.name());
                    }
                    0
                }
            };
            drop(permit);
        }));
    }
    for request in requests {
        let _ = request.await;
    }
    let elapsed = start.elapsed().as_secs_f64().max(options.step.as_secs_f64());
    tokio::time::sleep(options.drain).await;
    let (delivered, histogram) = subscribers.collect(step_id);
    let server_cpu_secs = process.cpu_seconds().unwrap_or(f64::NAN) - cpu_before;
    let published = published.load(Ordering::Relaxed);
    Step {
        rate,
        achieved: total as f64 / elapsed,
        published,
        publish_errors: errors.load(Ordering::Relaxed),
        delivered,
        expected: published * subscribers.count,
        histogram,
        server_cpu_secs,
    }
}

/// Ramps the publication rate against `kind` with `options.subscribers` subscribers.
pub async fn run(kind: Kind, programs: &Programs, options: &FanoutOptions) -> anyhow::Result<FanoutResult> {
    clock();
    let target = Arc::new(Target::start(kind, programs, options.subscribers).await?.speaking(options.format));
    let subscribers = Subscribers::open(&target, options.subscribers, options.concurrency).await?;
    let connected = subscribers.alive.load(Ordering::Relaxed);
    let mut steps = Vec::new();
    let mut step_id = 1;
    let mut rate = options.start_rate;
    let mut held: Option<f64> = None;
    let mut failed: Option<f64> = None;
    while rate <= options.max_rate {
        let step = run_step(&target, &subscribers, step_id, rate, options).await;
        step_id += 1;
        let ok = step.held();
        eprintln!(
            "{} fan-out {}: {:.0}/s → achieved {:.0}/s, delivery {:.4}, p99 {:.1} ms{}",
            kind.name(),
            options.subscribers,
            rate,
            step.achieved,
            step.delivery(),
            step.quantile_ms(0.99),
            if ok { "" } else { " (did not hold)" }
        );
        steps.push(step);
        if ok {
            held = Some(rate);
            if failed.is_some() {
                break;
            }
            rate *= 2.0;
        } else {
            failed = Some(rate);
            // Even the first rate did not hold: halve it until one does (down to
            // MIN_RATE), so a slow server still gets a capacity to compare.
            if held.is_some() || rate / 2.0 < MIN_RATE {
                break;
            }
            rate /= 2.0;
        }
    }
    if let (Some(low), Some(high)) = (held, failed) {
        let (mut low, mut high) = (low, high);
        for _ in 0..options.refine {
            let mid = (low + high) / 2.0;
            let step = run_step(&target, &subscribers, step_id, mid, options).await;
            step_id += 1;
            if step.held() {
                low = mid;
            } else {
                high = mid;
            }
            steps.push(step);
        }
        held = Some(low);
    }
    let capacity = held.unwrap_or(0.0);
    let probe_rate = options.probe_rate.unwrap_or(capacity / 2.0);
    let probe = if probe_rate >= 1.0 {
        Some(run_step(&target, &subscribers, step_id, probe_rate, options).await)
    } else {
        None
    };
    let process = target.process();
    Ok(FanoutResult {
        kind,
        subscribers: options.subscribers,
        connected,
        capacity,
        steps,
        probe,
        peak_rss_kib: process.peak_rss_kib().unwrap_or(0),
        cpu_secs: process.cpu_seconds().unwrap_or(0.0),
    })
}

/// Publications at each of `rates` in turn (no ramp), `subscribers` listening:
/// the end-to-end measurement of one write path at fixed loads.
pub async fn fixed(
    kind: Kind,
    programs: &Programs,
    options: &FanoutOptions,
    rates: &[f64],
) -> anyhow::Result<Vec<Step>> {
    clock();
    let target = Arc::new(Target::start(kind, programs, options.subscribers).await?.speaking(options.format));
    let subscribers = Subscribers::open(&target, options.subscribers, options.concurrency).await?;
    let mut steps = Vec::new();
    for (i, rate) in rates.iter().enumerate() {
        steps.push(run_step(&target, &subscribers, i as u64 + 1, *rate, options).await);
    }
    Ok(steps)
}

/// Writes beside a fixed-rate run: `workstations` workstations (of the bench
/// user's workspace) each sending a heartbeat every `every`, spread evenly.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatLoad {
    pub workstations: usize,
    pub every: Duration,
}

/// Like [`fixed`] for Solo at one rate, with heartbeats written meanwhile:
/// how much the notifications' end-to-end latency suffers from other writes.
/// Returns the step and the heartbeats answered with success.
pub async fn fixed_with_heartbeats(
    programs: &Programs,
    options: &FanoutOptions,
    rate: f64,
    load: HeartbeatLoad,
) -> anyhow::Result<(Step, u64)> {
    clock();
    let target = Arc::new(Target::start(Kind::Solo, programs, options.subscribers).await?);
    let subscribers = Subscribers::open(&target, options.subscribers, options.concurrency).await?;
    let server = target.solo().context("a Solo target")?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let mut stations = Vec::with_capacity(load.workstations);
    for n in 0..load.workstations {
        let created: serde_json::Value = http
            .post(server.url("/api/workstations"))
            .bearer_auth(server.pat())
            .json(&serde_json::json!({ "name": format!("bench-{n}") }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        stations.push(created["id"].as_str().context("workstation id")?.to_owned());
    }
    let stop = CancellationToken::new();
    let sent = Arc::new(AtomicU64::new(0));
    let heartbeats = {
        let (stop, sent, http) = (stop.clone(), sent.clone(), http.clone());
        let urls: Vec<String> =
            stations.iter().map(|id| server.url(&format!("/api/workstations/{id}/heartbeat"))).collect();
        let pat = server.pat().to_owned();
        let period = load.every.div_f64(urls.len().max(1) as f64);
        tokio::spawn(async move {
            let in_flight = Arc::new(Semaphore::new(64));
            let mut ticker = tokio::time::interval(period);
            for url in urls.iter().cycle() {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
                let (http, url, pat, sent) = (http.clone(), url.clone(), pat.clone(), sent.clone());
                tokio::spawn(async move {
                    let answer = http.post(url).bearer_auth(pat).json(&serde_json::json!({})).send().await;
                    if answer.is_ok_and(|r| r.status().is_success()) {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
        })
    };
    // One heartbeat round before measuring, so the load is steady.
    tokio::time::sleep(load.every).await;
    let step = run_step(&target, &subscribers, 1, rate, options).await;
    stop.cancel();
    let _ = heartbeats.await;
    Ok((step, sent.load(Ordering::Relaxed)))
}
