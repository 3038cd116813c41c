//! The Hello keys of a tenant judged against the policy: a software key where the effective
//! policy of its device and user requires a security device is flagged (`latchkeyd key
//! list` and the web administration's key page).

use serde::Serialize;

use crate::policy::effective::effective;
use crate::policy::PolicyServiceError;
use crate::storage::{KeyListing, Storage};
use crate::tpm::ATTESTATION_SOFTWARE;

/// A key with its attestation judged against the policy (`key list`, the admin page).
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// The key.
    #[serde(flatten)]
    pub key: KeyListing,
    /// A software key while the effective policy of its device and user sets
    /// `RequireSecurityDevice` (registered before the policy, or by an older service).
    pub flagged_software: bool,
}

/// All keys (or one user's) with [`KeyReport::flagged_software`] (`key list`).
pub async fn key_reports(
    storage: &dyn Storage,
    tenant: &str,
    upn: Option<&str>,
) -> Result<Vec<KeyReport>, PolicyServiceError> {
    let keys = storage.list_keys(tenant, upn).await?;
    judge(storage, tenant, keys).await
}

/// `keys` with [`KeyReport::flagged_software`] filled in (a page of keys on the web
/// administration, or all of them for `key list`).
pub async fn judge(
    storage: &dyn Storage,
    tenant: &str,
    keys: Vec<KeyListing>,
) -> Result<Vec<KeyReport>, PolicyServiceError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let flagged_software = key.attestation == ATTESTATION_SOFTWARE
            && effective(storage, tenant, Some(&key.device_id), Some(&key.upn))
                .await?
                .policy
                .require_security_device
                .value;
        out.push(KeyReport {
            key,
            flagged_software,
        });
    }
    Ok(out)
}
