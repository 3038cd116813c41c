//! The tenant's policy as the service keeps it: the CSP layer changed through SyncML, the
//! Group Policy layer and its groups, and the effective policy of a device and user
//! computed from them with the precedence of `latchkey-policy`.
//!
//! Used by the HTTP routes (`/v1/policy/...`) and by `latchkeyd::data_admin::Admin` (the
//! `latchkeyd policy ...` commands), so both apply exactly the same semantics.

pub mod csp;
pub mod effective;
pub mod gpo;
pub mod session;
pub mod syncml;

use latchkey_policy::TenantId;

use crate::error::ApiError;
use crate::storage::StorageError;

/// A policy operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyServiceError {
    /// The SyncML message could not be parsed (LK-SYNCML-001).
    #[error("{0}")]
    Malformed(latchkey_policy::PolicyError),
    /// A request names something that does not exist or is not acceptable (LK-POLICY-001).
    #[error("{0}")]
    Invalid(String),
    /// A value is outside its CSP's bounds (LK-POLICY-002); the message names the bound.
    #[error("{0}")]
    OutOfBounds(String),
    /// The stored policy could not be read back (LK-SRV-001).
    #[error("stored policy is corrupt: {0}")]
    Corrupt(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<PolicyServiceError> for ApiError {
    fn from(err: PolicyServiceError) -> ApiError {
        match err {
            PolicyServiceError::Malformed(e) => ApiError::SyncMlMalformed(e.to_string()),
            PolicyServiceError::Invalid(what) | PolicyServiceError::OutOfBounds(what) => {
                ApiError::PolicyInvalid(what)
            }
            PolicyServiceError::Corrupt(what) => ApiError::internal(what),
            PolicyServiceError::Storage(e) => e.into(),
        }
    }
}

/// The tenant id in the policy crate's form.
pub fn tenant_id(id: &str) -> Result<TenantId, PolicyServiceError> {
    id.parse()
        .map_err(|_| PolicyServiceError::Corrupt(format!("tenant id {id} is not a GUID")))
}

/// Normalises a UPN the way the directory stores it.
pub fn normalise_upn(upn: &str) -> String {
    upn.trim().to_lowercase()
}
