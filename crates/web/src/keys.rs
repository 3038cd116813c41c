//! Hello keys as the Administration page shows them: each software key flagged when the
//! effective policy of its device and user requires a security device.

use latchkey_server::error::ApiError;
use latchkey_server::policy::effective::effective;
use latchkey_server::state::AppState;
use latchkey_server::storage::KeyListing;
use latchkey_server::tpm::ATTESTATION_SOFTWARE;

/// A Hello key and whether it breaks the policy in force for it.
#[derive(Debug, Clone)]
pub struct KeyReport {
    /// The key.
    pub key: KeyListing,
    /// A software key while the effective policy of its device and user sets
    /// `RequireSecurityDevice` (registered before the policy, or by an older service).
    pub flagged_software: bool,
}

/// `keys` with [`KeyReport::flagged_software`] filled in.
pub async fn key_reports_of(
    state: &AppState,
    keys: Vec<KeyListing>,
) -> Result<Vec<KeyReport>, ApiError> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let flagged_software = key.attestation == ATTESTATION_SOFTWARE
            && effective(
                state.storage.as_ref(),
                &state.tenant.id,
                Some(&key.device_id),
                Some(&key.upn),
            )
            .await
            .map_err(ApiError::from)?
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

/// All Hello keys of the tenant (or of `upn`) with [`KeyReport::flagged_software`].
pub async fn key_reports(state: &AppState, upn: Option<&str>) -> Result<Vec<KeyReport>, ApiError> {
    let keys = state.storage.list_keys(&state.tenant.id, upn).await?;
    key_reports_of(state, keys).await
}
