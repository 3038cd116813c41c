//! The TPM attestation of a Hello key at registration, and the `RequireSecurityDevice`
//! rule (docs/tpm.md).

use latchkey_attest::tpm::key_attestation::{check_aik_public, verify_key_attestation};
use latchkey_proto::api::key::KeyAlgorithm;
use latchkey_proto::api::tpm::{key_attestation_extra_data, KeyAttestation};
use latchkey_proto::bcrypt::RsaPublicBlob;

use super::extract::b64;
use crate::crypto::AcceptedKey;
use crate::error::ApiError;
use crate::policy::effective::effective;
use crate::state::AppState;
use crate::storage::{Device, User};

/// Verifies `att` for the key `key` being registered from `device` with `nonce`: the
/// TPM2_Certify must be by the AIK activated for this very device and bind this nonce.
/// Returns the TPM manufacturer recorded at activation.
pub async fn verify(
    state: &AppState,
    device: &Device,
    key: &AcceptedKey,
    att: &KeyAttestation,
    nonce: &str,
) -> Result<String, ApiError> {
    let tpm = state
        .storage
        .device_tpm(&state.tenant.id, &device.id)
        .await?
        .ok_or(ApiError::TpmNoActivatedAik)?;
    if key.alg != KeyAlgorithm::Rsa {
        return Err(ApiError::TpmKeyAttestationAlg);
    }
    let blob = RsaPublicBlob::from_bytes(&key.public_key)
        .map_err(|e| ApiError::KeyInvalid(e.to_string()))?;
    let key_public = b64("tpm_attestation.key_public", &att.key_public)?;
    let certify_info = b64("tpm_attestation.certify_info", &att.certify_info)?;
    let signature = b64("tpm_attestation.signature", &att.signature)?;
    // The AIK was checked at activation; checked again, so a stored row that is not an
    // acceptable AIK never certifies anything.
    let aik = check_aik_public(&tpm.identity.aik_public)
        .map_err(|e| ApiError::TpmKeyAttestationInvalid(e.to_string()))?;
    verify_key_attestation(
        &aik,
        &certify_info,
        &signature,
        &key_public,
        &key_attestation_extra_data(nonce),
        &blob.modulus,
        &blob.exponent,
    )
    .map_err(|e| ApiError::TpmKeyAttestationInvalid(e.to_string()))?;
    Ok(tpm.identity.manufacturer)
}

/// Refuses a key without valid TPM attestation when the effective policy of this device
/// and user sets `RequireSecurityDevice`.
pub async fn require_security_device(
    state: &AppState,
    device: &Device,
    user: &User,
) -> Result<(), ApiError> {
    let report = effective(
        state.storage.as_ref(),
        &state.tenant.id,
        Some(&device.id),
        Some(&user.upn),
    )
    .await?;
    let rule = &report.policy.require_security_device;
    if rule.value {
        return Err(ApiError::TpmSecurityDeviceRequired(
            rule.source.label().to_owned(),
        ));
    }
    Ok(())
}
