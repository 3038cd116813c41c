//! Starting the service: storage, tenant, listener, TLS, and the connection loop.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::attempts::Limiter;
use crate::clock::Env;
use crate::config::ServerConfig;
use crate::conn::{self, Serving};
use crate::observe::metrics::Metrics;
use crate::observe::Observer;
use crate::password::{self, PasswordGate};
use crate::ratelimit::RateLimiter;
use crate::routes::{self, HttpPolicy};
use crate::state::AppState;
use crate::storage::OpenStorage;
use crate::storage::Storage;
use crate::tenant::{self, SetupError, CA_FILE};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `--insecure-http` on a non-loopback address.
    #[error("--insecure-http is only allowed on a loopback address, not {0}")]
    InsecureNotLoopback(IpAddr),
    /// Setting up the data directory, storage or tenant failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The failure.
        source: std::io::Error,
    },
    /// TLS could not be configured.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A running service. Dropping it does not stop it; call [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address (the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    /// Base URL, e.g. `https://localhost:8443` (also the token issuer).
    pub base_url: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant name.
    pub tenant_name: String,
    /// `DATA_DIR/ca.pem`.
    pub ca_file: PathBuf,
    /// CA certificate fingerprint (SHA-256, colon-separated hex).
    pub ca_fingerprint: String,
    /// Whether this start created the tenant.
    pub created_tenant: bool,
    /// The password verification gate (its gauges are read by tests).
    pub passwords: PasswordGate,
    /// The metrics listener's bound address, when one was configured.
    pub metrics_addr: Option<SocketAddr>,
    opened: OpenStorage,
    shutdown: watch::Sender<bool>,
    connections: JoinHandle<()>,
    housekeeping_stop: watch::Sender<bool>,
    housekeeping: JoinHandle<()>,
    metrics_task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The storage the service uses (for tests and diagnostics).
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.opened.storage()
    }

    /// Stops gracefully: closes the listener, lets the requests in flight finish (up to
    /// the connection limits' `shutdown_timeout`), commits every queued sign-in write and
    /// closes the database.
    pub async fn shutdown(self) {
        tracing::info!(target: "latchkey::server", listen = %self.local_addr, "service stopping");
        let _ = self.shutdown.send(true);
        let _ = self.connections.await;
        // After the last request: its throttled audit lines are flushed too.
        let _ = self.housekeeping_stop.send(true);
        let _ = self.housekeeping.await;
        if let Some(task) = self.metrics_task {
            let _ = task.await;
        }
        self.opened.close().await;
        tracing::info!(target: "latchkey::server", listen = %self.local_addr, "service stopped");
    }
}

/// Starts the service described by `config`, with the clock and RNG of `env`: the JSON
/// API only (see [`start_with`] for the web pages).
pub async fn start(config: ServerConfig, env: Env) -> Result<RunningServer, StartError> {
    start_with(config, env, Router::new()).await
}

/// Starts the service described by `config`, with the clock and RNG of `env`, and with
/// `extra` routes merged into the API's (`latchkeyd serve` passes the web pages, OAuth and
/// OpenID Connect of `latchkey-web`). The extra routes sit behind the same HTTP layer:
/// limits, security headers, request logging and metrics.
///
/// A start that fails leaves nothing behind: the listen address is bound before anything is
/// written, and a data directory that did not exist (or was empty) before is removed again
/// (emptied) when a later step fails.
pub async fn start_with(
    config: ServerConfig,
    env: Env,
    extra: Router<AppState>,
) -> Result<RunningServer, StartError> {
    if config.insecure_http && !config.listen.ip().is_loopback() {
        return Err(StartError::InsecureNotLoopback(config.listen.ip()));
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let data_dir = config.data_dir.clone();
    let existed = data_dir.exists();
    let was_empty =
        !existed || std::fs::read_dir(&data_dir).is_ok_and(|mut entries| entries.next().is_none());
    let started = start_bound(listener, config, env, extra).await;
    if started.is_err() && was_empty {
        remove_what_start_wrote(&data_dir, existed);
    }
    started
}

/// Undoes a failed first start: the data directory it created, or what it wrote into the
/// empty one it found.
fn remove_what_start_wrote(data_dir: &std::path::Path, existed: bool) {
    // A file that is gone by the time it is removed (SQLite deletes its WAL and
    // shared-memory files when its last connection closes) is not a failure.
    let gone_is_fine = |removed: std::io::Result<()>| match removed {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    let removed = if existed {
        std::fs::read_dir(data_dir).and_then(|entries| {
            for entry in entries {
                let path = entry?.path();
                if path.is_dir() {
                    gone_is_fine(std::fs::remove_dir_all(&path))?;
                } else {
                    gone_is_fine(std::fs::remove_file(&path))?;
                }
            }
            Ok(())
        })
    } else {
        std::fs::remove_dir_all(data_dir)
    };
    if let Err(e) = removed {
        tracing::warn!(error = %e, dir = %data_dir.display(), "could not remove what a failed start wrote");
    }
}

async fn start_bound(
    listener: TcpListener,
    config: ServerConfig,
    env: Env,
    extra: Router<AppState>,
) -> Result<RunningServer, StartError> {
    crate::data_dir::prepare_for(&config.data_dir, &config.database).map_err(SetupError::from)?;
    let opened = OpenStorage::open(&config.database, &config.data_dir)
        .await
        .map_err(SetupError::from)?;
    let started = start_opened(listener, config, env, extra, opened.clone()).await;
    if started.is_err() {
        // Its connections are closed before the caller removes what the start wrote (a
        // pool dropped unclosed closes them later, and SQLite may write its WAL and
        // shared-memory files again meanwhile).
        opened.close().await;
    }
    started
}

/// The rest of a start, on the opened storage.
async fn start_opened(
    listener: TcpListener,
    config: ServerConfig,
    env: Env,
    extra: Router<AppState>,
    opened: OpenStorage,
) -> Result<RunningServer, StartError> {
    let storage = opened.storage();
    let (tenant, created_tenant) = tenant::open_or_create(
        &*storage,
        &config.data_dir,
        config.key_file.as_deref(),
        &config.tenant_name,
        &env,
    )
    .await?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            crate::observe::listener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?,
        ),
        None => None,
    };
    let host = default_host(local_addr.ip());
    let pki =
        crate::certs::open_or_create(&*storage, &tenant, &env, config.issuing_ca_algorithm).await?;
    crate::pin_recovery::ensure(&*storage, &tenant, &env).await?;
    let tls = if config.insecure_http {
        None
    } else {
        let cert_host = local_addr.ip().to_string();
        Some(tenant_tls(&tenant, &pki, &cert_host, &env)?)
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("{scheme}://{host}:{}", local_addr.port()),
    };
    storage
        .set_pki_base_url(&tenant.id, &base_url)
        .await
        .map_err(SetupError::from)?;
    let web = opened.web();
    let slots = config.password_concurrency.unwrap_or_else(|| {
        password::default_concurrency(std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    let passwords = PasswordGate::new(slots, config.password_wait);
    let summary = (
        tenant.id.clone(),
        tenant.name.clone(),
        tenant.ca_fingerprint.clone(),
    );
    // Replicas on one database count sign-in attempts there; one process, in memory.
    let limiter = Arc::new(match opened.attempts() {
        Some(shared) => Limiter::Shared {
            storage: shared,
            tenant: tenant.id.clone(),
        },
        None => Limiter::Local(RateLimiter::new()),
    });
    let state = AppState {
        directory: opened.directory(),
        storage: storage.clone(),
        tenant: Arc::new(tenant),
        env,
        web: web.clone(),
        limiter,
        passwords: passwords.clone(),
        audit_throttle: Arc::new(crate::audit_throttle::AuditThrottle::new()),
        issuer: Arc::from(base_url.as_str()),
        pki: Arc::new(pki),
    };
    let limits = conn::effective_limits(&config.connections);
    let policy = HttpPolicy {
        max_uri_bytes: limits.max_uri_bytes,
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
        https: tls.is_some(),
    };
    let answers = Arc::new(conn::AutoAnswers::render(&limits, tls.is_some()).await);
    let (shutdown, watcher) = watch::channel(false);
    let (housekeeping_stop, housekeeping_watcher) = watch::channel(false);
    let metrics = Arc::new(Metrics::new(opened.clone()));
    let observer = Arc::new(Observer::new(
        &state.tenant.id,
        state.env.clone(),
        metrics.clone(),
    ));
    let serving = Serving {
        router: routes::router(state.clone(), policy, extra),
        tls,
        limits,
        answers,
        shutdown: watcher.clone(),
        observer,
    };
    let connections = tokio::spawn(conn::accept_loop(listener, serving));
    let housekeeping = tokio::spawn(prune_loop(
        state,
        config.audit_retention_days,
        housekeeping_watcher,
    ));
    let (metrics_task, metrics_addr) = match metrics_listener {
        Some((listener, addr)) => (
            Some(tokio::spawn(crate::observe::listener::serve(
                listener, metrics, watcher,
            ))),
            Some(addr),
        ),
        None => (None, None),
    };
    tracing::info!(
        target: "latchkey::server",
        listen = %local_addr,
        url = %base_url,
        tenant = %summary.0,
        tenant_name = %summary.1,
        metrics = %metrics_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        version = env!("CARGO_PKG_VERSION"),
        "service started"
    );
    Ok(RunningServer {
        local_addr,
        base_url,
        tenant_id: summary.0,
        tenant_name: summary.1,
        ca_file: config.data_dir.join(CA_FILE),
        ca_fingerprint: summary.2,
        created_tenant,
        passwords,
        metrics_addr,
        opened,
        shutdown,
        connections,
        housekeeping_stop,
        housekeeping,
        metrics_task,
    })
}

/// The host of the default public URL: `localhost` for a loopback address (an IP address
/// is not a valid WebAuthn RP ID, so security keys would not work on the service's pages;
/// the TLS certificate names `localhost` too), the address itself otherwise.
pub fn default_host(ip: IpAddr) -> String {
    match ip {
        ip if ip.is_loopback() => "localhost".to_owned(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn tenant_tls(
    tenant: &tenant::Tenant,
    pki: &crate::certs::Pki,
    host: &str,
    env: &Env,
) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    crate::tls::acceptor(&tenant.ca, &pki.issuing, host, env.clock.now()).map_err(StartError::Tls)
}

/// The `tracing` target of the housekeeping loop's lines.
pub const HOUSEKEEPING: &str = "latchkey::housekeeping";

/// How long expired tokens and sessions are kept: a device or browser that presents one
/// within this time is told it expired rather than that it is unknown.
pub const EXPIRED_KEPT_SECS: i64 = 7 * 24 * 3600;

/// One round of housekeeping: used nonces past their expiry; primary refresh tokens, web
/// sessions, authorization codes, refresh tokens and WebAuthn challenges expired for longer
/// than [`EXPIRED_KEPT_SECS`]; the aggregated audit lines of closed windows; audit lines
/// older than the retention, when one is configured. A failure is logged and retried
/// next round.
async fn prune(state: &AppState, audit_retention_days: Option<u32>) {
    let tenant = &state.tenant.id;
    let now = state.now();
    let before = now - EXPIRED_KEPT_SECS;
    let nonces = match state.storage.prune_nonces(tenant, now).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(target: HOUSEKEEPING, error = %e, "pruning used nonces failed");
            0
        }
    };
    let prts = match state.storage.prune_prts(tenant, before).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(target: HOUSEKEEPING, error = %e, "pruning expired primary refresh tokens failed");
            0
        }
    };
    let web = match state.web.prune_expired(tenant, before).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(target: HOUSEKEEPING, error = %e, "pruning expired web sessions and grants failed");
            0
        }
    };
    let attempts = match &*state.limiter {
        Limiter::Shared { storage, .. } => {
            match storage
                .prune_attempts(tenant, now, &crate::attempts::LIMITS)
                .await
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(target: HOUSEKEEPING, error = %e, "pruning sign-in attempts failed");
                    0
                }
            }
        }
        Limiter::Local(_) => 0,
    };
    if nonces + prts + web + attempts > 0 {
        tracing::info!(
            target: HOUSEKEEPING,
            nonces,
            prts,
            web,
            attempts,
            "pruned expired nonces, primary refresh tokens, web sessions/grants and sign-in attempts"
        );
    } else {
        tracing::debug!(target: HOUSEKEEPING, "housekeeping round: nothing expired");
    }
    flush_audit(state, false).await;
    // The CRL is signed again when a revocation happened (also from an admin command in
    // another process) or half its validity has passed, even if nobody fetches it.
    if let Err(e) = crate::certs::crl::current(&*state.storage, tenant, &state.pki, now).await {
        tracing::warn!(target: HOUSEKEEPING, error = %e, "refreshing the CRL failed");
    }
    if let Some(days) = audit_retention_days {
        let cutoff = now - i64::from(days) * 86_400;
        match state.storage.prune_audit(tenant, cutoff, None).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                target: HOUSEKEEPING,
                lines = n,
                days,
                "pruned audit lines past retention"
            ),
            Err(e) => {
                tracing::warn!(target: HOUSEKEEPING, error = %e, "pruning old audit lines failed")
            }
        }
    }
}

/// Writes the aggregated lines of the failure windows that are over (all with `all`).
async fn flush_audit(state: &AppState, all: bool) {
    for line in state.audit_throttle.flush(state.now(), all) {
        if let Err(e) = state.storage.append_audit(&state.tenant.id, &line).await {
            tracing::error!(error = %e, "could not write an aggregated audit line");
        }
    }
}

async fn prune_loop(
    state: AppState,
    audit_retention_days: Option<u32>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                flush_audit(&state, true).await;
                return;
            }
            _ = interval.tick() => {
                prune(&state, audit_retention_days).await;
            }
        }
    }
}
