//! The Administration pages (members of `latchkey-admins`): an overview, users (search by
//! UPN prefix, keyset pagination, add, disable and enable, reset MFA), devices, Windows
//! Hello keys, security keys, certificates, the effective policy (read-only) and the audit
//! trail.
//!
//! Every destructive action (delete, disable, revoke, reset MFA) asks first: its form posts
//! without `confirm=yes`, which answers a confirmation page (no script needed) whose form
//! posts the same fields again with `confirm=yes`; its Cancel link goes back to the list.
//! Every action checks the administrator's session and anti-forgery token first, answers
//! an unknown id with 404 (LK-WEB-004), writes in one transaction with its audit line
//! naming the administrator and the source address.

mod actions;
mod paged;
mod pages;
mod users;

use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use latchkey_server::audit;
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::ClientAddr;
use latchkey_server::routes::web::PageError;
use latchkey_server::state::AppState;
use latchkey_server::storage::AuditRecord;
use serde::Deserialize;

use crate::html::{esc, page as layout};
use crate::session::{check_csrf, is_admin, require_session, SignedIn};

/// The routes of the Administration pages; anything else under `/admin` is the HTML 404.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/users", get(users::list))
        .route("/admin/users/add", post(users::add))
        .route("/admin/users/disable", post(users::disable))
        .route("/admin/users/enable", post(users::enable))
        .route("/admin/users/reset-mfa", post(users::reset_mfa))
        .route("/admin/devices", get(paged::devices))
        .route("/admin/devices/disable", post(actions::disable_device))
        .route("/admin/devices/enable", post(actions::enable_device))
        .route("/admin/devices/delete", post(actions::delete_device))
        .route("/admin/keys", get(paged::hello_keys))
        .route("/admin/keys/delete", post(actions::delete_key))
        .route("/admin/security-keys", get(pages::security_keys))
        .route(
            "/admin/security-keys/delete",
            post(actions::delete_security_key),
        )
        .route("/admin/certificates", get(pages::certificates))
        .route(
            "/admin/certificates/revoke",
            post(actions::revoke_certificate),
        )
        .route("/admin/policy", get(pages::policy))
        .route("/admin/audit", get(pages::audit))
}

/// The signed-in administrator, or LK-WEB-002 / LK-WEB-003.
pub async fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, PageError> {
    let who = require_session(state, headers).await?;
    if !is_admin(state, &who.user.upn).await? {
        return Err(PageError(ApiError::AdminRequired));
    }
    Ok(who)
}

/// The sections of the Administration pages: path, title.
const SECTIONS: [(&str, &str); 8] = [
    ("/admin", "Overview"),
    ("/admin/users", "Users"),
    ("/admin/devices", "Devices"),
    ("/admin/keys", "Windows Hello keys"),
    ("/admin/security-keys", "Security keys"),
    ("/admin/certificates", "Certificates"),
    ("/admin/policy", "Policy"),
    ("/admin/audit", "Audit log"),
];

/// An Administration page: the site's layout with the sections' navigation on top.
pub fn admin_page(title: &str, current: &str, who: &SignedIn, main: &str) -> Html<String> {
    let links: String = SECTIONS
        .iter()
        .map(|(path, name)| {
            let here = if *path == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a href=\"{path}\"{here}>{name}</a></li>")
        })
        .collect();
    let main = format!(
        "<nav aria-label=\"Administration\" class=\"sections\"><ul>{links}</ul></nav>{main}"
    );
    layout(title, Some(who), true, &who.session.csrf, &main)
}

/// A table that scrolls sideways on a narrow screen; `head` are column titles, `rows`
/// already escaped HTML cells. `empty` is shown when there are no rows.
pub fn table(id: &str, caption: &str, head: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let head: String = head
        .iter()
        .map(|h| format!("<th scope=\"col\">{h}</th>"))
        .collect();
    let body: String = if rows.is_empty() {
        format!(
            "<tr><td colspan=\"{}\">{}</td></tr>",
            head.matches("<th").count().max(1),
            esc(empty)
        )
    } else {
        rows.iter()
            .map(|r| {
                format!(
                    "<tr>{}</tr>",
                    r.iter()
                        .map(|c| format!("<td>{c}</td>"))
                        .collect::<String>()
                )
            })
            .collect()
    };
    format!(
        "<div class=\"table-scroll\" role=\"region\" aria-label=\"{cap}\" tabindex=\"0\">\
         <table id=\"{id}\"><caption>{cap}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
        cap = esc(caption)
    )
}

/// A one-button form posting `field=value` to `path` (the action's first step: without
/// `confirm`, it answers the confirmation page). `label` is the button's visible text,
/// `name` what it acts on (for screen readers).
pub fn action(csrf: &str, path: &str, field: &str, value: &str, label: &str, name: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{path}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{}\"><button type=\"submit\" aria-label=\"{label} {}\">{label}</button></form>",
        esc(csrf),
        esc(value),
        esc(name)
    )
}

/// What the confirmation page asks.
pub struct Confirm<'a> {
    /// The page's title ("Disable this device?").
    pub title: &'a str,
    /// What will happen, HTML (escaped by the caller).
    pub what: String,
    /// The action's path (the form posts there again).
    pub path: &'a str,
    /// The id field and its value.
    pub field: &'a str,
    /// The id.
    pub value: &'a str,
    /// The confirm button's text ("Disable").
    pub button: &'a str,
    /// Where Cancel goes.
    pub back: &'a str,
    /// Other fields to post again (already checked).
    pub extra: Vec<(&'a str, String)>,
}

/// The confirmation page of a destructive action: works without script (a form that posts
/// the same fields with `confirm=yes`, and a Cancel link that changes nothing).
pub fn confirm_page(who: &SignedIn, current: &str, c: Confirm<'_>) -> Html<String> {
    let extra: String = c
        .extra
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        .collect();
    let main = format!(
        "<section class=\"confirm\" aria-labelledby=\"confirm-title\"><h2 id=\"confirm-title\">{}</h2><p>{}</p>\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">{extra}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" id=\"confirm\" class=\"danger\">{}</button> \
         <a id=\"cancel\" class=\"button\" href=\"{}\">Cancel</a></form></section>",
        esc(c.title),
        c.what,
        c.path,
        esc(&who.session.csrf),
        c.field,
        esc(c.value),
        esc(c.button),
        c.back
    );
    admin_page("Please confirm", current, who, &main)
}

/// An administrator's action form: the anti-forgery token, the object's id (one of the id
/// fields), the confirmation and the fields of the add and revoke forms.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// Missing is empty, which never matches: refused with LK-WEB-001 like a wrong token.
    #[serde(default)]
    pub csrf: String,
    /// `yes` once confirmed.
    #[serde(default)]
    pub confirm: Option<String>,
    /// A user's UPN.
    #[serde(default)]
    pub upn: Option<String>,
    /// A user's display name (add).
    #[serde(default)]
    pub display_name: Option<String>,
    /// A user's first password (add).
    #[serde(default)]
    pub password: Option<String>,
    /// A device id.
    #[serde(default)]
    pub device_id: Option<String>,
    /// A Windows Hello key id.
    #[serde(default)]
    pub key_id: Option<String>,
    /// A security key's credential id.
    #[serde(default)]
    pub credential_id: Option<String>,
    /// A certificate's serial number.
    #[serde(default)]
    pub serial: Option<String>,
    /// A revocation reason.
    #[serde(default)]
    pub reason: Option<String>,
}

impl ActionForm {
    /// Whether the form is the confirmation page's.
    pub fn confirmed(&self) -> bool {
        self.confirm.as_deref() == Some("yes")
    }
}

/// The checks every action runs first: an administrator's session, its anti-forgery token,
/// and the non-empty id `value` (`what` names it in the error a person reads). Returns the
/// administrator, the id and the audit line for `event` with the administrator and the
/// source address filled in.
pub async fn prepare(
    state: &AppState,
    headers: &HeaderMap,
    addr: &ClientAddr,
    f: &ActionForm,
    event: &str,
    value: &Option<String>,
    what: &'static str,
) -> Result<(SignedIn, String, AuditRecord), PageError> {
    let who = require_admin(state, headers).await?;
    check_csrf(&who.session.csrf, &f.csrf)?;
    let id = value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(PageError(ApiError::AdminObjectNotFound(what)))?
        .to_owned();
    let line = audit::line(event, state.now())
        .actor(&who.user.upn)
        .source(addr.ip());
    Ok((who, id, line))
}

/// "active" or "disabled", as a person reads it.
pub fn state_label(disabled: bool) -> &'static str {
    if disabled {
        "Disabled"
    } else {
        "Active"
    }
}
