//! The accept loop: TCP connections in, HTTP/1.1 (with WebSocket upgrades)
//! served by hyper.
//!
//! `axum::serve` would do, except that it sets no timer on hyper, so hyper's
//! header read timeout never fires: a client that opens a TCP connection and
//! sends nothing, or half a request line, keeps a socket and a task forever
//! (slowloris). Here every connection that is waiting for request headers,
//! including an idle keep-alive one, is closed after `header_timeout`.
//! Upgraded WebSocket connections leave hyper and are governed by the realtime
//! protocol's own timers (connect timeout, pings). A new connection whose first
//! request is an upgrade to the realtime WebSocket does not enter hyper at all
//! (see `handshake`).
//!
//! Only HTTP/1.1 is served. Browsers speak HTTP/2 only over TLS, which ends at
//! the proxy in front of Solo, and proxies talk HTTP/1.1 to their upstreams;
//! cleartext HTTP/2 would also need a version sniff that waits for the first
//! bytes with no timeout at all.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::handshake::{self, Direct};
use crate::state::AppState;

/// How long a graceful stop waits for in-flight HTTP requests before it gives up on them.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish (up to [`DRAIN_LIMIT`]) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: AppState,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors (EMFILE) or a connection reset before
                    // it was accepted: not fatal. Back off briefly so a full table
                    // does not spin the loop.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small realtime frames should leave at once, not wait for Nagle.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let (router, http, state, stopping) = (router.clone(), http.clone(), state.clone(), stopping.clone());
        connections.spawn(async move {
            let stream = match handshake::serve_directly(&state, stream, header_timeout).await {
                Direct::Served | Direct::Gone => return,
                Direct::Declined(stream) => stream,
            };
            let service = router.map_request(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stopping.cancelled() => {
                    // Finish the request in flight, if any, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                // Header timeouts, resets and malformed requests end here; they concern one client only.
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(DRAIN_LIMIT, connections.wait()).await.is_err() {
        tracing::warn!(limit_secs = DRAIN_LIMIT.as_secs(), "in-flight HTTP requests still running at the drain limit");
    }
    Ok(())
}
