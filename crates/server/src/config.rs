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
    /// the listen address's URL.
    pub public_url: Option<String>,
    /// How many password verifications (Argon2id, 19 MiB each) may run at once. Default
    /// (`None`): [`crate::password::default_concurrency`] of the host's cores.
    pub password_concurrency: Option<usize>,
    /// How long a sign-in waits for a verification slot before LK-AUTH-008.
    pub password_wait: Duration,
    /// Audit lines older than this many days are deleted by the housekeeping loop.
    /// Default (`None`): kept for ever.
    pub audit_retention_days: Option<u32>,
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
            password_concurrency: None,
            password_wait: crate::password::DEFAULT_WAIT,
            audit_retention_days: None,
        }
    }
}
