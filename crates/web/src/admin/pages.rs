//! The read-only Administration pages: overview, devices, Windows Hello keys, security
//! keys, certificates, the effective policy and the audit log.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use latchkey_server::error::ApiError;
use latchkey_server::routes::web::PageError;
use latchkey_server::state::AppState;
use serde_json::Value;

use super::{action, admin_page, require_admin, table, SECTIONS};
use crate::html::{esc, when};
use crate::labels;

/// Most rows a list page shows (newest first where it matters); `latchkeyd` lists all.
pub const MAX_ROWS: i64 = 500;

/// An identifier in `<code>`.
pub(super) fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

/// `GET /admin`: counts and links to every section.
pub async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_admin(&state, &headers).await?;
    let counts = state.storage.counts(&state.tenant.id).await?;
    let items: String = SECTIONS
        .iter()
        .skip(1)
        .map(|(path, name)| format!("<li><a href=\"{path}\">{name}</a></li>"))
        .collect();
    let main = format!(
        "<p>Tenant <strong>{}</strong>: {} users, {} devices, {} Windows Hello keys.</p><ul class=\"cards\">{items}</ul>",
        esc(&state.tenant.name),
        counts.users,
        counts.devices,
        counts.keys
    );
    Ok(admin_page("Administration", "/admin", &who, &main))
}

/// `GET /admin/security-keys`.
pub async fn security_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_admin(&state, &headers).await?;
    let csrf = &who.session.csrf;
    let rows: Vec<Vec<String>> = state
        .web
        .list_security_keys(&state.tenant.id, None)
        .await?
        .into_iter()
        .take(MAX_ROWS as usize)
        .map(|l| {
            let k = l.key;
            vec![
                esc(&k.name),
                esc(&l.upn),
                code(&k.aaguid),
                esc(&k.format),
                if k.trusted_root { "Yes" } else { "No" }.to_owned(),
                k.last_used_at.map(when).unwrap_or_else(|| "Never".into()),
                action(
                    csrf,
                    "/admin/security-keys/delete",
                    "credential_id",
                    &k.credential_id,
                    "Delete",
                    &k.name,
                ),
            ]
        })
        .collect();
    let main = table(
        "security-keys",
        "Security keys",
        &[
            "Name",
            "User",
            "Model (AAGUID)",
            "Attestation",
            "Trusted maker",
            "Last used",
            "Actions",
        ],
        &rows,
        "No security keys yet.",
    );
    Ok(admin_page(
        "Security keys",
        "/admin/security-keys",
        &who,
        &main,
    ))
}

/// `GET /admin/certificates`.
pub async fn certificates(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_admin(&state, &headers).await?;
    let csrf = &who.session.csrf;
    let rows: Vec<Vec<String>> = state
        .storage
        .list_certificates(&state.tenant.id, None, Some(MAX_ROWS))
        .await?
        .into_iter()
        .map(|c| {
            let state_text = match (&c.state[..], &c.reason) {
                ("revoked", Some(reason)) => format!("Revoked ({reason})"),
                ("revoked", None) => "Revoked".to_owned(),
                ("valid", _) => "Valid".to_owned(),
                (other, _) => other.to_owned(),
            };
            let act = if c.state == "revoked" {
                String::new()
            } else {
                action(
                    csrf,
                    "/admin/certificates/revoke",
                    "serial",
                    &c.serial,
                    "Revoke",
                    &c.serial,
                )
            };
            vec![
                code(&c.serial),
                esc(c.upn.as_deref().unwrap_or(&c.subject)),
                esc(c.device_id.as_deref().unwrap_or("")),
                esc(&c.template),
                when(c.not_before),
                when(c.not_after),
                esc(&state_text),
                act,
            ]
        })
        .collect();
    let main = table(
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
            "Actions",
        ],
        &rows,
        "No certificates issued yet.",
    );
    Ok(admin_page(
        "Certificates",
        "/admin/certificates",
        &who,
        &main,
    ))
}

/// Rows of `(setting, value, where from)` of the effective policy's JSON.
fn policy_rows(prefix: &str, value: &Value, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) if map.contains_key("value") => {
            let shown = match map.get("value") {
                Some(Value::Bool(true)) => "On".to_owned(),
                Some(Value::Bool(false)) => "Off".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            let source = map
                .get("source")
                .map(|s| match s {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            out.push(vec![esc(prefix), esc(&shown), esc(&source)]);
        }
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix} / {k}")
                };
                policy_rows(&name, v, out);
            }
        }
        other => out.push(vec![esc(prefix), esc(&other.to_string()), String::new()]),
    }
}

/// `GET /admin/policy`: the tenant-wide effective policy, read-only (change it with
/// `latchkeyd policy`).
pub async fn policy(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_admin(&state, &headers).await?;
    let report = latchkey_server::policy::effective::effective(
        state.storage.as_ref(),
        &state.tenant.id,
        None,
        None,
    )
    .await
    .map_err(ApiError::from)?;
    let json =
        serde_json::to_value(&report.policy).map_err(|e| PageError(ApiError::internal(e)))?;
    let mut rows = Vec::new();
    policy_rows("", &json, &mut rows);
    let main = format!(
        "<p>What is in force for the whole tenant (policy version {}); groups and Group Policy \
         objects can change it for some users and devices. Change it with <code>latchkeyd policy</code>.</p>{}",
        report.version,
        table("policy", "Effective policy", &["Setting", "Value", "Set by"], &rows, "No settings.")
    );
    Ok(admin_page("Policy", "/admin/policy", &who, &main))
}

/// `GET /admin/audit`: the latest 100 lines.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let who = require_admin(&state, &headers).await?;
    let rows: Vec<Vec<String>> = state
        .web
        .audit_latest(&state.tenant.id, 100)
        .await?
        .into_iter()
        .map(|a| {
            vec![
                when(a.at),
                esc(&labels::event(&a.event)),
                esc(a.actor.as_deref().unwrap_or("")),
                esc(labels::outcome(&a.outcome)),
                esc(a.reason.as_deref().unwrap_or("")),
                esc(a.source.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let main = table(
        "audit",
        "Audit log (latest 100)",
        &["When", "What", "Who", "Outcome", "Reason", "From"],
        &rows,
        "Nothing recorded yet.",
    );
    Ok(admin_page("Audit log", "/admin/audit", &who, &main))
}
