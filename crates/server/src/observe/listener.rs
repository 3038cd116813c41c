//! The metrics listener: plain HTTP on its own address (`ServerConfig::metrics_listen`),
//! answering `GET /metrics` only. It is off unless configured, and the public listener
//! never serves `/metrics` (it answers 404 there like for any unknown path).
//!
//! A separate address rather than a token on the public listener: Prometheus scrapes
//! without credentials by default, the address can be bound to loopback or a management
//! network the firewall keeps apart, and a scrape never competes with sign-ins for the
//! public listener's connection slots.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::metrics::{Metrics, CONTENT_TYPE as METRICS_TYPE};

/// The path the metrics are served at.
pub const METRICS_PATH: &str = "/metrics";

/// Binds `addr` for the metrics.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves `GET /metrics` on `listener` until `shutdown` changes.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let router = Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(metrics);
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::warn!(error = %e, "the metrics listener stopped");
    }
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.encode() {
        Ok(text) => (
            [(CONTENT_TYPE, METRICS_TYPE), (CACHE_CONTROL, "no-store")],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded",
        )
            .into_response(),
    }
}
