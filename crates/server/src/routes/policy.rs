//! `POST /v1/policy/syncml` (administrators' SyncML) and `POST /v1/policy/effective` (a
//! device's effective policy as JSON), and what the SyncML routes share: the media type
//! check, the bounded body read and the device proof.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use latchkey_proto::api::policy::{
    EffectivePolicyRequest, EffectivePolicyResponse, HEADER_POLICY_VERSION, SYNCML_CONTENT_TYPE,
};
use latchkey_proto::proof::{proof_message, Purpose};
use sha2::{Digest, Sha256};

use super::audited;
use super::extract::{b64, bearer, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto;
use crate::error::ApiError;
use crate::policy::effective::effective;
use crate::policy::syncml::{apply_message, Sender};
use crate::policy::{normalise_upn, tenant_id};
use crate::state::AppState;
use crate::storage::{AuditRecord, Device};

/// Largest SyncML request body (the policy crate's message limit).
pub const SYNCML_BODY_LIMIT: usize = 512 * 1024;

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks the SyncML media type and reads the body (bounded) as UTF-8.
pub(super) async fn syncml_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let ok = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == SYNCML_CONTENT_TYPE || v == "application/xml");
    if !ok {
        return Err(ApiError::SyncMlMediaType);
    }
    let bytes = axum::body::to_bytes(body, SYNCML_BODY_LIMIT)
        .await
        .map_err(|_| ApiError::BodyTooLarge(SYNCML_BODY_LIMIT))?;
    Ok(bytes.to_vec())
}

/// Reads the body as UTF-8 text.
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ApiError::SyncMlMalformed(format!(
            "the message is not UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })
}

/// A SyncML reply with the policy version header.
pub(super) fn syncml_response(xml: String, version: i64) -> Response {
    let mut response = xml.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(SYNCML_CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        headers.insert(HEADER_POLICY_VERSION, v);
    }
    response
}

/// The `user` query parameter (percent-decoded), if any.
fn user_param(uri: &Uri) -> Result<Option<String>, ApiError> {
    let Some(q) = uri.query() else {
        return Ok(None);
    };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "user" {
            return percent_decode(v)
                .map(Some)
                .ok_or(ApiError::InvalidField("user"));
        }
    }
    Ok(None)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&byte) = b.get(i) {
        match byte {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// An administrator's SyncML message: `Authorization: Bearer <admin token>`.
pub async fn admin_syncml(
    State(state): State<AppState>,
    addr: ClientAddr,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let line = audit::line(event::POLICY_SYNCML, state.now()).source(addr.ip());
    match admin_checked(&state, &addr, &uri, &headers, body).await {
        Ok(r) => Ok(r),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn admin_checked(
    state: &AppState,
    addr: &ClientAddr,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = &state.tenant.id;
    let token = bearer(headers)?.ok_or(ApiError::InvalidToken(
        "an administrator token is required (latchkeyd admin-token create)",
    ))?;
    let row = state
        .storage
        .admin_token_by_hash(tenant, &sha256_hex(token.as_bytes()))
        .await?
        .filter(|t| !t.revoked)
        .ok_or(ApiError::InvalidToken(
            "unknown or revoked administrator token",
        ))?;
    let user = user_param(uri)?;
    let bytes = syncml_body(headers, body).await?;
    let xml = utf8(&bytes)?;
    let sender = Sender {
        actor: format!("admin-token:{}", row.id),
        source: Some(addr.ip()),
    };
    let report = apply_message(
        state.storage.as_ref(),
        tenant,
        xml,
        user.as_deref(),
        &sender,
        state.now(),
    )
    .await?;
    Ok(syncml_response(report.reply, report.version))
}

/// Checks a device's proof for [`Purpose::PolicySync`] over `body`: nonce, device enabled,
/// signature, and that `upn` (if any) is the device's owner or has a key on it.
pub(super) async fn device_proof(
    state: &AppState,
    device_id: &str,
    upn: &str,
    nonce: &str,
    signature_b64: &str,
    body: &[u8],
) -> Result<(crate::storage::ConsumedNonce, Device), ApiError> {
    let tenant = &state.tenant.id;
    let consumed = state
        .tenant
        .nonces
        .check(nonce, Purpose::PolicySync, state.now())?;
    let signature = b64("device_signature", signature_b64)?;
    let device = state
        .storage
        .device(tenant, device_id)
        .await?
        .ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let message = proof_message(
        Purpose::PolicySync,
        nonce,
        &[tenant, device_id, upn, &sha256_hex(body)],
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    if !upn.is_empty() {
        let user = state
            .storage
            .user_by_upn(tenant, &normalise_upn(upn))
            .await?
            .ok_or(ApiError::InvalidCredentials)?;
        if user.disabled {
            return Err(ApiError::UserDisabled);
        }
        let has_key = state
            .directory
            .keys_of(tenant, &user.upn)
            .await?
            .iter()
            .any(|k| k.device_id == device.id);
        if user.id != device.owner_user_id && !has_key {
            return Err(ApiError::SubjectMismatch);
        }
    }
    Ok((consumed, device))
}

/// The effective policy of a device (and user) as JSON.
pub async fn effective_json(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<EffectivePolicyRequest>,
) -> Result<axum::Json<EffectivePolicyResponse>, ApiError> {
    let mut line = audit::line(event::POLICY_FETCH, state.now())
        .source(addr.ip())
        .device(&req.device_id);
    if !req.upn.is_empty() {
        line = line.actor(normalise_upn(&req.upn));
    }
    match effective_checked(&state, &req, line.clone()).await {
        Ok(r) => Ok(axum::Json(r)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn effective_checked(
    state: &AppState,
    req: &EffectivePolicyRequest,
    line: AuditRecord,
) -> Result<EffectivePolicyResponse, ApiError> {
    let tenant = &state.tenant.id;
    let (nonce, device) = device_proof(
        state,
        &req.device_id,
        &req.upn,
        &req.nonce,
        &req.device_signature,
        b"",
    )
    .await?;
    let upn = Some(req.upn.as_str()).filter(|u| !u.is_empty());
    let report = effective(state.storage.as_ref(), tenant, Some(&device.id), upn).await?;
    let line = line.note(format!("v{}", report.version));
    state
        .storage
        .consume_with_audit(tenant, &nonce, &line)
        .await?;
    tenant_id(tenant)?;
    Ok(EffectivePolicyResponse {
        version: u64::try_from(report.version).unwrap_or(0),
        tenant_id: tenant.clone(),
        policy: serde_json::to_value(&report.policy).map_err(ApiError::internal)?,
    })
}
