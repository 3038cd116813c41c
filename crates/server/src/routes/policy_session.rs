//! `POST /v1/policy/session`: a device's SyncML policy session (see
//! [`crate::policy::session`] for the two messages). Every message carries a fresh
//! [`latchkey_proto::proof::Purpose::PolicySync`] nonce and the device key's signature over
//! the message body in headers; the reply to message 1 brings the nonce for message 2.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use latchkey_policy::syncml::{parse_message, to_xml, Limits};
use latchkey_proto::api::policy::{
    HEADER_DEVICE_ID, HEADER_DEVICE_SIGNATURE, HEADER_NEXT_NONCE, HEADER_NONCE, HEADER_UPN,
};
use latchkey_proto::proof::Purpose;

use super::audited;
use super::extract::ClientAddr;
use super::policy::{device_proof, syncml_body, syncml_response, utf8};
use crate::audit::{self, event};
use crate::error::ApiError;
use crate::policy::effective::effective;
use crate::policy::session::{classify, close_reply, open_reply, DeviceMessage};
use crate::policy::{normalise_upn, tenant_id};
use crate::state::AppState;
use crate::storage::policy::PolicySessionRow;
use crate::storage::{AuditRecord, StorageError};

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| ApiError::InvalidField(name)))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// One message of a device's policy session.
pub async fn session(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut line = audit::line(event::POLICY_SESSION_OPEN, state.now()).source(addr.ip());
    if let Ok(d) = header(&headers, HEADER_DEVICE_ID) {
        line = line.device(d);
    }
    match session_checked(&state, &headers, body, &mut line).await {
        Ok(r) => Ok(r),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn session_checked(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    line: &mut AuditRecord,
) -> Result<Response, ApiError> {
    let tenant = &state.tenant.id;
    let bytes = syncml_body(headers, body).await?;
    let device_id = header(headers, HEADER_DEVICE_ID)?;
    let upn_raw = header(headers, HEADER_UPN)?;
    let nonce = header(headers, HEADER_NONCE)?;
    let signature = header(headers, HEADER_DEVICE_SIGNATURE)?;
    if device_id.is_empty() {
        return Err(ApiError::InvalidField(HEADER_DEVICE_ID));
    }
    let (consumed, device) =
        device_proof(state, device_id, upn_raw, nonce, signature, &bytes).await?;
    let upn = Some(normalise_upn(upn_raw)).filter(|u| !u.is_empty());
    if let Some(u) = &upn {
        line.actor = Some(u.clone());
    }
    let msg = parse_message(utf8(&bytes)?, &Limits::default())
        .map_err(|e| ApiError::SyncMlMalformed(e.to_string()))?;
    let kind = classify(&msg, &device.id).map_err(|e| ApiError::SyncMlMalformed(e.to_string()))?;
    match kind {
        DeviceMessage::Open { session_id } => {
            let report = effective(
                state.storage.as_ref(),
                tenant,
                Some(&device.id),
                upn.as_deref(),
            )
            .await?;
            let reply = open_reply(&msg, &device.id, tenant_id(tenant)?, &report.policy);
            let sent = reply
                .commands
                .iter()
                .filter(|c| matches!(c, latchkey_policy::syncml::Command::Item(_)))
                .count();
            let row = PolicySessionRow {
                device_id: device.id.clone(),
                session_id: session_id.clone(),
                upn: upn.clone(),
                version: report.version,
                commands: i64::try_from(sent).unwrap_or(i64::MAX),
                opened_at: state.now(),
                closed_at: None,
                failed: None,
            };
            let audit_line = line.clone().note(format!(
                "session {session_id}: v{}, {sent} settings sent",
                report.version
            ));
            match state
                .storage
                .open_policy_session(tenant, &consumed, &row, &audit_line)
                .await
            {
                Ok(()) => {}
                Err(StorageError::Conflict(_)) => {
                    return Err(ApiError::PolicyInvalid(format!(
                        "SessionID {session_id} was already used by this device; choose a new one"
                    )))
                }
                Err(e) => return Err(e.into()),
            }
            let (next, _) = state.tenant.nonces.issue(&state.env, Purpose::PolicySync)?;
            let mut response = syncml_response(to_xml(&reply), report.version);
            if let Ok(v) = HeaderValue::from_str(&next) {
                response.headers_mut().insert(HEADER_NEXT_NONCE, v);
            }
            Ok(response)
        }
        DeviceMessage::Statuses {
            session_id,
            msg_id,
            total,
            failed,
        } => {
            line.event = event::POLICY_SESSION_CLOSE.to_owned();
            let mut audit_line = line.clone().note(format!(
                "session {session_id} message {msg_id}: {total} statuses, {failed} failed"
            ));
            if failed > 0 {
                audit_line.outcome = "failure".to_owned();
            }
            let closed = state
                .storage
                .close_policy_session(
                    tenant,
                    &consumed,
                    &device.id,
                    &session_id,
                    i64::try_from(failed).unwrap_or(i64::MAX),
                    &audit_line,
                )
                .await?;
            if !closed {
                return Err(ApiError::PolicySessionUnknown);
            }
            let version = state.storage.policy_version(tenant).await?;
            Ok(syncml_response(
                to_xml(&close_reply(&msg, &device.id)),
                version,
            ))
        }
    }
}
