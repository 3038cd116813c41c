//! `GET /v1/pin/recovery-key` and `POST /v1/pin/reset`: the PIN-recovery service
//! (`docs/pin-reset.md`; the rules are in the module docs of
//! `latchkey_proto::api::pin_reset`).
//!
//! A reset is answered only after every check: an enrolment token of this user carrying
//! `mfa` (password and one-time code) from the last ten minutes, `EnablePinRecovery` in force
//! for this user on this device, the nonce, the device's proof, the key registered for this
//! user on this device with neither disabled, and the blob opening for exactly them. The
//! answer is sealed before the transaction that consumes the nonce, records the blob as
//! answered and writes the audit line; a refusal writes only its `pin_reset_refuse` line. The
//! recovery secret is never logged, stored or audited.

use axum::extract::State;
use axum::http::HeaderMap;
use latchkey_pin_recovery::{check_response_key, open_blob, seal_answer, RecoveryError};
use latchkey_proto::api::pin_reset::{
    blob_aad, blob_binding, reset_fields, PinRecoveryKey, PinResetRequest, PinResetResponse,
};
use latchkey_proto::proof::{proof_message, Purpose};

use super::audited;
use super::cert::MFA_FRESHNESS_SECS;
use super::extract::{b64, bearer, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto;
use crate::error::ApiError;
use crate::policy::effective::effective;
use crate::state::AppState;
use crate::storage::pin_recovery::{AnsweredBlob, ResetOutcome};
use crate::storage::{AuditRecord, Device, User};

/// The tenant's current PIN-recovery public key.
pub async fn recovery_key(
    State(state): State<AppState>,
) -> Result<axum::Json<PinRecoveryKey>, ApiError> {
    Ok(axum::Json(
        crate::pin_recovery::current(state.storage.as_ref(), &state.tenant).await?,
    ))
}

/// Answers a non-destructive PIN reset.
pub async fn reset(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<PinResetRequest>,
) -> Result<axum::Json<PinResetResponse>, ApiError> {
    let line = audit::line(event::PIN_RESET_REFUSE, state.now())
        .source(addr.ip())
        .actor(req.upn.trim().to_lowercase())
        .device(&req.device_id)
        .key(req.key_id.trim().to_lowercase());
    match reset_checked(&state, &headers, &req, &line).await {
        Ok(answer) => Ok(axum::Json(answer)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

fn malformed(e: RecoveryError) -> ApiError {
    ApiError::PinRecoveryRequestInvalid(e.to_string())
}

/// The enrolment token of `user` carrying `mfa`, at most [`MFA_FRESHNESS_SECS`] old.
fn fresh_mfa(state: &AppState, headers: &HeaderMap, user: &User) -> Result<(), ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let token = bearer(headers)?.ok_or(ApiError::PinRecoveryMfaRequired(
        "send Authorization: Bearer with the enrolment token of a password and one-time code sign-in",
    ))?;
    let claims = tenant
        .tokens
        .verify_enrollment(token, &state.issuer, &tenant.id, now)?;
    if claims.oid != user.id {
        return Err(ApiError::SubjectMismatch);
    }
    if !claims.is_mfa() {
        return Err(ApiError::PinRecoveryMfaRequired(
            "the token does not carry mfa: sign in with the password and a one-time code",
        ));
    }
    if now.saturating_sub(claims.iat) > MFA_FRESHNESS_SECS {
        return Err(ApiError::PinRecoveryMfaRequired(
            "the sign-in is older than ten minutes",
        ));
    }
    Ok(())
}

async fn recovery_enabled(state: &AppState, device: &Device, user: &User) -> Result<(), ApiError> {
    let report = effective(
        state.storage.as_ref(),
        &state.tenant.id,
        Some(&device.id),
        Some(&user.upn),
    )
    .await?;
    if !report.policy.enable_pin_recovery.value {
        return Err(ApiError::PinRecoveryDisabled);
    }
    Ok(())
}

async fn reset_checked(
    state: &AppState,
    headers: &HeaderMap,
    req: &PinResetRequest,
    line: &AuditRecord,
) -> Result<PinResetResponse, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let nonce = tenant.nonces.check(&req.nonce, Purpose::PinReset, now)?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    check_response_key(&req.response_key).map_err(malformed)?;
    let upn = req.upn.trim().to_lowercase();
    let key_id = req.key_id.trim().to_lowercase();
    let ctx = state
        .storage
        .signin_context(&tenant.id, &upn, &req.device_id, &key_id)
        .await?;
    let (device, user, key) = super::signin::enabled_subject(ctx)?;
    fresh_mfa(state, headers, &user)?;
    recovery_enabled(state, &device, &user).await?;
    let binding = blob_binding(&req.blob);
    let message = proof_message(
        Purpose::PinReset,
        &req.nonce,
        &reset_fields(&tenant.id, req, &binding),
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    let pair = crate::pin_recovery::opener(
        state.storage.as_ref(),
        tenant,
        &req.blob.recovery_key_id,
        now,
    )
    .await?;
    let aad = blob_aad(&tenant.id, &device.id, &user.upn, &key.key_id);
    let secret = open_blob(&pair, &req.blob, &aad).map_err(|e| match e {
        RecoveryError::DoesNotOpen { .. } => ApiError::PinRecoveryBlobMismatch,
        other => malformed(other),
    })?;
    let current = crate::pin_recovery::current(state.storage.as_ref(), tenant).await?;
    let mut rng = crate::tpm::seeded_rng(&state.env)?;
    let answer = seal_answer(&secret, &req.response_key, &req.nonce, current, &mut rng)
        .map_err(malformed)?;
    drop(secret);
    let success = |event: &str| {
        let mut out = line.clone();
        event.clone_into(&mut out.event);
        "success".clone_into(&mut out.outcome);
        out.note(format!(
            "kind=non-destructive recovery_key={}",
            req.blob.recovery_key_id
        ))
    };
    let lines = [success(event::PIN_RESET_REQUEST), success(event::PIN_RESET)];
    let answered = AnsweredBlob {
        blob_binding: binding,
        recovery_key_id: req.blob.recovery_key_id.clone(),
        user_id: user.id.clone(),
        device_id: device.id.clone(),
        key_id: key.key_id.clone(),
        answered_at: now,
    };
    match state
        .storage
        .record_pin_reset(&tenant.id, &nonce, &answered, &lines)
        .await?
    {
        ResetOutcome::Answered => Ok(answer),
        ResetOutcome::KeyGone => Err(ApiError::KeyNotFound),
        ResetOutcome::AlreadyAnswered => Err(ApiError::PinRecoveryBlobUsed),
    }
}
