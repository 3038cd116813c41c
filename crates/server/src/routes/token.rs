//! `POST /v1/token`: an access token for an audience from a primary refresh token and a
//! device-key proof.
//!
//! The primary refresh token is not a bearer token: the request also carries a signature by
//! the key of the device the token was issued to, over a fresh nonce of purpose `token` and
//! over the tenant, the device, the token's [`prt_binding`] and the audience. The nonce is
//! consumed in the transaction that records the issue, so a proof is good for one token; a
//! refused request consumes nothing (its nonce stays usable until it expires, for the same
//! token and audience only).

use axum::extract::State;
use latchkey_proto::api::signin::{TokenRequest, TokenResponse};
use latchkey_proto::proof::{proof_message, prt_binding, Purpose};

use super::audited;
use super::extract::{b64, ClientAddr, Json};
use super::signin::{hello_token, live_prt};
use crate::audit::{self, event};
use crate::crypto;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{typ, ACCESS_LIFETIME_SECS, DEFAULT_AUDIENCE, MAX_AUDIENCE};

/// Issues an access token for `audience`. Refused when the proof is missing, wrong or
/// replayed, when the token, its device, its key or its user is revoked, disabled or
/// deleted, and when the audience is neither a registered resource nor a registered
/// application (the service's own `urn:latchkey:api` is always known). Successes and
/// failures are audited (`token`; the audience in the note of a success).
pub async fn token(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<TokenRequest>,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let now = state.now();
    let line = audit::line(event::TOKEN, now).source(addr.ip());
    let line = match &req.device_id {
        Some(device) => line.device(device),
        None => line,
    };
    match token_checked(&state, &req, line.clone(), now).await {
        Ok(access_token) => Ok(axum::Json(TokenResponse {
            access_token,
            expires_in: ACCESS_LIFETIME_SECS,
            token_type: "Bearer".to_owned(),
        })),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn token_checked(
    state: &AppState,
    req: &TokenRequest,
    line: crate::storage::AuditRecord,
    now: i64,
) -> Result<String, ApiError> {
    let tenant = &state.tenant;
    let audience = req.audience.trim();
    if audience.is_empty() || audience.len() > MAX_AUDIENCE || audience != req.audience {
        return Err(ApiError::InvalidField("audience"));
    }
    let (Some(device_id), Some(nonce_text), Some(signature)) =
        (&req.device_id, &req.nonce, &req.device_signature)
    else {
        return Err(ApiError::PrtProofRequired);
    };
    let nonce = tenant.nonces.check(nonce_text, Purpose::Token, now)?;
    let device_signature = b64("device_signature", signature)?;
    let live = live_prt(state, &req.prt, now).await?;
    if live.device.id != *device_id {
        return Err(ApiError::PrtWrongDevice);
    }
    let binding = prt_binding(&req.prt);
    let message = proof_message(
        Purpose::Token,
        nonce_text,
        &[&tenant.id, device_id, &binding, audience],
    );
    if !crypto::verify_device(&live.device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    let access_token = hello_token(
        state,
        &live.user,
        &live.device,
        &live.key,
        audience,
        typ::ACCESS,
        now,
    )?;
    let line = line
        .actor(&live.user.upn)
        .key(&live.key.key_id)
        .note(format!("audience {audience}"));
    let check = (audience != DEFAULT_AUDIENCE).then_some(audience);
    if !state
        .storage
        .issue_token(&tenant.id, &nonce, check, &line)
        .await?
    {
        return Err(ApiError::AudienceUnknown);
    }
    Ok(access_token)
}
