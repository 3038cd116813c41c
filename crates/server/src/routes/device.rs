//! `POST /v1/devices/join` and `POST /v1/devices/leave`.

use axum::extract::State;
use axum::http::HeaderMap;
use latchkey_proto::api::device::{JoinRequest, JoinResponse, LeaveRequest, LeaveResponse};
use latchkey_proto::proof::{proof_message, Purpose};

use super::audited;
use super::extract::{b64, bearer, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{AuditRecord, Device};

/// Longest accepted display name or OS string.
const MAX_TEXT: usize = 256;

/// Joins a device: enrolment token + device-key proof over a join nonce.
pub async fn join(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<JoinRequest>,
) -> Result<axum::Json<JoinResponse>, ApiError> {
    let mut line = audit::line(event::JOIN, state.now()).source(addr.ip());
    match join_checked(&state, &headers, &req, &mut line).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn join_checked(
    state: &AppState,
    headers: &HeaderMap,
    req: &JoinRequest,
    line: &mut AuditRecord,
) -> Result<JoinResponse, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let token = bearer(headers)?.ok_or(ApiError::InvalidToken("a bearer token is required"))?;
    let claims = tenant
        .tokens
        .verify_enrollment(token, &state.issuer, &tenant.id, now)?;
    line.actor = Some(claims.upn.clone());
    let user = state
        .storage
        .user_by_upn(&tenant.id, &claims.upn)
        .await?
        .filter(|u| u.id == claims.oid)
        .ok_or(ApiError::InvalidToken("the token's user no longer exists"))?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let nonce = tenant.nonces.check(&req.nonce, Purpose::Join, now)?;
    for (field, text) in [("display_name", &req.display_name), ("os", &req.os)] {
        if text.trim().is_empty() || text.len() > MAX_TEXT {
            return Err(ApiError::InvalidField(field));
        }
    }
    let spki = b64("device_public_key", &req.device_public_key)?;
    let signature = b64("signature", &req.signature)?;
    crypto::accept_device_key(&spki).map_err(|e| ApiError::DeviceKeyInvalid(e.to_string()))?;
    let message = proof_message(
        Purpose::Join,
        &req.nonce,
        &[&tenant.id, &req.device_public_key],
    );
    if !crypto::verify_device(&spki, &message, &signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    let device_id = state.env.guid()?.to_string();
    line.device_id = Some(device_id.clone());
    let cert = state
        .pki
        .issuing
        .issue_device_certificate(&spki, &device_id, state.env.clock.now())
        .map_err(ApiError::internal)?;
    let joined_with_mfa = claims.is_mfa();
    let device = Device {
        id: device_id.clone(),
        display_name: req.display_name.clone(),
        os: req.os.clone(),
        join_type: req.join_type.as_str().to_owned(),
        owner_user_id: user.id.clone(),
        joined_with_mfa,
        public_key_spki: spki,
        cert_pem: cert.pem.clone(),
        cert_thumbprint: cert.fingerprint_sha256.clone(),
        disabled: false,
        created_at: now,
    };
    let success = line
        .clone()
        .note(format!("{} mfa={joined_with_mfa}", req.join_type.as_str()));
    state
        .storage
        .join_device(&tenant.id, &nonce, &device, &success)
        .await?;
    Ok(JoinResponse {
        device_id,
        device_certificate_pem: cert.pem,
        tenant_id: tenant.id.clone(),
        tenant_name: tenant.name.clone(),
        ca_pem: tenant.ca.cert_pem().to_owned(),
        joined_with_mfa,
    })
}

/// Leaves: the device proves possession of its key and is disabled.
pub async fn leave(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<LeaveRequest>,
) -> Result<axum::Json<LeaveResponse>, ApiError> {
    let line = audit::line(event::LEAVE, state.now())
        .source(addr.ip())
        .device(&req.device_id);
    match leave_checked(&state, &req, line.clone()).await {
        Ok(()) => Ok(axum::Json(LeaveResponse {
            device_id: req.device_id,
        })),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn leave_checked(
    state: &AppState,
    req: &LeaveRequest,
    line: AuditRecord,
) -> Result<(), ApiError> {
    let tenant = &state.tenant;
    let nonce = tenant
        .nonces
        .check(&req.nonce, Purpose::Leave, state.now())?;
    let signature = b64("signature", &req.signature)?;
    let device = state
        .storage
        .device(&tenant.id, &req.device_id)
        .await?
        .ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let message = proof_message(Purpose::Leave, &req.nonce, &[&tenant.id, &req.device_id]);
    if !crypto::verify_device(&device.public_key_spki, &message, &signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    state
        .storage
        .leave_device(&tenant.id, &nonce, &device.id, &line)
        .await?;
    Ok(())
}
