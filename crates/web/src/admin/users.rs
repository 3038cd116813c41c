//! The Users page: search by UPN prefix with keyset pagination (index-backed, see
//! `DirectoryAdmin::search_users`), add a user, disable and enable, reset MFA (the new
//! `otpauth://` URI and its QR code shown once).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_server::audit::event;
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::ClientAddr;
use latchkey_server::routes::web::PageError;
use latchkey_server::state::AppState;
use latchkey_server::storage::{StorageError, User};
use latchkey_server::{audit, password, totp};
use serde::Deserialize;

use super::{
    action, admin_page, confirm_page, prepare, require_admin, state_label, table, ActionForm,
    Confirm,
};
use crate::html::{esc, when};
use crate::qr;
use crate::session::{check_csrf, see_other, SignedIn};
use crate::Form;

/// Users per page.
pub const PAGE_SIZE: i64 = 50;
const HERE: &str = "/admin/users";

/// The query of the Users page.
#[derive(Debug, Default, Deserialize)]
pub struct UserQuery {
    /// UPN prefix.
    #[serde(default)]
    q: Option<String>,
    /// The last UPN of the previous page.
    #[serde(default)]
    after: Option<String>,
}

fn query_text(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap_or_default()
}

async fn render(
    state: &AppState,
    who: &SignedIn,
    query: &UserQuery,
    notice: &str,
) -> Result<String, PageError> {
    let prefix = query.q.as_deref().unwrap_or("").trim().to_lowercase();
    let after = query.after.as_deref().filter(|a| !a.is_empty());
    let users = state
        .directory
        .search_users(&state.tenant.id, &prefix, after, PAGE_SIZE)
        .await?;
    let csrf = &who.session.csrf;
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let toggle = if u.disabled {
                action(csrf, "/admin/users/enable", "upn", &u.upn, "Enable", &u.upn)
            } else {
                action(
                    csrf,
                    "/admin/users/disable",
                    "upn",
                    &u.upn,
                    "Disable",
                    &u.upn,
                )
            };
            let reset = action(
                csrf,
                "/admin/users/reset-mfa",
                "upn",
                &u.upn,
                "Reset MFA",
                &u.upn,
            );
            vec![
                esc(&u.upn),
                esc(&u.display_name),
                state_label(u.disabled).to_owned(),
                when(u.created_at),
                format!("{toggle} {reset}"),
            ]
        })
        .collect();
    let mut pager = String::new();
    if after.is_some() {
        pager.push_str(&format!(
            "<a href=\"{HERE}?{}\">First page</a> ",
            esc(&query_text(&prefix))
        ));
    }
    if users.len() as i64 == PAGE_SIZE {
        if let Some(last) = users.last() {
            let next = serde_urlencoded::to_string([("q", prefix.as_str()), ("after", &last.upn)])
                .unwrap_or_default();
            pager.push_str(&format!(
                "<a id=\"next-page\" href=\"{HERE}?{}\">Next page</a>",
                esc(&next)
            ));
        }
    }
    let search = format!(
        "<form class=\"search\" method=\"get\" action=\"{HERE}\" role=\"search\">\
         <label for=\"q\">User name starts with</label> <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" autocomplete=\"off\">\
         <button type=\"submit\">Search</button></form>",
        esc(&prefix)
    );
    let add = format!(
        "<details><summary>Add a user</summary><form id=\"add-user\" method=\"post\" action=\"/admin/users/add\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <p><label for=\"new-upn\">User name (user@domain)</label><input id=\"new-upn\" name=\"upn\" type=\"email\" required autocomplete=\"off\"></p>\
         <p><label for=\"new-name\">Display name</label><input id=\"new-name\" name=\"display_name\" autocomplete=\"off\"></p>\
         <p><label for=\"new-password\">First password (at least 8 characters)</label><input id=\"new-password\" name=\"password\" type=\"password\" required minlength=\"8\" autocomplete=\"new-password\"></p>\
         <p><button type=\"submit\">Add user</button></p></form></details>",
        esc(csrf)
    );
    Ok(format!(
        "{notice}{search}{}<p class=\"pager\">{pager}</p>{add}",
        table(
            "users",
            "Users",
            &["User name", "Name", "State", "Created", "Actions"],
            &rows,
            "No users match."
        )
    ))
}

/// `GET /admin/users?q=PREFIX&after=UPN`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<UserQuery>,
) -> Result<Response, PageError> {
    let who = require_admin(&state, &headers).await?;
    let main = render(&state, &who, &query, "").await?;
    Ok(admin_page("Users", HERE, &who, &main).into_response())
}

fn alert(text: &str) -> String {
    format!("<p role=\"alert\" class=\"error\">{}</p>", esc(text))
}

/// The page that shows a new TOTP secret once: the `otpauth://` URI and its QR code.
fn secret_page(who: &SignedIn, title: &str, upn: &str, uri: &str) -> Response {
    let main = format!(
        "<section aria-labelledby=\"secret-title\"><h2 id=\"secret-title\">{}</h2>\
         <p>Give this to {} to add to an authenticator app. It is shown only now.</p>\
         <figure>{}<figcaption>QR code of the sign-in code secret</figcaption></figure>\
         <p><label for=\"otpauth\">Authenticator link</label><input id=\"otpauth\" readonly value=\"{}\"></p>\
         <p><a href=\"{HERE}\">Back to users</a></p></section>",
        esc(title),
        esc(upn),
        qr::svg(uri),
        esc(uri)
    );
    admin_page(title, HERE, who, &main).into_response()
}

/// `POST /admin/users/add`: a user with a first password and a new TOTP secret.
pub async fn add(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let who = require_admin(&state, &headers).await?;
    check_csrf(&who.session.csrf, &f.csrf)?;
    let upn = f.upn.as_deref().unwrap_or("").trim().to_lowercase();
    let password = f.password.clone().unwrap_or_default();
    let problem = if upn.len() > 256 || upn.chars().any(char::is_whitespace) || !upn.contains('@') {
        Some("Enter the user name as user@domain.")
    } else if password.chars().count() < 8 {
        Some("The password must have at least 8 characters.")
    } else {
        None
    };
    if let Some(problem) = problem {
        let main = render(&state, &who, &UserQuery::default(), &alert(problem)).await?;
        return Ok((
            StatusCode::BAD_REQUEST,
            admin_page("Users", HERE, &who, &main),
        )
            .into_response());
    }
    let rng = |_| PageError(ApiError::internal("the random number generator failed"));
    let salt = state.env.random::<16>().map_err(rng)?;
    let secret = state.env.random::<{ totp::SECRET_LEN }>().map_err(rng)?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&password, &salt))
        .await
        .map_err(|e| PageError(ApiError::internal(e)))?
        .map_err(|e| PageError(ApiError::internal(e)))?;
    let id = state.env.guid().map_err(rng)?.to_string();
    let sealed = state.tenant.seal_totp(&state.env, &id, &secret)?;
    let display_name = f
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&upn)
        .to_owned();
    let now = state.now();
    let user = User {
        id,
        upn: upn.clone(),
        display_name,
        password_hash: hash,
        totp_secret: sealed,
        last_totp_step: None,
        disabled: false,
        created_at: now,
    };
    let line = audit::line(event::USER_CREATE, now)
        .actor(&who.user.upn)
        .source(addr.ip())
        .note(upn.clone());
    match state
        .storage
        .create_user(&state.tenant.id, &user, &line)
        .await
    {
        Ok(()) => {}
        Err(StorageError::Conflict(_)) => {
            let main = render(
                &state,
                &who,
                &UserQuery::default(),
                &alert("A user with this name exists already."),
            )
            .await?;
            return Ok(
                (StatusCode::CONFLICT, admin_page("Users", HERE, &who, &main)).into_response(),
            );
        }
        Err(e) => return Err(e.into()),
    }
    let uri = totp::otpauth_uri(&state.tenant.name, &upn, &secret);
    Ok(secret_page(&who, "User added", &upn, &uri))
}

/// The user named by the form, or 404.
async fn user(state: &AppState, upn: &str) -> Result<User, PageError> {
    state
        .storage
        .user_by_upn(&state.tenant.id, &upn.to_lowercase())
        .await?
        .ok_or(PageError(ApiError::AdminObjectNotFound("user")))
}

/// `POST /admin/users/disable` (confirmed): the user cannot sign in any more.
pub async fn disable(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, upn, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::USER_DISABLE,
        &f.upn,
        "user",
    )
    .await?;
    let target = user(&state, &upn).await?;
    if !f.confirmed() {
        return Ok(confirm_page(
            &who,
            HERE,
            Confirm {
                title: "Disable this user?",
                what: format!(
                    "<strong>{}</strong> will not be able to sign in anywhere until enabled again. \
                     Their certificates are revoked.",
                    esc(&target.upn)
                ),
                path: "/admin/users/disable",
                field: "upn",
                value: &target.upn,
                button: "Disable",
                back: HERE,
                extra: vec![],
            },
        )
        .into_response());
    }
    let line = line.note(target.upn.clone());
    if !state
        .storage
        .disable_user(&state.tenant.id, &target.upn, &line)
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("user")));
    }
    Ok(see_other(HERE, vec![]))
}

/// `POST /admin/users/enable`: not destructive, no confirmation.
pub async fn enable(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (_, upn, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::USER_ENABLE,
        &f.upn,
        "user",
    )
    .await?;
    let target = user(&state, &upn).await?;
    let line = line.note(target.upn.clone());
    if !state
        .directory
        .enable_user(&state.tenant.id, &target.upn, &line)
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("user")));
    }
    Ok(see_other(HERE, vec![]))
}

/// `POST /admin/users/reset-mfa` (confirmed): a new TOTP secret, shown once.
pub async fn reset_mfa(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let (who, upn, line) = prepare(
        &state,
        &headers,
        &addr,
        &f,
        event::USER_RESET_MFA,
        &f.upn,
        "user",
    )
    .await?;
    let target = user(&state, &upn).await?;
    if !f.confirmed() {
        return Ok(confirm_page(
            &who,
            HERE,
            Confirm {
                title: "Reset this user's sign-in codes?",
                what: format!(
                    "<strong>{}</strong> gets a new authenticator secret; codes from the old one stop working at once.",
                    esc(&target.upn)
                ),
                path: "/admin/users/reset-mfa",
                field: "upn",
                value: &target.upn,
                button: "Reset MFA",
                back: HERE,
                extra: vec![],
            },
        )
        .into_response());
    }
    let rng = |_| PageError(ApiError::internal("the random number generator failed"));
    let secret = state.env.random::<{ totp::SECRET_LEN }>().map_err(rng)?;
    let sealed = state.tenant.seal_totp(&state.env, &target.id, &secret)?;
    let line = line.note(target.upn.clone());
    if !state
        .directory
        .reset_mfa(&state.tenant.id, &target.id, &sealed, &line)
        .await?
    {
        return Err(PageError(ApiError::AdminObjectNotFound("user")));
    }
    let uri = totp::otpauth_uri(&state.tenant.name, &target.upn, &secret);
    Ok(secret_page(
        &who,
        "New sign-in code secret",
        &target.upn,
        &uri,
    ))
}
