//! How the service is started.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::tenant::DEFAULT_TENANT_NAME;

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./latchkey-data";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// Request bodies larger than this are refused with LK-REQ-002.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The service configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Data directory (database, `ca.pem`).
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Serve plain HTTP (refused unless `listen` is a loopback address).
    pub insecure_http: bool,
    /// Tenant display name, used when the tenant is created.
    pub tenant_name: String,
    /// The URL people and applications reach the service at (the token issuer, the
    /// WebAuthn origin; its host is the RP ID), e.g. `http://localhost:8080`. Default:
    /// the listen address's URL, with `localhost` for a loopback address.
    pub public_url: Option<String>,
    /// The key file holding the key-encryption key that seals the database's secrets.
    /// Default: `DATA_DIR/secrets.key`.
    pub key_file: Option<PathBuf>,
    /// Connection limits and network timeouts (see docs/admin-service.md).
    pub connections: ConnectionLimits,
    /// How many password verifications (Argon2id, 19 MiB each) may run at once. Default
    /// (`None`): [`crate::password::default_concurrency`] of the host's cores.
    pub password_concurrency: Option<usize>,
    /// How long a sign-in waits for a verification slot before LK-AUTH-008.
    pub password_wait: Duration,
    /// Audit lines older than this many days are deleted by the housekeeping loop.
    /// Default (`None`): kept for ever.
    pub audit_retention_days: Option<u32>,
    /// The issuing CA's algorithm, used only when the issuing CA is created (the first
    /// start of a data directory without one). Default: ECDSA P-256.
    pub issuing_ca_algorithm: latchkey_pki::CaAlgorithm,
    /// Where to serve the Prometheus metrics (`GET /metrics`, plain HTTP). Default
    /// (`None`): no metrics listener. Never served on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the directory is stored. Default: SQLite in `data_dir`.
    pub database: crate::storage::Database,
}

/// How many connections the service holds and how long it waits for a slow peer.
///
/// Every timeout runs on tokio's clock (network time, not the service's
/// [`crate::clock::Env`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections served at once. The effective cap is also kept below the
    /// process's file-descriptor limit (raised to its hard limit at start) minus
    /// [`FD_RESERVE`]. When the cap is reached, the oldest connection that is not in the
    /// middle of a request (TLS handshake, waiting for or reading request headers, idle
    /// keep-alive) is closed to make room.
    pub max_connections: usize,
    /// Extra connections beyond the cap, used only when every connection is busy with a
    /// request: each is answered 503 LK-HTTP-004 and closed. Past this, new connections are
    /// closed at once.
    pub reject_slots: usize,
    /// Time for a client to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Time for a client to send a request's whole header section once it starts one
    /// (hyper's HTTP/1 `header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Time, from the end of the headers, for the whole request body to arrive; past it
    /// the request is answered 408 LK-HTTP-003 and the connection closed.
    pub body_timeout: Duration,
    /// A connection with no request in progress for this long is closed (idle keep-alive,
    /// a client that connected and sends nothing, a slow header writer).
    pub idle_timeout: Duration,
    /// Largest header section: the sum of the lengths of all header names and values
    /// (431 LK-HTTP-001 above it).
    pub max_header_bytes: usize,
    /// Most header fields in one request (431 LK-HTTP-001 above it).
    pub max_headers: usize,
    /// Longest request target, path and query (414 LK-HTTP-002 above it).
    pub max_uri_bytes: usize,
    /// At shutdown, how long the requests in flight get to finish after the listener is
    /// closed; connections still open after it are closed.
    pub shutdown_timeout: Duration,
}

/// File descriptors kept free of connections (database, data files, logs, listener).
pub const FD_RESERVE: u64 = 64;

impl Default for ConnectionLimits {
    /// 4,096 connections (+64 reject slots), TLS handshake 10 s, headers 10 s, body 30 s,
    /// idle 60 s, headers at most 16 KiB in at most 64 fields, URI at most 8 KiB, 30 s for
    /// the requests in flight at shutdown.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            reject_slots: 64,
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_uri_bytes: 8 * 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerConfig {
    /// A configuration with the defaults for `data_dir` and `listen`.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            listen,
            insecure_http: false,
            tenant_name: DEFAULT_TENANT_NAME.to_owned(),
            public_url: None,
            key_file: None,
            connections: ConnectionLimits::default(),
            password_concurrency: None,
            password_wait: crate::password::DEFAULT_WAIT,
            audit_retention_days: None,
            issuing_ca_algorithm: crate::certs::DEFAULT_ALGORITHM,
            metrics_listen: None,
            database: crate::storage::Database::Sqlite,
        }
    }
}
