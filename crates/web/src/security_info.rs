//! The user's own Security info page: security keys (add, rename, remove), devices and
//! their Hello keys, recent sign-ins.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use serde::Deserialize;

use super::{check_csrf, is_admin, require_session, see_other, Form, PageError};
use crate::html::{esc, page as layout, when};
use crate::seckey::MAX_KEYS_PER_USER;
use latchkey_server::audit::{self, event};
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::ClientAddr;
use latchkey_server::state::AppState;

/// Audit events shown as sign-ins.
const SIGNIN_EVENTS: &[&str] = &[
    event::WEB_SIGNIN,
    event::SECURITY_KEY_SIGNIN,
    event::SIGNIN,
    event::PASSWORD_SIGNIN,
    event::SECURITY_KEY_CLONE,
];

/// `GET /security-info`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_session(&state, &headers).await?;
    let tenant = &state.tenant.id;
    let csrf = esc(&who.session.csrf);
    let keys = state
        .web
        .list_security_keys(tenant, Some(&who.user.id))
        .await?;
    let mut rows = String::new();
    for k in &keys {
        let k = &k.key;
        let id = esc(&k.credential_id);
        rows.push_str(&format!(
            "<tr><td>{name}</td><td><code>{aaguid}</code></td><td>{fmt}</td><td>{root}</td><td>{added}</td><td>{used}</td>\
             <td><form class=\"inline\" method=\"post\" action=\"/security-info/keys/rename\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"credential_id\" value=\"{id}\">\
             <label>New name <input type=\"text\" name=\"name\" value=\"{name}\" maxlength=\"64\" required></label>\
             <button type=\"submit\">Rename</button></form> \
             <form class=\"inline\" method=\"post\" action=\"/security-info/keys/remove\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"credential_id\" value=\"{id}\">\
             <button type=\"submit\" aria-label=\"Remove {name}\">Remove</button></form></td></tr>",
            name = esc(&k.name),
            aaguid = esc(&k.aaguid),
            fmt = esc(&k.format),
            root = if k.trusted_root { "yes" } else { "no" },
            added = when(k.created_at),
            used = k.last_used_at.map(when).unwrap_or_else(|| "never".into()),
        ));
    }
    let keys_table = if keys.is_empty() {
        "<p id=\"no-keys\">You have no security keys yet.</p>".to_owned()
    } else {
        format!(
            "<div class=\"table-scroll\" role=\"region\" aria-label=\"Security keys\" tabindex=\"0\"><table id=\"security-keys\"><caption>{} of {MAX_KEYS_PER_USER} security keys</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">AAGUID</th>\
             <th scope=\"col\">Attestation</th><th scope=\"col\">Trusted root</th><th scope=\"col\">Added</th><th scope=\"col\">Last used</th><th scope=\"col\">Actions</th></tr></thead><tbody>{rows}</tbody></table></div>",
            keys.len()
        )
    };
    let devices = my_devices(&state, &who.user.upn).await?;
    let hello = state.directory.keys_of(tenant, &who.user.upn).await?;
    let mut device_rows = String::new();
    for d in devices
        .iter()
        .filter(|d| shown_as_mine(d, &who.user.upn, &hello))
    {
        let keys_here: Vec<String> = hello
            .iter()
            .filter(|k| k.device_id == d.id)
            .map(|k| {
                format!(
                    "{} {} ({})",
                    esc(&k.alg),
                    esc(&k.attestation),
                    esc(&k.key_id[..k.key_id.len().min(16)])
                )
            })
            .collect();
        device_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.display_name),
            esc(crate::labels::join_type(&d.join_type)),
            if d.disabled { "disabled" } else { "active" },
            if keys_here.is_empty() {
                "none".to_owned()
            } else {
                keys_here.join("<br>")
            },
            when(d.created_at)
        ));
    }
    if device_rows.is_empty() {
        device_rows.push_str(
            "<tr><td colspan=\"5\" id=\"no-devices\">No devices hold a Hello key of yours yet.</td></tr>",
        );
    }
    let mut cert_rows = String::new();
    for c in state
        .storage
        .list_certificates(tenant, Some(&who.user.upn), Some(50))
        .await?
    {
        cert_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.serial),
            esc(&c.template),
            esc(c.device_id.as_deref().unwrap_or("")),
            when(c.not_after),
            esc(&c.state)
        ));
    }
    if cert_rows.is_empty() {
        cert_rows.push_str(
            "<tr><td colspan=\"5\" id=\"no-certificates\">You have no certificates.</td></tr>",
        );
    }
    let audit = state.web.audit_of(tenant, &who.user.upn, 200).await?;
    let mut signins = String::new();
    for a in audit
        .iter()
        .filter(|a| SIGNIN_EVENTS.contains(&a.event.as_str()))
        .take(20)
    {
        signins.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(a.at),
            esc(&crate::labels::event(&a.event)),
            esc(crate::labels::outcome(&a.outcome)),
            esc(a.reason.as_deref().unwrap_or("")),
            esc(a.source.as_deref().unwrap_or(""))
        ));
    }
    if signins.is_empty() {
        signins.push_str("<tr><td colspan=\"5\" id=\"no-signins\">No sign-ins yet.</td></tr>");
    }
    let recovery = latchkey_server::policy::effective::effective(
        state.storage.as_ref(),
        tenant,
        None,
        Some(&who.user.upn),
    )
    .await
    .map_err(ApiError::from)?
    .policy
    .enable_pin_recovery
    .value;
    let pin_help = forgot_pin_section(recovery);
    let main = format!(
        "{pin_help}<section aria-labelledby=\"sk-h\"><h2 id=\"sk-h\">Security keys</h2>{keys_table}\
         <h3>Add a security key</h3><p>You will be asked to touch the key and enter its PIN.</p>\
         <label for=\"key-name\">Name for the new key</label><input type=\"text\" id=\"key-name\" maxlength=\"64\" value=\"Security key\">\
         <button type=\"button\" id=\"add-key\">Add security key</button>\
         <p role=\"status\" id=\"key-status\" aria-live=\"polite\"></p></section>\
         <section aria-labelledby=\"dev-h\"><h2 id=\"dev-h\">Devices and Hello keys</h2>\
         <div class=\"table-scroll\" role=\"region\" aria-label=\"Devices\" tabindex=\"0\"><table id=\"devices\"><thead><tr><th scope=\"col\">Device</th><th scope=\"col\">Join type</th><th scope=\"col\">State</th><th scope=\"col\">Hello keys</th><th scope=\"col\">Joined</th></tr></thead><tbody>{device_rows}</tbody></table></div></section>\
         <section aria-labelledby=\"cert-h\"><h2 id=\"cert-h\">Certificates</h2>\
         <div class=\"table-scroll\" role=\"region\" aria-label=\"Certificates\" tabindex=\"0\"><table id=\"certificates\"><thead><tr><th scope=\"col\">Serial</th><th scope=\"col\">Template</th><th scope=\"col\">Device</th><th scope=\"col\">Valid until</th><th scope=\"col\">State</th></tr></thead><tbody>{cert_rows}</tbody></table></div></section>\
         <section aria-labelledby=\"si-h\"><h2 id=\"si-h\">Recent sign-ins</h2>\
         <div class=\"table-scroll\" role=\"region\" aria-label=\"Signins\" tabindex=\"0\"><table id=\"signins\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">How</th><th scope=\"col\">Outcome</th><th scope=\"col\">Detail</th><th scope=\"col\">From</th></tr></thead><tbody>{signins}</tbody></table></div></section>"
    );
    let admin = is_admin(&state, &who.user.upn).await?;
    Ok(layout(
        "Security info",
        Some(&who),
        admin,
        &who.session.csrf,
        &main,
    ))
}

/// What a user who forgot their Hello PIN should do (docs/pin-reset.md), as the policy for
/// them says (`EnablePinRecovery`; a device's own policy can still differ).
fn forgot_pin_section(recovery: bool) -> String {
    let outcome = if recovery {
        "Your organisation allows PIN recovery: your Hello key stays the same, so nothing \
         else needs to be set up again."
    } else {
        "A new Hello key will be made on that device and the old one removed: anything that \
         trusted the old key (a certificate, for example) is renewed with the new one."
    };
    format!(
        "<section aria-labelledby=\"pin-h\" id=\"forgot-pin\"><h2 id=\"pin-h\">Forgot your Hello PIN?</h2>\
         <p>On the device, run <code>latchkey pin reset</code>. You will be asked for your \
         password, a code from your authenticator app, and a new PIN.</p><p>{outcome}</p></section>"
    )
}

/// The rename and remove forms.
#[derive(Debug, Deserialize)]
pub struct KeyForm {
    /// Missing is empty, which never matches: refused with LK-WEB-001 like a wrong token.
    #[serde(default)]
    csrf: String,
    credential_id: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /security-info/keys/rename`.
pub async fn rename(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Result<Response, PageError> {
    let who = require_session(&state, &headers).await?;
    check_csrf(&who.session.csrf, &form.csrf)?;
    let name = form.name.as_deref().unwrap_or("").trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(PageError(ApiError::InvalidField("name")));
    }
    let line = audit::line(event::SECURITY_KEY_RENAME, state.now())
        .actor(&who.user.upn)
        .source(addr.ip())
        .key(&form.credential_id)
        .note(name.clone());
    if !state
        .web
        .rename_security_key(
            &state.tenant.id,
            Some(&who.user.id),
            &form.credential_id,
            &name,
            &line,
        )
        .await?
    {
        return Err(PageError(ApiError::SecurityKeyNotFound));
    }
    Ok(see_other("/security-info", vec![]))
}

/// `POST /security-info/keys/remove`.
pub async fn remove(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Result<Response, PageError> {
    let who = require_session(&state, &headers).await?;
    check_csrf(&who.session.csrf, &form.csrf)?;
    let line = audit::line(event::SECURITY_KEY_DELETE, state.now())
        .actor(&who.user.upn)
        .source(addr.ip())
        .key(&form.credential_id);
    if !state
        .web
        .delete_security_key(
            &state.tenant.id,
            Some(&who.user.id),
            &form.credential_id,
            &line,
        )
        .await?
    {
        return Err(PageError(ApiError::SecurityKeyNotFound));
    }
    Ok(see_other("/security-info", vec![]))
}

/// Whether `device` is listed among `upn`'s devices: one that holds a Hello key of the user,
/// or a cloud-joined or registered device the user joined. A domain-joined (hybrid) device
/// appears only once it holds a Hello key of the user, as the seed notes.
/// The devices the user owns, and those they have a Hello key on, in the order they
/// joined: index lookups for this user only, however many devices the tenant has.
async fn my_devices(
    state: &AppState,
    upn: &str,
) -> Result<Vec<latchkey_server::storage::DeviceListing>, ApiError> {
    let tenant = &state.tenant.id;
    let mut devices = state.directory.devices_of(tenant, upn).await?;
    for k in state.directory.keys_of(tenant, upn).await? {
        if devices.iter().any(|d| d.id == k.device_id) {
            continue;
        }
        let (Some(d), Some(owner)) = (
            state.storage.device(tenant, &k.device_id).await?,
            state.storage.device_owner(tenant, &k.device_id).await?,
        ) else {
            continue;
        };
        devices.push(latchkey_server::storage::DeviceListing {
            id: d.id,
            display_name: d.display_name,
            os: d.os,
            join_type: d.join_type,
            owner,
            joined_with_mfa: d.joined_with_mfa,
            cert_thumbprint: d.cert_thumbprint,
            disabled: d.disabled,
            created_at: d.created_at,
            last_activity: None,
        });
    }
    devices.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(devices)
}

fn shown_as_mine(
    device: &latchkey_server::storage::DeviceListing,
    upn: &str,
    hello: &[latchkey_server::storage::KeyListing],
) -> bool {
    hello.iter().any(|k| k.device_id == device.id)
        || (device.owner == upn && device.join_type != "hybrid")
}
