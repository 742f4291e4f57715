//! `solo serve`.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Args;
use solo_server::settings::Settings;
use solo_server::Server;
use tracing_subscriber::EnvFilter;

use crate::StoreArgs;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on (env: SOLO_ADDR; default 127.0.0.1:7070).
    #[arg(long)]
    addr: Option<String>,
    /// Seed a demo workspace with two users (passwords printed at start), missions
    /// in every stage and three simulated workstations (env: SOLO_DEMO).
    #[arg(long)]
    demo: bool,
}

/// What keeps logging and trace export going until the server stops.
struct Telemetry {
    _log_writer: tracing_appender::non_blocking::WorkerGuard,
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    /// Sends the spans still batched before the process exits.
    fn drop(&mut self) {
        if let Some(traces) = self.traces.take() {
            if let Err(e) = traces.shutdown() {
                eprintln!("solo: the last spans were not exported: {e}");
            }
        }
    }
}

/// Sets up logging to stderr and, with `SOLO_OTLP_ENDPOINT`, span export.
///
/// Lines are handed to a thread of their own that writes them: a request's
/// log line used to be written by the runtime thread serving it (2 % of the
/// write path's CPU), and a slow reader of stderr (a full pipe) would have
/// stalled the server. Should that thread fall more than its buffer behind,
/// lines are dropped rather than block a request.
///
/// Spans go to the collector in batches from the SDK's own thread (OTLP over
/// HTTP, protobuf): requests, store transactions, dispatcher publishes and
/// realtime deliveries, each in its event's trace (see
/// `solo_realtime::traces`). They are at info level, so `SOLO_LOG` must keep
/// Solo's crates at `info` (the default does). The SDK's `OTEL_BSP_*`
/// variables tune the batching. Keep the returned value until exit.
fn init_telemetry(settings: &Settings) -> anyhow::Result<Telemetry> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    // One filter for every layer (not a filter per layer: with those, a
    // `log` record's `enabled` check can swallow the next line logged).
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let json = settings.log_format == "json";
    let json_lines = json.then(|| {
        tracing_subscriber::fmt::layer().with_writer(writer.clone()).with_ansi(colour).json().flatten_event(true)
    });
    let text_lines = (!json).then(|| tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(colour));
    let registry = tracing_subscriber::registry().with(filter).with(json_lines).with(text_lines);
    let Some(endpoint) = &settings.otlp_endpoint else {
        registry.init();
        return Ok(Telemetry { _log_writer: guard, traces: None });
    };
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("cannot set up the OTLP exporter")?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("solo").build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "solo");
    registry.with(tracing_opentelemetry::layer().with_tracer(tracer)).init();
    solo_domain::spans::set_exported();
    tracing::info!(endpoint = %endpoint, "exporting spans over OTLP");
    Ok(Telemetry { _log_writer: guard, traces: Some(provider) })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

/// How many connections the kernel keeps waiting for `accept` (capped by
/// `net.core.somaxconn`). Binding through the standard library leaves 128: with
/// a few hundred clients connecting at once (a reconnect storm, a benchmark's
/// 256 in flight) the queue overflowed while the runtime was busy, the kernel
/// dropped their handshakes, and each of those clients waited a full second
/// for its SYN to be sent again.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr`; with `reuse_port`, other processes may bind it too and the
/// kernel balances new connections between them.
async fn listen(addr: &str, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    let mut last_error = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket =
            if resolved.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        // As the standard library's bind does: a restarted server rebinds at once.
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        if reuse_port {
            socket.set_reuseport(true)?;
        }
        #[cfg(not(unix))]
        let _ = reuse_port;
        match socket.bind(resolved) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("the address resolved to nothing")))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = args.store.settings()?;
    if let Some(addr) = args.addr {
        settings.addr = addr;
    }
    settings.demo |= args.demo;
    let _telemetry = init_telemetry(&settings)?;
    tracing::debug!(?settings, "configuration");
    let listener = listen(&settings.addr, settings.reuse_port)
        .await
        .with_context(|| format!("cannot listen on {}", settings.addr))?;
    let demo = settings.demo;
    let server = Server::build(settings).await.context("cannot start the server")?;
    if demo {
        let logins = solo_server::demo::seed(server.state()).await.context("cannot seed the demo")?;
        let addr = listener.local_addr().context("no local address")?;
        println!("Solo demo at http://{addr} — sign in as:");
        for login in logins {
            println!("  {} / {}", login.username, login.password);
        }
    }
    server.run(listener, shutdown_signal()).await.context("the server failed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel queues more handshakes than the standard library's 128 while
    /// nothing accepts: a few hundred clients arriving at once all connect.
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_queue_rather_than_being_dropped() {
        let listener = listen("127.0.0.1:0", false).await.expect("listen");
        let addr = listener.local_addr().expect("addr");
        let burst = 300;
        let mut clients = Vec::with_capacity(burst);
        for n in 0..burst {
            // A dropped handshake is retried after 1 s, 3 s, 7 s…: this bound
            // only keeps a regression from hanging the suite.
            let connect =
                tokio::time::timeout(std::time::Duration::from_secs(20), tokio::net::TcpStream::connect(addr));
            clients.push(connect.await.unwrap_or_else(|_| panic!("connection {n} was not queued")).expect("connect"));
        }
        for _ in 0..burst {
            listener.accept().await.expect("accept");
        }
    }
}
