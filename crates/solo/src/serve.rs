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

/// Binds `addr`; with `reuse_port`, other processes may bind it too and the
/// kernel balances new connections between them.
async fn listen(addr: &str, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    if !reuse_port {
        return tokio::net::TcpListener::bind(addr).await;
    }
    let mut last_error = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket =
            if resolved.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(true)?;
        match socket.bind(resolved) {
            Ok(()) => return socket.listen(1024),
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
