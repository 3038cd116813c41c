//! The Devices and Windows Hello keys pages: a page at a time in id order, all of the
//! tenant's or one owner's, by keyset pagination on the storage's keys and indexes
//! (`DirectoryAdmin::devices_page`, `keys_page`), so that a page costs the same with
//! 100,000 devices as with ten.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use latchkey_server::error::ApiError;
use latchkey_server::key_report::judge;
use latchkey_server::routes::web::PageError;
use latchkey_server::state::AppState;
use serde::Deserialize;

use super::pages::code;
use super::{action, admin_page, require_admin, state_label, table};
use crate::html::{esc, when};
use crate::labels;

/// Rows per page.
pub const PAGE_SIZE: i64 = 50;

/// The query of a paged list: `?owner=UPN&after=ID`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Only this user's (their UPN).
    #[serde(default)]
    owner: Option<String>,
    /// The last id of the previous page.
    #[serde(default)]
    after: Option<String>,
}

impl PageQuery {
    fn owner(&self) -> Option<String> {
        Some(self.owner.as_deref()?.trim().to_lowercase()).filter(|o| !o.is_empty())
    }

    fn after(&self) -> Option<&str> {
        self.after
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
    }
}

/// The owner search form, then the first/next page links (`last` is the last id shown
/// when the page is full).
fn search_and_pager(
    here: &str,
    owner: Option<&str>,
    after: Option<&str>,
    last: Option<&str>,
) -> String {
    let owner = owner.unwrap_or("");
    let mut pager = String::new();
    if after.is_some() {
        let first = serde_urlencoded::to_string([("owner", owner)]).unwrap_or_default();
        pager.push_str(&format!(
            "<a href=\"{here}?{}\">First page</a> ",
            esc(&first)
        ));
    }
    if let Some(last) = last {
        let next =
            serde_urlencoded::to_string([("owner", owner), ("after", last)]).unwrap_or_default();
        pager.push_str(&format!(
            "<a id=\"next-page\" href=\"{here}?{}\">Next page</a>",
            esc(&next)
        ));
    }
    format!(
        "<form class=\"search\" method=\"get\" action=\"{here}\" role=\"search\">\
         <label for=\"owner\">Owner (user name)</label> <input id=\"owner\" name=\"owner\" \
         type=\"search\" value=\"{}\" autocomplete=\"off\"> <button type=\"submit\">Show</button>\
         </form><p class=\"pager\">{pager}</p>",
        esc(owner)
    )
}

/// The last id of a full page, for its "Next page" link.
fn last_if_full<T>(rows: &[T], id: impl Fn(&T) -> &str) -> Option<String> {
    if rows.len() as i64 == PAGE_SIZE {
        rows.last().map(|r| id(r).to_owned())
    } else {
        None
    }
}

/// `GET /admin/devices?owner=UPN&after=ID`.
pub async fn devices(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, PageError> {
    const HERE: &str = "/admin/devices";
    let who = require_admin(&state, &headers).await?;
    let csrf = &who.session.csrf;
    let owner = query.owner();
    let devices = state
        .directory
        .devices_page(&state.tenant.id, owner.as_deref(), query.after(), PAGE_SIZE)
        .await?;
    let last = last_if_full(&devices, |d| &d.id);
    let rows: Vec<Vec<String>> = devices
        .into_iter()
        .map(|d| {
            let (path, label) = if d.disabled {
                ("/admin/devices/enable", "Enable")
            } else {
                ("/admin/devices/disable", "Disable")
            };
            let toggle = action(csrf, path, "device_id", &d.id, label, &d.display_name);
            let delete = action(
                csrf,
                "/admin/devices/delete",
                "device_id",
                &d.id,
                "Delete",
                &d.display_name,
            );
            vec![
                esc(&d.display_name),
                code(&d.id),
                esc(&d.os),
                esc(labels::join_type(&d.join_type)),
                esc(&d.owner),
                d.last_activity.map(when).unwrap_or_else(|| "Never".into()),
                state_label(d.disabled).to_owned(),
                format!("{toggle} {delete}"),
            ]
        })
        .collect();
    let main = format!(
        "{}{}",
        search_and_pager(HERE, owner.as_deref(), query.after(), last.as_deref()),
        table(
            "devices",
            "Devices",
            &[
                "Name",
                "Id",
                "Operating system",
                "Join type",
                "Owner",
                "Last activity",
                "State",
                "Actions",
            ],
            &rows,
            "No devices here.",
        )
    );
    Ok(admin_page("Devices", HERE, &who, &main))
}

/// `GET /admin/keys?owner=UPN&after=ID`: Windows Hello keys, each software key flagged
/// when the effective policy of its device and user requires a security device.
pub async fn hello_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, PageError> {
    const HERE: &str = "/admin/keys";
    let who = require_admin(&state, &headers).await?;
    let csrf = &who.session.csrf;
    let owner = query.owner();
    let keys = state
        .directory
        .keys_page(&state.tenant.id, owner.as_deref(), query.after(), PAGE_SIZE)
        .await?;
    let last = last_if_full(&keys, |k| &k.key_id);
    let reports = judge(state.storage.as_ref(), &state.tenant.id, keys)
        .await
        .map_err(ApiError::from)?;
    let rows: Vec<Vec<String>> = reports
        .into_iter()
        .map(|r| {
            let k = r.key;
            let mut protection = esc(labels::attestation(&k.attestation));
            if let Some(m) = &k.tpm_manufacturer {
                protection.push_str(&format!(" ({})", esc(m)));
            }
            if r.flagged_software {
                protection.push_str(
                    " <strong>software key; the policy requires a security device</strong>",
                );
            }
            vec![
                code(&k.key_id),
                esc(&k.upn),
                code(&k.device_id),
                esc(&k.alg),
                protection,
                action(
                    csrf,
                    "/admin/keys/delete",
                    "key_id",
                    &k.key_id,
                    "Delete",
                    &k.key_id,
                ),
            ]
        })
        .collect();
    let main = format!(
        "{}{}",
        search_and_pager(HERE, owner.as_deref(), query.after(), last.as_deref()),
        table(
            "hello-keys",
            "Windows Hello keys",
            &[
                "Key id",
                "User",
                "Device",
                "Algorithm",
                "Protection",
                "Actions",
            ],
            &rows,
            "No Windows Hello keys here.",
        )
    );
    Ok(admin_page("Windows Hello keys", HERE, &who, &main))
}
