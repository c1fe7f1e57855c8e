//! The HTTP server of `/metrics`, `/healthz` and `/readyz`, with the limits an exposed port
//! needs: a header-read timeout (a client that trickles its request is cut off), a lifetime
//! per connection (an idle keep-alive connection is closed) and a connection limit (one more
//! is refused at once).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{Health, Metrics};

/// The limits of the health server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long one connection may stay open, idle keep-alive included.
    pub connection_lifetime: Duration,
    /// Connections served at once; more are closed on arrival.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 5 s for the headers, 60 s per connection, 64 connections: probes and a scraper need a
    /// handful.
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(5),
            connection_lifetime: Duration::from_secs(60),
            max_connections: 64,
        }
    }
}

/// The endpoints, as a router that tests can drive without a network:
/// - `/metrics`: Prometheus text format;
/// - `/healthz`: 200 while the process runs;
/// - `/readyz`: 200 when every readiness check passes, else 503; the JSON body names each
///   check with its status (from a fixed vocabulary), the failing ones, and the deployment's
///   limitations. Never an internal error text.
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = Arc::clone(&metrics);
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics.render(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let health = Arc::clone(&health);
                async move {
                    let readiness = health.readiness();
                    let status = if readiness.ready {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, axum::Json(readiness)).into_response()
                }
            }),
        )
}

/// Serves `app` on `listener` within `limits` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // a connection that failed before it was accepted concerns nobody else
                Err(error) => {
                    tracing::debug!(%error, "accepting a connection");
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            // over the limit: closed at once, the client retries
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = tokio::time::timeout(limits.connection_lifetime, connection) => {}
                () = shutdown.cancelled() => {}
            }
            drop(permit);
        });
    }
}
