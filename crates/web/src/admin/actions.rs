//! The Administration pages' actions on devices, Windows Hello keys, security keys and
//! certificates; each destructive one answers its confirmation page first.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_server::audit::event;
use latchkey_server::certs::crl;
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::ClientAddr;
use latchkey_server::routes::web::PageError;
use latchkey_server::state::AppState;
use latchkey_server::storage::cert::RevokeOutcome;

use super::{confirm_page, prepare, ActionForm, Confirm};
use crate::html::esc;
use crate::session::see_other;
use crate::Form;

const DEVICES: &str = "/admin/devices";
const KEYS: &str = "/admin/keys";
const SECURITY_KEYS: &str = "/admin/security-keys";
const CERTIFICATES: &str = "/admin/certificates";

/// A device the administrator acts on, and its owner's UPN (two keyed lookups).
struct Target {
    id: String,
    display_name: String,
    owner: String,
}

async fn device(state: &AppState, id: &str) -> Result<Target, PageError> {
    let missing = || PageError(ApiError::AdminObjectNotFound("device"));
    let d = state
        .storage
        .device(&state.tenant.id, id)
        .await?
        .ok_or_else(missing)?;
    let owner = state
        .storage
        .device_owner(&state.tenant.id, id)
        .await?
        .ok_or_else(missing)?;
    Ok(Target {
        id: d.id,
        display_name: d.display_name,
        owner,
    })
}

/// `POST /admin/devices/disable` (confirmed).
pub async fn disable_device(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, id, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::DEVICE_DISABLE,
        &f.device_id,
        "device",
    )
    .await?;
    let d = device(&state, &id).await?;
    if !f.confirmed() {
        return Ok(confirm_page(&who, DEVICES, Confirm {
            title: "Disable this device?",
            what: format!(
                "<strong>{}</strong> ({}) will not sign anyone in until it is enabled again; its sessions end now and its certificates are revoked.",
                esc(&d.display_name), esc(&d.owner)
            ),
            path: "/admin/devices/disable",
            field: "device_id",
            value: &d.id,
            button: "Disable",
            back: DEVICES,
            extra: vec![],
        }).into_response());
    }
    if !state
        .storage
        .disable_device(&state.tenant.id, &d.id, &line.device(&d.id))
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("device")));
    }
    Ok(see_other(DEVICES, vec![]))
}

/// `POST /admin/devices/enable`: not destructive, no confirmation.
pub async fn enable_device(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (_, id, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::DEVICE_ENABLE,
        &f.device_id,
        "device",
    )
    .await?;
    if !state
        .directory
        .enable_device(&state.tenant.id, &id, &line.device(&id))
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("device")));
    }
    Ok(see_other(DEVICES, vec![]))
}

/// `POST /admin/devices/delete` (confirmed).
pub async fn delete_device(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, id, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::DEVICE_DELETE,
        &f.device_id,
        "device",
    )
    .await?;
    let d = device(&state, &id).await?;
    if !f.confirmed() {
        return Ok(confirm_page(&who, DEVICES, Confirm {
            title: "Delete this device?",
            what: format!(
                "<strong>{}</strong> ({}) and the Windows Hello keys on it are deleted and its certificates revoked. This cannot be undone: the device must join again.",
                esc(&d.display_name), esc(&d.owner)
            ),
            path: "/admin/devices/delete",
            field: "device_id",
            value: &d.id,
            button: "Delete",
            back: DEVICES,
            extra: vec![],
        }).into_response());
    }
    if !state
        .directory
        .delete_device(&state.tenant.id, &d.id, &line.device(&d.id))
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("device")));
    }
    Ok(see_other(DEVICES, vec![]))
}

/// `POST /admin/keys/delete` (a Windows Hello key, confirmed).
pub async fn delete_key(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, id, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::KEY_DELETE,
        &f.key_id,
        "Windows Hello key",
    )
    .await?;
    let key = state
        .storage
        .list_keys(&state.tenant.id, None)
        .await?
        .into_iter()
        .find(|k| k.key_id == id)
        .ok_or(PageError(ApiError::AdminObjectNotFound(
            "Windows Hello key",
        )))?;
    if !f.confirmed() {
        return Ok(confirm_page(&who, KEYS, Confirm {
            title: "Delete this Windows Hello key?",
            what: format!(
                "{} can no longer sign in with this key on device <code>{}</code>; they set up Windows Hello again there (<code>latchkey hello setup</code>).",
                esc(&key.upn), esc(&key.device_id)
            ),
            path: "/admin/keys/delete",
            field: "key_id",
            value: &key.key_id,
            button: "Delete",
            back: KEYS,
            extra: vec![],
        }).into_response());
    }
    if !state
        .storage
        .delete_key(&state.tenant.id, &key.key_id, &line.key(&key.key_id))
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound(
            "Windows Hello key",
        )));
    }
    Ok(see_other(KEYS, vec![]))
}

/// `POST /admin/security-keys/delete` (confirmed).
pub async fn delete_security_key(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, id, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::SECURITY_KEY_DELETE,
        &f.credential_id,
        "security key",
    )
    .await?;
    let listing = state
        .web
        .list_security_keys(&state.tenant.id, None)
        .await?
        .into_iter()
        .find(|l| l.key.credential_id == id)
        .ok_or(PageError(ApiError::AdminObjectNotFound("security key")))?;
    if !f.confirmed() {
        return Ok(confirm_page(
            &who,
            SECURITY_KEYS,
            Confirm {
                title: "Delete this security key?",
                what: format!(
                    "{} can no longer sign in with the security key <strong>{}</strong>.",
                    esc(&listing.upn),
                    esc(&listing.key.name)
                ),
                path: "/admin/security-keys/delete",
                field: "credential_id",
                value: &listing.key.credential_id,
                button: "Delete",
                back: SECURITY_KEYS,
                extra: vec![],
            },
        )
        .into_response());
    }
    if !state
        .web
        .delete_security_key(&state.tenant.id, None, &id, &line.key(&id))
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("security key")));
    }
    Ok(see_other(SECURITY_KEYS, vec![]))
}

/// `POST /admin/certificates/revoke` (confirmed; reason `unspecified` unless given).
pub async fn revoke_certificate(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, serial, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::CERT_REVOKE,
        &f.serial,
        "certificate",
    )
    .await?;
    let cert = state
        .storage
        .certificate(&state.tenant.id, &serial)
        .await?
        .ok_or(PageError(ApiError::AdminObjectNotFound("certificate")))?;
    let reason = f.reason.as_deref().unwrap_or("unspecified");
    let (reason, _) = crl::parse_reason(reason).ok_or(PageError(ApiError::AdminObjectNotFound(
        "revocation reason",
    )))?;
    if !f.confirmed() {
        return Ok(confirm_page(&who, CERTIFICATES, Confirm {
            title: "Revoke this certificate?",
            what: format!(
                "Certificate <code>{}</code> of {} is put on the revocation list at once. This cannot be undone.",
                esc(&cert.serial), esc(cert.upn.as_deref().unwrap_or(&cert.subject))
            ),
            path: "/admin/certificates/revoke",
            field: "serial",
            value: &cert.serial,
            button: "Revoke",
            back: CERTIFICATES,
            extra: vec![("reason", reason.to_owned())],
        }).into_response());
    }
    let now = state.now();
    let line = line.note(format!("serial={} reason={reason}", cert.serial));
    match state
        .storage
        .revoke_certificate(&state.tenant.id, &cert.serial, reason, now, &line)
        .await?
    {
        RevokeOutcome::Revoked | RevokeOutcome::AlreadyRevoked => {}
        RevokeOutcome::NotFound => {
            return Err(PageError(ApiError::AdminObjectNotFound("certificate")))
        }
    }
    // The CRL is signed again at once, so relying parties see the revocation.
    crl::current(state.storage.as_ref(), &state.tenant.id, &state.pki, now).await?;
    Ok(see_other(CERTIFICATES, vec![]))
}
