//! The state every request handler shares.

use std::sync::Arc;

use crate::attempts::Limiter;
use crate::audit_throttle::AuditThrottle;
use crate::clock::Env;
use crate::password::PasswordGate;
use crate::storage::{DirectoryAdmin, Storage, WebStorage};
use crate::tenant::Tenant;

/// Shared handler state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// The tenant with its in-memory keys.
    pub tenant: Arc<Tenant>,
    /// Clock and RNG.
    pub env: Env,
    /// Failed sign-in throttling.
    pub limiter: Arc<Limiter>,
    /// Aggregation of repeated failure lines.
    pub audit_throttle: Arc<AuditThrottle>,
    /// The one gate every password verification runs through.
    pub passwords: PasswordGate,
    /// The directory administration of the web pages (the same database as `storage`).
    pub directory: Arc<dyn DirectoryAdmin>,
    /// Storage of the web side (OpenID Connect, sessions, security keys).
    pub web: Arc<dyn WebStorage>,
    /// The issuer URL (the service's base URL, no trailing slash).
    pub issuer: Arc<str>,
    /// The issuing CA and the registration authority.
    pub pki: Arc<crate::certs::Pki>,
}

impl AppState {
    /// The current time, Unix seconds.
    pub fn now(&self) -> i64 {
        self.env.clock.unix()
    }
}
