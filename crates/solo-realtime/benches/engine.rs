//! Micro-benchmarks of the engine's hot path (`cargo bench -p solo-realtime`):
//! building a publication's frame once, fanning it out to 1,000 subscribers
//! over real loopback sockets, and opening a connection's state.
//!
//! The whole-server figures against other servers come from `bench/run`; these
//! isolate the engine's own share, to compare changes to it.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use solo_realtime::bus::{BusMessage, BusSink};
use solo_realtime::hub::{Hub, HubTiming};
use solo_realtime::metrics::RealtimeMetrics;
use solo_realtime::protocol;
use solo_realtime::recent::RecentPublications;
use solo_realtime::websocket::text_frame;
use solo_store::Route;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

const CHANNEL: &str = "notifications:u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f";

/// An event envelope of the size a notification has.
fn envelope() -> Arc<str> {
    let data = serde_json::json!({
        "id": "0193f0c2-a1b2-7c3d-8e9f-0a1b2c3d4e5f", "type": "notification.created", "version": 1,
        "ts": "2026-11-26T10:15:02.123Z", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "actor": {"kind": "user", "id": "u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f"},
        "subject": {"kind": "notification", "id": "n_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f"},
        "data": {"notification": {"id": "n_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f", "category": "missions",
            "title": "“Ship the launchpad” moved to review", "body": "bo moved it from build to review.",
            "severity": "info", "link": "/missions/m_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f", "quiet": false}}
    });
    Arc::from(data.to_string())
}

fn message(offset: u64, envelope: &Arc<str>) -> BusMessage {
    BusMessage {
        event_type: "notification.created".into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        envelope: envelope.clone(),
        routes: vec![Route { channel: CHANNEL.into(), offset, epoch: "3e5e7654".into() }],
    }
}

fn hub() -> Hub {
    Hub::new(1024, HubTiming::default(), Arc::new(RealtimeMetrics::default()), None, RecentPublications::new(0, 0))
}

fn publication_frame(c: &mut Criterion) {
    let envelope = envelope();
    let mut group = c.benchmark_group("publication frame");
    group.throughput(Throughput::Bytes(envelope.len() as u64));
    group.bench_function("push JSON and WebSocket header, once per channel", |b| {
        b.iter(|| {
            let push = protocol::publication_push(CHANNEL, &envelope, 7, "notification.created", "4bf9")
                .expect("envelope is JSON");
            text_frame(&push)
        })
    });
    group.finish();
}

/// 1,000 live subscribers on one channel, their clients draining in the background.
async fn subscribers(hub: &Hub, count: usize) -> Vec<TcpStream> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let conn = hub.open(server.into(), solo_realtime::protocol::Format::Json);
        let channel: Arc<str> = Arc::from(CHANNEL);
        conn.hold(channel.clone());
        hub.subscribe(&conn, &channel, false);
        conn.go_live(vec![(channel, 0)], text_frame(b"{}"));
        clients.push(client);
    }
    clients
}

fn fan_out(c: &mut Criterion) {
    const SUBSCRIBERS: usize = 1000;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let hub = hub();
    let clients = runtime.block_on(subscribers(&hub, SUBSCRIBERS));
    for mut client in clients {
        runtime.spawn(async move {
            let mut sink = vec![0u8; 64 * 1024];
            while client.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
    }
    let envelope = envelope();
    let mut offset = 0;
    let mut group = c.benchmark_group("fan-out");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    group.bench_function("one publication to 1,000 subscribers (frame once, corked, one send each)", |b| {
        b.iter_batched(
            || {
                offset += 1;
                message(offset, &envelope)
            },
            |message| {
                hub.deliver(&message);
                hub.flush_corked();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn connection_state(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let hub = hub();
    let (listener, addr) = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    });
    eprintln!(
        "connection state: {} bytes per connection struct, plus its socket registration and subscriptions",
        std::mem::size_of::<solo_realtime::connection::Connection>()
    );
    c.bench_function("open, subscribe and remove a connection's state", |b| {
        b.iter_batched(
            || {
                runtime.block_on(async {
                    let client = TcpStream::connect(addr).await.expect("connect");
                    let (server, _) = listener.accept().await.expect("accept");
                    (client, server)
                })
            },
            |(client, server)| {
                let _guard = runtime.enter();
                let conn = hub.open(server.into(), solo_realtime::protocol::Format::Json);
                let channel: Arc<str> = Arc::from(CHANNEL);
                hub.subscribe(&conn, &channel, false);
                hub.remove(&conn);
                drop(client);
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, publication_frame, fan_out, connection_state);
criterion_main!(benches);
