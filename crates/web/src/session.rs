//! Browser sessions: a random cookie (`lk_session`, HttpOnly, SameSite=Lax, Secure under
//! HTTPS) whose SHA-256 is stored with an expiry; every form and script request carries an
//! anti-forgery token: the session's own once signed in, before that a double-submit value
//! from the `lk_csrf` cookie.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_server::error::ApiError;
use latchkey_server::routes::web::hash_hex;
use latchkey_server::state::AppState;
use latchkey_server::storage::web::WebSession;
use latchkey_server::storage::User;

/// The session cookie.
pub const SESSION_COOKIE: &str = "lk_session";
/// The pre-sign-in anti-forgery cookie.
pub const CSRF_COOKIE: &str = "lk_csrf";
/// Header carrying the anti-forgery token on script requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a web session lasts, seconds (8 hours, then sign in again).
pub const SESSION_LIFETIME_SECS: i64 = 8 * 3600;
/// Members of this group (`latchkeyd group ...`) may use the Administration page.
pub const ADMIN_GROUP: &str = "latchkey-admins";

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: WebSession,
    /// Its user.
    pub user: User,
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The live session of this request, if any.
pub async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let found = state
        .web
        .session(&state.tenant.id, &hash_hex(&id), state.now())
        .await?;
    Ok(found.map(|(session, user)| SignedIn { session, user }))
}

/// The session of this request, or LK-WEB-002.
pub async fn require_session(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, ApiError> {
    signed_in(state, headers)
        .await?
        .ok_or(ApiError::SessionRequired)
}

/// Compares anti-forgery tokens in constant time; empty never matches.
pub fn check_csrf(expected: &str, given: &str) -> Result<(), ApiError> {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let same = latchkey_server::crypto::secrets_equal(a, b);
    if same && !a.is_empty() {
        Ok(())
    } else {
        Err(ApiError::CsrfInvalid)
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when the service is HTTPS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A new session for `user`: the cookie value and the record to store.
pub fn new_session(
    state: &AppState,
    user: &User,
    amr: &[&str],
) -> Result<(String, WebSession), ApiError> {
    let now = state.now();
    let id = latchkey_proto::b64::encode(state.env.random::<32>()?);
    let csrf = latchkey_proto::b64::encode(state.env.random::<24>()?);
    let session = WebSession {
        id_hash: hash_hex(&id),
        user_id: user.id.clone(),
        amr: amr.join(" "),
        csrf,
        created_at: now,
        expires_at: now + SESSION_LIFETIME_SECS,
    };
    Ok((id, session))
}

/// A redirect (303 See Other) with cookies.
pub fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [("location", location.to_owned())]).into_response();
    for c in cookies {
        response.headers_mut().append(SET_COOKIE, c);
    }
    response
}

/// Where to go when `next` is missing or refused: the signed-in home page.
pub const HOME: &str = "/security-info";

/// Keeps only a path on this service ([`next::local_path`]) as a place to go after signing
/// in; anything else is the home page.
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(crate::next::local_path)
        .unwrap_or(HOME)
        .to_owned()
}

/// Whether `upn` is in the administrators' group.
pub async fn is_admin(state: &AppState, upn: &str) -> Result<bool, ApiError> {
    let members = state.storage.list_group_members(&state.tenant.id).await?;
    Ok(members.iter().any(|m| {
        m.name == ADMIN_GROUP
            && m.kind.as_deref() == Some("user")
            && m.member.as_deref() == Some(upn)
    }))
}
