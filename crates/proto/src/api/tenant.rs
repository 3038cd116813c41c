//! Public tenant information.

use serde::{Deserialize, Serialize};

/// `GET /v1/tenant`: who this service is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantInfo {
    /// Tenant id (a GUID).
    pub tenant_id: String,
    /// Display name.
    pub name: String,
    /// The token issuer URL.
    pub issuer: String,
    /// SHA-256 fingerprint of the tenant CA certificate (hex, colon-separated).
    pub ca_fingerprint_sha256: String,
}
