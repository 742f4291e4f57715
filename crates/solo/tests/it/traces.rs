//! Spans exported over OTLP (`SOLO_OTLP_ENDPOINT`), received by an OTLP/HTTP
//! receiver in the test: one notification created with a `traceparent` is
//! followed from the request through its store transaction and the
//! dispatcher's publish to the delivery to a subscribed client, all in the
//! caller's trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use prost::Message as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{serve_with, solo};

/// The parts of OTLP's `ExportTraceServiceRequest` the test reads (field
/// numbers of opentelemetry-proto's trace service and trace messages).
#[derive(Clone, PartialEq, prost::Message)]
struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResourceSpans {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeSpans>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ScopeSpans {
    #[prost(message, repeated, tag = "2")]
    spans: Vec<Span>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Span {
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    span_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    parent_span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    name: String,
    #[prost(message, repeated, tag = "9")]
    attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyValue {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<AnyValue>,
}

/// `AnyValue`'s oneof read as optional fields (the same wire format).
#[derive(Clone, PartialEq, prost::Message)]
struct AnyValue {
    #[prost(string, optional, tag = "1")]
    string_value: Option<String>,
    #[prost(int64, optional, tag = "3")]
    int_value: Option<i64>,
}

/// A span as received: its ids in hex, its name and integer attributes.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    ints: Vec<(String, i64)>,
}

type Spans = Arc<Mutex<Vec<Received>>>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP receiver on a free port: its base URL and what it received.
async fn receiver() -> (String, Spans) {
    let spans = Spans::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
                };
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                for span in request.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                    kept.push(Received {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent: hex(&span.parent_span_id),
                        name: span.name.clone(),
                        ints: span
                            .attributes
                            .iter()
                            .filter_map(|a| Some((a.key.clone(), a.value.as_ref()?.int_value?)))
                            .collect(),
                    });
                }
                // An empty ExportTraceServiceResponse: everything was accepted.
                (axum::http::StatusCode::OK, Vec::new())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, spans)
}

/// Stops the server however the test ends (a failed assertion included).
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(dir: &std::path::Path, args: &[&str]) -> String {
    let out = solo(dir).args(args).output().expect("solo admin");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}

#[tokio::test]
async fn one_notification_is_followed_from_the_request_to_the_push_in_the_callers_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    admin(dir.path(), &["admin", "user", "create", "ada", "--workspace", "acme", "--admin"]);
    let pat = admin(dir.path(), &["admin", "token", "create", "--user", "ada", "--name", "traces"]);
    let (collector, spans) = receiver().await;
    // Batches leave every 100 ms instead of every 5 s.
    let env = [("SOLO_OTLP_ENDPOINT", collector.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let (child, addr, _log) = serve_with(dir.path(), &env);
    let _server = Stopped(child);
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let me: Value =
        http.get(format!("{base}/api/me")).bearer_auth(&pat).send().await.expect("me").json().await.expect("json");
    let user = me["id"].as_str().expect("id").to_owned();

    // A client subscribed to the inbox the notification goes to.
    let token: Value = http
        .post(format!("{base}/api/realtime/token"))
        .bearer_auth(&pat)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/connection/websocket")).await.expect("websocket");
    let hello = format!(
        "{}\n{}",
        json!({ "id": 1, "connect": { "token": token["token"] } }),
        json!({ "id": 2, "subscribe": { "channel": format!("notifications:{user}") } })
    );
    socket.send(Message::Text(hello.into())).await.expect("send");
    let mut subscribed = false;
    while !subscribed {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("reply").expect("open");
        if let Ok(Message::Text(text)) = frame {
            subscribed = text.lines().any(|line| serde_json::from_str::<Value>(line).is_ok_and(|v| v["id"] == 2));
        }
    }

    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let created = http
        .post(format!("{base}/api/notifications"))
        .bearer_auth(&pat)
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .json(&json!({ "userId": user, "category": "system", "title": "traced" }))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let push = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("push").expect("open");
    assert!(matches!(push, Ok(Message::Text(ref text)) if text.contains("traced")), "{push:?}");

    let wanted = ["request", "store.transaction", "dispatcher.publish", "realtime.delivery"];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let in_trace = loop {
        let in_trace: Vec<Received> =
            spans.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|s| s.trace_id == trace).cloned().collect();
        if wanted.iter().all(|name| in_trace.iter().any(|s| s.name == *name)) || std::time::Instant::now() > deadline {
            break in_trace;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let named = |name: &str| {
        in_trace
            .iter()
            .find(|s| s.name == name && (name != "request" || s.parent == caller))
            .unwrap_or_else(|| panic!("a {name} span in the trace: {in_trace:#?}"))
            .clone()
    };
    let request = named("request");
    assert_eq!(request.parent, caller, "the request's span is under its caller's");
    let transaction = in_trace
        .iter()
        .find(|s| s.name == "store.transaction" && s.parent == request.span_id)
        .unwrap_or_else(|| panic!("the request's store transaction: {in_trace:#?}"));
    assert_eq!(transaction.trace_id, trace);
    // The publish and the delivery hang under the trace's root, as every node names it.
    let root = &trace[16..];
    let publish = named("dispatcher.publish");
    assert_eq!(publish.parent, root);
    let delivery = named("realtime.delivery");
    assert_eq!(delivery.parent, root);
    assert!(delivery.ints.contains(&("recipients".to_owned(), 1)), "{delivery:?}");
}

#[test]
fn an_endpoint_that_is_not_an_http_url_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = solo(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("SOLO_OTLP_ENDPOINT", "collector:4318")
        .output()
        .expect("solo serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("otlp_endpoint"), "{stderr}");
}
