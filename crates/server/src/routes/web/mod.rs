//! The browser side: server-rendered pages (sign-in, Security info, Administration) and the
//! JSON endpoints their small script calls around `navigator.credentials`.
//!
//! Sessions are a random cookie (`lk_session`, HttpOnly, SameSite=Lax, Secure under HTTPS)
//! whose SHA-256 is stored with an expiry; every form and script request carries an
//! anti-forgery token: the session's own once signed in, before that a double-submit value
//! from the `lk_csrf` cookie.

mod admin;
mod assets;
mod html;
pub mod next;
mod security_info;
mod signin;
mod webauthn;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::config::BODY_LIMIT;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::web::WebSession;
use crate::storage::User;

pub(crate) use html::esc;

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

/// The routes of the pages and their script endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::home))
        .route("/signin", get(signin::page))
        .route("/signin/password", post(signin::password))
        .route("/signout", post(signin::signout))
        .route("/security-info", get(security_info::page))
        .route("/security-info/keys/rename", post(security_info::rename))
        .route("/security-info/keys/remove", post(security_info::remove))
        .route("/admin", get(admin::page))
        .route("/admin/devices/disable", post(admin::disable_device))
        .route("/admin/keys/delete", post(admin::delete_key))
        .route(
            "/admin/security-keys/delete",
            post(admin::delete_security_key),
        )
        .route(
            "/web/security-keys/register/begin",
            post(webauthn::register_begin),
        )
        .route(
            "/web/security-keys/register/finish",
            post(webauthn::register_finish),
        )
        .route("/web/signin/key/begin", post(webauthn::signin_begin))
        .route("/web/signin/key/finish", post(webauthn::signin_finish))
        .route("/assets/webauthn.js", get(assets::script))
        .route("/assets/style.css", get(assets::style))
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: WebSession,
    /// Its user.
    pub user: User,
}

/// SHA-256 hex, the stored form of session ids, codes and tokens.
pub fn hash_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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
    let same = crate::crypto::secrets_equal(a, b);
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
    next.and_then(next::local_path).unwrap_or(HOME).to_owned()
}

/// Whether `path` is one of the pages (answered with HTML, errors included), not the API
/// or the pages' script endpoints under `/web/`.
pub fn is_page_path(path: &str) -> bool {
    let under = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    path == "/"
        || under("/signin")
        || under("/signout")
        || under("/security-info")
        || under("/admin")
        || path == "/oauth2/authorize"
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

/// An HTML error page for a failure on a page or form, with the code's status.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> PageError {
        PageError(err)
    }
}

impl From<crate::storage::StorageError> for PageError {
    fn from(err: crate::storage::StorageError) -> PageError {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let message = match &self.0 {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                code.default_message().to_owned()
            }
            other => other.to_string(),
        };
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let back = if matches!(self.0, ApiError::SessionRequired) {
            "<p><a href=\"/signin\">Sign in</a></p>"
        } else {
            "<p><a href=\"/security-info\">Back</a></p>"
        };
        let body = format!(
            "<main><h1>Something went wrong</h1><p role=\"alert\" class=\"error\"><strong>{}</strong>: {}</p>{back}</main>",
            code.as_str(),
            esc(&message)
        );
        let response = (status, html::document("Error", "", &body)).into_response();
        crate::error::with_retry_after(&self.0, response)
    }
}

/// An `application/x-www-form-urlencoded` body, within the size limit, of the expected shape.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(PageError(ApiError::MalformedRequest(
                "expected a form (application/x-www-form-urlencoded)".into(),
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                PageError(ApiError::BodyTooLarge(BODY_LIMIT))
            } else {
                PageError(ApiError::MalformedRequest(
                    "the body could not be read".into(),
                ))
            }
        })?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Form)
            .map_err(|e| PageError(ApiError::MalformedRequest(e.to_string())))
    }
}
