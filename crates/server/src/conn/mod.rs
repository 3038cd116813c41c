//! Serving connections under limits: a cap below the file-descriptor limit with eviction
//! of the oldest idle connection, TLS handshake, header, body and idle timeouts, and
//! hyper's parser limits set just above the ones the router answers with JSON.

mod auto_answer;
mod body;
mod fdlimit;
mod linger;
mod tracker;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONNECTION;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::Service;
use tracing::Instrument;

use crate::config::ConnectionLimits;
use crate::error::ApiError;
use crate::observe::Observer;
use crate::routes::extract::ClientAddr;
use crate::routes::http_guard::{close_after, error_response};
use crate::routes::security_headers;

pub(crate) use auto_answer::AutoAnswers;
pub(crate) use fdlimit::effective_limits;
use tracker::{Admission, ConnState, Tracker};

/// hyper's HTTP/1 read buffer: room for the longest URI and the largest header section
/// this service accepts, plus framing, so that requests over the service's limits still
/// reach the router and get a JSON or HTML answer (beyond it, `auto_answer` replaces
/// hyper's own empty 431).
pub fn hyper_buf_size(limits: &ConnectionLimits) -> usize {
    let wanted = limits
        .max_uri_bytes
        .saturating_add(limits.max_header_bytes)
        .saturating_mul(2)
        .saturating_add(8 * 1024);
    wanted.max(16 * 1024)
}

/// hyper's header-count limit: above the service's, for the same reason.
pub fn hyper_max_headers(limits: &ConnectionLimits) -> usize {
    limits.max_headers.saturating_mul(2).max(100)
}

/// How the accept loop serves.
#[derive(Clone)]
pub(crate) struct Serving {
    /// The router.
    pub router: axum::Router,
    /// TLS, unless plain HTTP was asked for.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The limits (already fitted to the descriptor limit).
    pub limits: ConnectionLimits,
    /// The answers that replace hyper's own empty 400, 414 and 431.
    pub answers: Arc<AutoAnswers>,
    /// Becomes `true` at shutdown: connections finish their request in flight and close.
    pub shutdown: watch::Receiver<bool>,
    /// The request lines and metrics.
    pub observer: Arc<Observer>,
}

/// Accepts connections until shutdown, then closes the listener and lets the requests in
/// flight finish (up to [`ConnectionLimits::shutdown_timeout`]) before it returns.
pub(crate) async fn accept_loop(listener: TcpListener, serving: Serving) {
    let connections = tokio_util::task::TaskTracker::new();
    accept_until_shutdown(listener, &serving, &connections).await;
    connections.close();
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "shutdown: waiting for the requests in flight");
    }
    let timeout = serving.limits.shutdown_timeout;
    if tokio::time::timeout(timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            timeout_secs = timeout.as_secs_f64(),
            "shutdown: connections still open after the shutdown timeout are closed"
        );
    }
}

async fn accept_until_shutdown(
    listener: TcpListener,
    serving: &Serving,
    connections: &tokio_util::task::TaskTracker,
) {
    let mut shutdown = serving.shutdown.clone();
    let limits = &serving.limits;
    let tracker = Tracker::new(limits.max_connections, limits.reject_slots);
    let sweep_every = (limits.idle_timeout / 4).max(Duration::from_millis(10));
    let mut sweep = tokio::time::interval(sweep_every);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            _ = sweep.tick() => {
                let closed = tracker.sweep(limits.idle_timeout);
                if closed > 0 {
                    tracing::debug!(closed, "closed idle connections");
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or similar: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        match tracker.admit() {
            Admission::Serve(ticket) => {
                let serving = serving.clone();
                connections.spawn(async move {
                    let state = ticket.state.clone();
                    tokio::select! {
                        _ = state.killed() => {}
                        _ = serve(stream, peer, &serving, Some(state.clone()), false) => {}
                    }
                    drop(ticket);
                });
            }
            Admission::Reject(slot) => {
                let serving = serving.clone();
                connections.spawn(async move {
                    // Bounded by the handshake, header and idle timeouts.
                    let budget =
                        serving.limits.tls_handshake_timeout + serving.limits.header_read_timeout;
                    let _ = tokio::time::timeout(budget, serve(stream, peer, &serving, None, true))
                        .await;
                    drop(slot);
                });
            }
            Admission::Refuse => {
                tracing::debug!(%peer, "connection refused: at the cap and every slot busy");
                drop(stream);
            }
        }
    }
}

/// Returns once shutdown has begun (at once if it already has); no borrow is held after.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// Serves one connection: TLS handshake under its timeout, then HTTP/1 or HTTP/2.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    serving: &Serving,
    state: Option<Arc<ConnState>>,
    reject: bool,
) {
    match &serving.tls {
        Some(acceptor) => {
            let mut shutdown = serving.shutdown.clone();
            let handshake = tokio::select! {
                // A connection still in its handshake at shutdown has no request in flight.
                _ = stopped(&mut shutdown) => return,
                done = tokio::time::timeout(
                    serving.limits.tls_handshake_timeout,
                    acceptor.accept(stream),
                ) => done,
            };
            match handshake {
                Ok(Ok(stream)) => serve_http(stream, peer, serving, state, reject).await,
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
        None => serve_http(stream, peer, serving, state, reject).await,
    }
}

async fn serve_http<IO>(
    io: IO,
    peer: SocketAddr,
    serving: &Serving,
    state: Option<Arc<ConnState>>,
    reject: bool,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = serving.limits.clone();
    let router = serving.router.clone();
    let https = serving.tls.is_some();
    let observer = serving.observer.clone();
    // Set when a response closes the connection (an early answer): linger before closing.
    let closing = Arc::new(AtomicBool::new(false));
    let closing_in = closing.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let router = router.clone();
        let state = state.clone();
        let limits = limits.clone();
        let closing = closing_in.clone();
        let observer = observer.clone();
        async move {
            let seen = observer.begin(req.method(), req.headers());
            let span = tracing::info_span!("request", id = %seen.id());
            let mut response = respond(req, router, state, &limits, reject, https, peer)
                .instrument(span)
                .await;
            seen.finish(&observer, &mut response);
            if response.headers().contains_key(CONNECTION) {
                closing.store(true, Ordering::SeqCst);
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let slot = Arc::new(Mutex::new(None));
    let io =
        auto_answer::Answering::new(io, serving.answers.clone()).observed(serving.observer.clone());
    let io = linger::Returning::new(io, slot.clone());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(serving.limits.header_read_timeout)
        .max_buf_size(hyper_buf_size(&serving.limits))
        .max_headers(hyper_max_headers(&serving.limits));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(hyper_buf_size(&serving.limits)).unwrap_or(u32::MAX))
        .max_concurrent_streams(64)
        .keep_alive_interval(Some(serving.limits.idle_timeout))
        .keep_alive_timeout(serving.limits.header_read_timeout);
    let mut shutdown = serving.shutdown.clone();
    let served = {
        // Dropped at the end of this block, which hands the stream back to `slot`.
        let connection = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        tokio::select! {
            served = connection.as_mut() => served,
            _ = stopped(&mut shutdown) => {
                // HTTP/1: the request in flight is answered, then the connection closes (an
                // idle one closes at once); HTTP/2: GOAWAY, the open streams finish.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    };
    let failed = served.is_err();
    if let Err(e) = served {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
    let stream = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(stream) = stream {
        if (failed || closing.load(Ordering::SeqCst)) && !*shutdown.borrow() {
            tokio::select! {
                _ = linger::linger(stream, serving.limits.idle_timeout) => {}
                _ = stopped(&mut shutdown) => {}
            }
        }
    }
}

/// Answers one request: 503 in reject mode, else the router with the body under its
/// deadline (408 when it passed).
async fn respond(
    req: Request<Incoming>,
    router: axum::Router,
    state: Option<Arc<ConnState>>,
    limits: &ConnectionLimits,
    reject: bool,
    https: bool,
    peer: SocketAddr,
) -> Response {
    if reject {
        return finish(
            req.uri().path(),
            req.version(),
            ApiError::TooManyConnections,
            https,
        );
    }
    let _busy = state.as_ref().map(|s| s.request());
    let path = req.uri().path().to_owned();
    let version = req.version();
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = tokio::time::Instant::now() + limits.body_timeout;
    let mut req = req.map(|incoming| {
        if hyper::body::Body::is_end_stream(&incoming) {
            Body::empty()
        } else {
            Body::new(body::DeadlineBody::new(incoming, deadline, expired.clone()))
        }
    });
    req.extensions_mut().insert(ClientAddr(peer));
    let mut router = router;
    let response = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if expired.load(Ordering::SeqCst) {
        let secs = limits.body_timeout.as_secs();
        let mut late = finish(&path, version, ApiError::RequestTimeout(secs), https);
        crate::observe::keep_route(&response, &mut late);
        return late;
    }
    response
}

/// An error answer produced outside the router, with the security headers, closing the
/// connection.
fn finish(path: &str, version: hyper::Version, err: ApiError, https: bool) -> Response {
    let mut response = error_response(path, err);
    close_after(&mut response, version);
    security_headers::apply(&mut response, path, https);
    response
}
