//! `POST /v1/keys`: Hello key registration under the seed's MFA rules.
//!
//! The rule (seed: "a user who joined a cloud device with MFA may provision without a fresh
//! MFA; any other user, and every user on a hybrid device, must present one"):
//!
//! - On a `cloud` device joined with MFA, its registered owner needs no bearer token: the
//!   device-key proof over a fresh nonce, together with the owner match recorded at join,
//!   stands in for the second factor (the MFA happened at join, on this device).
//! - Everyone else (another user on a cloud device; every user on `hybrid` and
//!   `registered` devices; the owner of a device joined without MFA) must present an
//!   enrolment token carrying `mfa` and naming this user: LK-AUTH-005 without it,
//!   LK-AUTH-006 when it names someone else.
//! - A token that is present is always checked, even where the rule would not need it.

use axum::extract::State;
use axum::http::HeaderMap;
use latchkey_proto::api::device::JoinType;
use latchkey_proto::api::key::{RegisterKeyRequest, RegisterKeyResponse};
use latchkey_proto::proof::{proof_message, Purpose};

use super::audited;
use super::extract::{b64, bearer, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto::{self, KeyRejection};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{AuditRecord, Device, KeyCredential, StorageError, User};

/// The attestation level of every key until TPM attestation exists.
pub const SOFTWARE: &str = "software";
/// Key usage of Hello keys.
pub const USAGE_NGC: &str = "NGC";

/// Registers a Hello key.
pub async fn register(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<RegisterKeyRequest>,
) -> Result<axum::Json<RegisterKeyResponse>, ApiError> {
    let mut line = audit::line(event::KEY_REGISTER, state.now())
        .source(addr.ip())
        .actor(req.upn.trim().to_lowercase())
        .device(&req.device_id);
    match register_checked(&state, &headers, &req, &mut line).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

/// Whether the seed's registered-owner rule lets the device stand in for a fresh MFA.
pub fn owner_exempt(device: &Device, user: &User) -> bool {
    JoinType::parse(&device.join_type) == Some(JoinType::Cloud)
        && device.joined_with_mfa
        && device.owner_user_id == user.id
}

async fn register_checked(
    state: &AppState,
    headers: &HeaderMap,
    req: &RegisterKeyRequest,
    line: &mut AuditRecord,
) -> Result<RegisterKeyResponse, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let token = bearer(headers)?;
    let nonce = tenant.nonces.check(&req.nonce, Purpose::RegisterKey, now)?;
    let key_bytes = b64("public_key.data", &req.public_key.data)?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    let key_signature = b64("key_signature", &req.key_signature)?;
    let accepted =
        crypto::accept_hello_key(req.public_key.alg, &key_bytes).map_err(|e| match e {
            KeyRejection::Malformed(detail) => ApiError::KeyInvalid(detail),
            other => ApiError::KeyInvalid(other.to_string()),
        })?;
    line.key_id = Some(accepted.key_id.clone());

    let device = state
        .storage
        .device(&tenant.id, &req.device_id)
        .await?
        .ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let upn = req.upn.trim().to_lowercase();
    let user = state
        .storage
        .user_by_upn(&tenant.id, &upn)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let mfa_from_token = match token {
        Some(token) => {
            let claims = tenant
                .tokens
                .verify_enrollment(token, &state.issuer, &tenant.id, now)?;
            if claims.oid != user.id {
                return Err(ApiError::SubjectMismatch);
            }
            claims.is_mfa()
        }
        None => false,
    };
    let exempt = owner_exempt(&device, &user);
    if !exempt && !mfa_from_token {
        return Err(ApiError::MfaRequired(if token.is_some() {
            "the token lacks a second factor"
        } else {
            "only the owner who joined this cloud device with MFA may register without a token"
        }));
    }

    let message = proof_message(
        Purpose::RegisterKey,
        &req.nonce,
        &[&tenant.id, &req.device_id, &req.upn, &accepted.key_id],
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    if !crypto::verify_hello(
        accepted.alg.as_str(),
        &accepted.public_key,
        &message,
        &key_signature,
    ) {
        return Err(ApiError::AssertionInvalid);
    }

    let key = KeyCredential {
        key_id: accepted.key_id.clone(),
        user_id: user.id.clone(),
        device_id: device.id.clone(),
        alg: accepted.alg.as_str().to_owned(),
        public_key: accepted.public_key,
        usage: USAGE_NGC.to_owned(),
        attestation: SOFTWARE.to_owned(),
        created_at: now,
    };
    let how = if exempt && !mfa_from_token {
        "mfa=owner-device"
    } else {
        "mfa=token"
    };
    let success = line.clone().note(how);
    let replaced = match state
        .storage
        .register_key(&tenant.id, &nonce, &key, &success)
        .await
    {
        Ok(replaced) => replaced,
        Err(StorageError::Conflict(_)) => {
            return Err(ApiError::KeyInvalid(
                "this key is already registered for another user or device".into(),
            ))
        }
        Err(other) => return Err(other.into()),
    };
    Ok(RegisterKeyResponse {
        key_id: key.key_id,
        replaced_key_id: replaced,
        attestation: SOFTWARE.to_owned(),
    })
}
