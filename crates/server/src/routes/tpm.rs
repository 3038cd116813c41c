//! `POST /v1/devices/tpm/activate/begin` and `.../finish`: the device's TPM identity by
//! credential activation (docs/tpm.md).
//!
//! Begin: a device-key proof; the EK certificate validated against the tenant's TPM
//! manufacturer roots at the service's time; the AIK acceptable and not another device's;
//! TPM 1.2 refused under `ExcludeSecurityDevices/TPM12`; then TPM2_MakeCredential to the
//! EK for the AIK's name, with a fresh 32-byte secret. The pending activation (the
//! secret's SHA-256, never the secret) is stored, one per device, for five minutes.
//!
//! Finish: a device-key proof; the activation of this device, not expired; the secret
//! compared in constant time; then, in one transaction, the activation consumed (once)
//! and the AIK recorded as this device's.

use axum::extract::State;
use latchkey_attest::tpm::key_attestation::check_aik_public;
use latchkey_attest::tpm::make_credential::make_credential;
use latchkey_proto::api::tpm::{
    activate_begin_fields, activate_finish_fields, TpmActivateBegin, TpmActivateChallenge,
    TpmActivateFinish, TpmActivated,
};
use latchkey_proto::proof::{proof_message, Purpose};
use sha2::{Digest, Sha256};

use super::audited;
use super::extract::{b64, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto;
use crate::error::ApiError;
use crate::policy::effective::effective;
use crate::state::AppState;
use crate::storage::tpm::{DeviceTpm, FinishOutcome, PendingActivation, TpmIdentity};
use crate::storage::{AuditRecord, Device};
use crate::tpm::{self as support, seeded_rng, ACTIVATION_LIFETIME_SECS};

/// The TPM family the policy can exclude.
const TPM12: &str = "1.2";
/// Longest accepted TPM description field.
const MAX_TEXT: usize = 64;

/// Begins a credential activation.
pub async fn begin(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<TpmActivateBegin>,
) -> Result<axum::Json<TpmActivateChallenge>, ApiError> {
    let mut line = audit::line(event::TPM_ACTIVATE_BEGIN, state.now())
        .source(addr.ip())
        .device(&req.device_id);
    match begin_checked(&state, &req, &mut line).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

/// The device named by a request, enabled, whose device key signed `fields`.
async fn proven_device(
    state: &AppState,
    device_id: &str,
    nonce: &str,
    fields: &[String],
    signature: &str,
) -> Result<Device, ApiError> {
    let signature = b64("device_signature", signature)?;
    let device = state
        .storage
        .device(&state.tenant.id, device_id)
        .await?
        .ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let message = proof_message(Purpose::TpmActivate, nonce, &fields);
    if !crypto::verify_device(&device.public_key_spki, &message, &signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    Ok(device)
}

async fn begin_checked(
    state: &AppState,
    req: &TpmActivateBegin,
    line: &mut AuditRecord,
) -> Result<TpmActivateChallenge, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let nonce = tenant.nonces.check(&req.nonce, Purpose::TpmActivate, now)?;
    let ek_public = b64("ek_public", &req.ek_public)?;
    let ek_cert = b64("ek_certificate", &req.ek_certificate)?;
    let aik_public = b64("aik_public", &req.aik_public)?;
    if req.ek_chain.len() > support::MAX_DEVICE_INTERMEDIATES {
        return Err(ApiError::InvalidField("ek_chain"));
    }
    let device_chain = req
        .ek_chain
        .iter()
        .map(|c| b64("ek_chain", c))
        .collect::<Result<Vec<_>, _>>()?;
    for (field, text) in [
        ("tpm.family", &req.tpm.family),
        ("tpm.manufacturer", &req.tpm.manufacturer),
        ("tpm.firmware", &req.tpm.firmware),
    ] {
        if text.len() > MAX_TEXT {
            return Err(ApiError::InvalidField(field));
        }
    }
    let fields = activate_begin_fields(&tenant.id, &req.device_id, &ek_public, &aik_public);
    let device = proven_device(
        state,
        &req.device_id,
        &req.nonce,
        &fields,
        &req.device_signature,
    )
    .await?;

    let roots = state.storage.list_tpm_roots(&tenant.id).await?;
    let ek = support::verify_ek(
        &ek_cert,
        &device_chain,
        &ek_public,
        &roots,
        state.env.clock.now(),
    )?;
    // The certificate's family when it states one, else what the device reports; a TPM
    // 1.2 by either is refused when the policy excludes it.
    let family = ek
        .specification
        .as_ref()
        .map_or_else(|| req.tpm.family.clone(), |s| s.family.clone());
    if family == TPM12 || req.tpm.family == TPM12 {
        let report = effective(state.storage.as_ref(), &tenant.id, Some(&device.id), None).await?;
        if report.policy.exclude_tpm12.value {
            return Err(ApiError::TpmFamilyExcluded(TPM12.to_owned()));
        }
    }
    let aik =
        check_aik_public(&aik_public).map_err(|e| ApiError::TpmAikUnacceptable(e.to_string()))?;
    let aik_name = hex::encode(aik.name());
    if let Some(other) = state.storage.device_of_aik(&tenant.id, &aik_name).await? {
        if other != device.id {
            return Err(ApiError::TpmAikOfAnotherDevice);
        }
    }
    let secret = zeroize::Zeroizing::new(state.env.random::<32>()?);
    let mut rng = seeded_rng(&state.env)?;
    let made = make_credential(&ek_public, aik.name(), secret.as_slice(), &mut rng)
        .map_err(|e| ApiError::TpmEkUnsupported(e.to_string()))?;
    let id = hex::encode(state.env.time_ordered::<16>()?);
    let pending = PendingActivation {
        id: id.clone(),
        secret_hash: Sha256::digest(secret.as_slice()).to_vec(),
        expires_at: now + ACTIVATION_LIFETIME_SECS,
        identity: TpmIdentity {
            device_id: device.id.clone(),
            aik_public,
            aik_name: aik_name.clone(),
            ek_public_hash: support::sha256_hex(&ek_public),
            manufacturer: ek.tpm.manufacturer.clone(),
            model: ek.tpm.model.clone(),
            version: ek.tpm.version.clone(),
            family,
            root_subject: ek.anchor_subject.clone(),
        },
    };
    let success = line.clone().note(format!(
        "aik={aik_name} manufacturer={}",
        ek.tpm.manufacturer
    ));
    state
        .storage
        .begin_tpm_activation(&tenant.id, &nonce, &pending, &success)
        .await?;
    Ok(TpmActivateChallenge {
        activation: id,
        credential_blob: latchkey_proto::b64::encode(&made.id_object),
        encrypted_secret: latchkey_proto::b64::encode(&made.encrypted_secret),
        expires_in: ACTIVATION_LIFETIME_SECS,
    })
}

/// Finishes a credential activation.
pub async fn finish(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<TpmActivateFinish>,
) -> Result<axum::Json<TpmActivated>, ApiError> {
    let mut line = audit::line(event::TPM_ACTIVATE, state.now())
        .source(addr.ip())
        .device(&req.device_id);
    match finish_checked(&state, &req, &mut line).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn finish_checked(
    state: &AppState,
    req: &TpmActivateFinish,
    line: &mut AuditRecord,
) -> Result<TpmActivated, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let nonce = tenant.nonces.check(&req.nonce, Purpose::TpmActivate, now)?;
    let secret = zeroize::Zeroizing::new(b64("secret", &req.secret)?);
    let fields = activate_finish_fields(&tenant.id, &req.device_id, &req.activation);
    let device = proven_device(
        state,
        &req.device_id,
        &req.nonce,
        &fields,
        &req.device_signature,
    )
    .await?;
    let pending = state
        .storage
        .tpm_activation(&tenant.id, &device.id, &req.activation)
        .await?
        .ok_or(ApiError::TpmActivationUnknown)?;
    if now >= pending.expires_at {
        return Err(ApiError::TpmActivationExpired);
    }
    let hash = Sha256::digest(secret.as_slice());
    if !crypto::secrets_equal(&hash, &pending.secret_hash) {
        return Err(ApiError::TpmActivationSecretWrong);
    }
    let identity = pending.identity;
    let success = line.clone().note(format!(
        "aik={} manufacturer={} model={} version={} root={}",
        identity.aik_name,
        identity.manufacturer,
        identity.model,
        identity.version,
        identity.root_subject
    ));
    let tpm = DeviceTpm {
        identity,
        activated_at: now,
    };
    match state
        .storage
        .finish_tpm_activation(&tenant.id, &nonce, &pending.id, &tpm, &success)
        .await?
    {
        FinishOutcome::Activated => {}
        FinishOutcome::AlreadyUsed => return Err(ApiError::TpmActivationUnknown),
        FinishOutcome::AikOfAnotherDevice => return Err(ApiError::TpmAikOfAnotherDevice),
    }
    let i = tpm.identity;
    Ok(TpmActivated {
        aik_name: i.aik_name,
        manufacturer: i.manufacturer,
        model: i.model,
        version: i.version,
        root: i.root_subject,
    })
}
