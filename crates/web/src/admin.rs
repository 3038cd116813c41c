//! The Administration page (members of `latchkey-admins`): users, devices, Hello keys,
//! security keys and the audit trail; disable a device, delete a key.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use serde::Deserialize;

use super::{check_csrf, is_admin, require_session, see_other, Form, PageError, SignedIn};
use crate::html::{esc, page as layout, when};
use latchkey_server::audit::{self, event};
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::ClientAddr;
use latchkey_server::state::AppState;
use latchkey_server::storage::AuditRecord;

async fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, PageError> {
    let who = require_session(state, headers).await?;
    if !is_admin(state, &who.user.upn).await? {
        return Err(PageError(ApiError::AdminRequired));
    }
    Ok(who)
}

fn action(csrf: &str, path: &str, field: &str, value: &str, label: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{path}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{}\"><button type=\"submit\">{label}</button></form>",
        esc(csrf),
        esc(value)
    )
}

fn table(id: &str, caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let head: String = head
        .iter()
        .map(|h| format!("<th scope=\"col\">{h}</th>"))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr>{}</tr>",
                r.iter()
                    .map(|c| format!("<td>{c}</td>"))
                    .collect::<String>()
            )
        })
        .collect();
    format!("<section><h2>{caption}</h2><table id=\"{id}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>")
}

/// Most certificates the page lists (newest first); `latchkeyd cert list` has them all.
const MAX_CERTIFICATE_ROWS: i64 = 500;

/// The routes of the Administration pages.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin", get(page))
        .route("/admin/devices/disable", post(disable_device))
        .route("/admin/keys/delete", post(delete_key))
        .route("/admin/security-keys/delete", post(delete_security_key))
}

/// `GET /admin`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_admin(&state, &headers).await?;
    let t = &state.tenant.id;
    let csrf = who.session.csrf.clone();
    let users: Vec<Vec<String>> = state
        .storage
        .list_users(t)
        .await?
        .into_iter()
        .map(|u| {
            vec![
                esc(&u.upn),
                esc(&u.display_name),
                if u.disabled {
                    "disabled".into()
                } else {
                    "active".into()
                },
                when(u.created_at),
            ]
        })
        .collect();
    let devices: Vec<Vec<String>> = state
        .storage
        .list_devices(t)
        .await?
        .into_iter()
        .map(|d| {
            let act = if d.disabled {
                String::new()
            } else {
                action(
                    &csrf,
                    "/admin/devices/disable",
                    "device_id",
                    &d.id,
                    &format!("Disable {}", esc(&d.display_name)),
                )
            };
            vec![
                esc(&d.display_name),
                format!("<code>{}</code>", esc(&d.id)),
                esc(&d.join_type),
                esc(&d.owner),
                if d.disabled {
                    "disabled".into()
                } else {
                    "active".into()
                },
                act,
            ]
        })
        .collect();
    let hello: Vec<Vec<String>> = crate::keys::key_reports(&state, None)
        .await?
        .into_iter()
        .map(|r| {
            let k = r.key;
            let attestation = match &k.tpm_manufacturer {
                Some(m) => format!("{} ({})", esc(&k.attestation), esc(m)),
                None => esc(&k.attestation),
            };
            let attestation = if r.flagged_software {
                format!("{attestation} <strong>software key; the policy requires a security device</strong>")
            } else {
                attestation
            };
            vec![
                format!("<code>{}</code>", esc(&k.key_id)),
                esc(&k.upn),
                format!("<code>{}</code>", esc(&k.device_id)),
                esc(&k.alg),
                attestation,
                action(&csrf, "/admin/keys/delete", "key_id", &k.key_id, "Delete"),
            ]
        })
        .collect();
    let sks: Vec<Vec<String>> = state
        .web
        .list_security_keys(t, None)
        .await?
        .into_iter()
        .map(|l| {
            let k = l.key;
            vec![
                esc(&k.name),
                esc(&l.upn),
                format!("<code>{}</code>", esc(&k.aaguid)),
                esc(&k.format),
                if k.trusted_root {
                    "yes".into()
                } else {
                    "no".into()
                },
                k.sign_count.to_string(),
                action(
                    &csrf,
                    "/admin/security-keys/delete",
                    "credential_id",
                    &k.credential_id,
                    &format!("Delete {}", esc(&k.name)),
                ),
            ]
        })
        .collect();
    let certificates: Vec<Vec<String>> = state
        .storage
        .list_certificates(t, None, Some(MAX_CERTIFICATE_ROWS))
        .await?
        .into_iter()
        .map(|c| {
            let state_text = match (&c.state[..], &c.reason) {
                ("revoked", Some(reason)) => format!("revoked ({reason})"),
                (other, _) => other.to_owned(),
            };
            vec![
                esc(&c.serial),
                esc(c.upn.as_deref().unwrap_or(&c.subject)),
                esc(c.device_id.as_deref().unwrap_or("")),
                esc(&c.template),
                when(c.not_before),
                when(c.not_after),
                esc(&state_text),
            ]
        })
        .collect();
    let audit: Vec<Vec<String>> = state
        .web
        .audit_latest(t, 100)
        .await?
        .into_iter()
        .map(|a| {
            vec![
                when(a.at),
                esc(&a.event),
                esc(a.actor.as_deref().unwrap_or("")),
                esc(&a.outcome),
                esc(a.reason.as_deref().unwrap_or("")),
                esc(a.source.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let main = [
        table(
            "users",
            "Users",
            &["UPN", "Name", "State", "Created"],
            &users,
        ),
        table(
            "devices",
            "Devices",
            &["Name", "Id", "Join type", "Owner", "State", "Action"],
            &devices,
        ),
        table(
            "hello-keys",
            "Hello keys",
            &[
                "Key id",
                "User",
                "Device",
                "Algorithm",
                "Attestation",
                "Action",
            ],
            &hello,
        ),
        table(
            "security-keys",
            "Security keys",
            &[
                "Name",
                "User",
                "AAGUID",
                "Attestation",
                "Trusted root",
                "Counter",
                "Action",
            ],
            &sks,
        ),
        table(
            "certificates",
            "Certificates (latest 500)",
            &[
                "Serial",
                "User",
                "Device",
                "Template",
                "Not before",
                "Not after",
                "State",
            ],
            &certificates,
        ),
        table(
            "audit",
            "Audit log (latest 100)",
            &["When", "Event", "Actor", "Outcome", "Reason", "From"],
            &audit,
        ),
    ]
    .concat();
    Ok(layout("Administration", Some(&who), true, &csrf, &main))
}

/// An administrator's action form.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    /// Missing is empty, which never matches: refused with LK-WEB-001 like a wrong token.
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    credential_id: Option<String>,
}

fn field(v: &Option<String>, name: &'static str) -> Result<String, PageError> {
    v.clone()
        .filter(|s| !s.is_empty())
        .ok_or(PageError(ApiError::InvalidField(name)))
}

/// What every administration form checks first: an administrator's session, its
/// anti-forgery token, and the form's non-empty `name` field. Returns that id and the audit
/// line for `event`, with the administrator and the source address filled in.
async fn admin_action(
    state: &AppState,
    headers: &HeaderMap,
    addr: &ClientAddr,
    f: &ActionForm,
    event: &str,
    value: &Option<String>,
    name: &'static str,
) -> Result<(String, AuditRecord), PageError> {
    let who = require_admin(state, headers).await?;
    check_csrf(&who.session.csrf, &f.csrf)?;
    let id = field(value, name)?;
    let line = audit::line(event, state.now())
        .actor(&who.user.upn)
        .source(addr.ip());
    Ok((id, line))
}

/// `POST /admin/devices/disable`.
pub async fn disable_device(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (id, line) = admin_action(
        &state,
        &headers,
        &addr,
        &f,
        event::DEVICE_DISABLE,
        &f.device_id,
        "device_id",
    )
    .await?;
    let line = line.device(&id);
    if !state
        .storage
        .disable_device(&state.tenant.id, &id, &line)
        .await?
    {
        return Err(PageError(ApiError::DeviceNotFound));
    }
    Ok(see_other("/admin", vec![]))
}

/// `POST /admin/keys/delete` (a Hello key).
pub async fn delete_key(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (id, line) = admin_action(
        &state,
        &headers,
        &addr,
        &f,
        event::KEY_DELETE,
        &f.key_id,
        "key_id",
    )
    .await?;
    let line = line.key(&id);
    if !state
        .storage
        .delete_key(&state.tenant.id, &id, &line)
        .await?
    {
        return Err(PageError(ApiError::KeyNotFound));
    }
    Ok(see_other("/admin", vec![]))
}

/// `POST /admin/security-keys/delete`.
pub async fn delete_security_key(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (id, line) = admin_action(
        &state,
        &headers,
        &addr,
        &f,
        event::SECURITY_KEY_DELETE,
        &f.credential_id,
        "credential_id",
    )
    .await?;
    let line = line.key(&id);
    if !state
        .web
        .delete_security_key(&state.tenant.id, None, &id, &line)
        .await?
    {
        return Err(PageError(ApiError::SecurityKeyNotFound));
    }
    Ok(see_other("/admin", vec![]))
}
