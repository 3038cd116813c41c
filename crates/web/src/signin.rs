//! The sign-in page (password + one-time code, or a security key), sign-out, and `/`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_proto::claims::amr;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{
    check_csrf, cookie, new_session, require_session, safe_next, see_other, set_cookie, signed_in,
    Form, PageError, CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME_SECS,
};
use crate::html::{esc, page as layout};
use latchkey_server::audit::{self, event};
use latchkey_server::error::ApiError;
use latchkey_server::routes::auth::{counts_as_failure, sign_in_upn, verify_password};
use latchkey_server::routes::extract::ClientAddr;
use latchkey_server::state::AppState;
use latchkey_server::totp;

/// `GET /`: Security info when signed in, else the sign-in page.
pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let to = if signed_in(&state, &headers).await?.is_some() {
        "/security-info"
    } else {
        "/signin"
    };
    Ok(see_other(to, vec![]))
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// `GET /signin?next=/path`.
pub async fn page_handler(
    state: &AppState,
    headers: &HeaderMap,
    next: Option<&str>,
    error: Option<&ApiError>,
) -> Result<Response, PageError> {
    let (csrf, fresh) = match cookie(headers, CSRF_COOKIE).filter(|c| c.len() >= 16) {
        Some(c) => (c, false),
        None => (
            latchkey_proto::b64::encode(state.env.random::<24>().map_err(ApiError::from)?),
            true,
        ),
    };
    let next = safe_next(next);
    let alert = error
        .map(|e| {
            format!(
                "<p role=\"alert\" class=\"error\" id=\"error\">{}</p>",
                esc(&format!(
                    "{}: {}",
                    e.code(),
                    latchkey_server::routes::web::message_for_people(e)
                ))
            )
        })
        .unwrap_or_default();
    let main = format!(
        "{alert}<section aria-labelledby=\"pw-h\"><h2 id=\"pw-h\">Password and one-time code</h2>\
         <form method=\"post\" action=\"/signin/password\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{c}\"><input type=\"hidden\" name=\"next\" value=\"{n}\">\
         <label for=\"upn\">User name (user@domain)</label><input type=\"text\" id=\"upn\" name=\"upn\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"otp\">One-time code from your authenticator app</label><input type=\"text\" id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" required>\
         <p><button type=\"submit\" id=\"password-signin\">Sign in</button></p></form></section>\
         <section aria-labelledby=\"key-h\"><h2 id=\"key-h\">Security key</h2>\
         <p>Insert your security key; you will be asked for its PIN. Your key remembers you; a user name, if you give one, only limits the sign-in to that user.</p>\
         <label for=\"key-upn\">User name (optional)</label><input type=\"text\" id=\"key-upn\" autocomplete=\"username webauthn\">\
         <p><button type=\"button\" id=\"key-signin\" data-next=\"{n}\">Sign in with a security key</button></p>\
         <p role=\"status\" id=\"key-status\" aria-live=\"polite\"></p></section>",
        c = esc(&csrf),
        n = esc(&next)
    );
    // The same status as the API sends for the same code (LK-AUTH-003 is 429 everywhere).
    let status = error.map_or(StatusCode::OK, |e| {
        StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let mut response = (status, layout("Sign in", None, false, &csrf, &main)).into_response();
    if let Some(e) = error {
        response = latchkey_server::error::with_retry_after(e, response);
    }
    if fresh {
        response.headers_mut().append(
            axum::http::header::SET_COOKIE,
            set_cookie(state, CSRF_COOKIE, &csrf, SESSION_LIFETIME_SECS),
        );
    }
    Ok(response)
}

/// `GET /signin`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q: NextQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    page_handler(&state, &headers, q.next.as_deref(), None).await
}

/// The password form; the password and code are wiped from memory when it is dropped.
#[derive(Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct PasswordForm {
    /// Missing is empty, which never matches: refused with LK-WEB-001 like a wrong token.
    #[serde(default)]
    #[zeroize(skip)]
    csrf: String,
    #[zeroize(skip)]
    upn: String,
    password: String,
    otp: String,
    #[serde(default)]
    #[zeroize(skip)]
    next: Option<String>,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordForm")
            .field("upn", &self.upn)
            .field("password", &"<redacted>")
            .field("otp", &"<redacted>")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// `POST /signin/password`: password + TOTP; rate-limited like `/v1/auth/password`.
pub async fn password(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    check_csrf(
        &cookie(&headers, CSRF_COOKIE).unwrap_or_default(),
        &form.csrf,
    )?;
    let upn = match sign_in_upn(&form.upn) {
        Ok(upn) => upn,
        Err(err) => return page_handler(&state, &headers, form.next.as_deref(), Some(&err)).await,
    };
    let now = state.now();
    let ip = addr.ip();
    let line = audit::line(event::WEB_SIGNIN, now).actor(&upn).source(&ip);
    let (outcome, reservation) = match state.limiter.reserve(&upn, &ip, now).await {
        Ok(Some(reservation)) => (
            check_password(&state, &upn, &form, line.clone()).await,
            Some(reservation),
        ),
        Ok(None) => (Err(ApiError::RateLimited), None),
        Err(e) => (Err(e.into()), None),
    };
    match outcome {
        Ok((cookie_value, next)) => {
            if let Some(r) = reservation {
                r.succeeded(state.now()).await;
            }
            Ok(see_other(
                &next,
                vec![set_cookie(
                    &state,
                    SESSION_COOKIE,
                    &cookie_value,
                    SESSION_LIFETIME_SECS,
                )],
            ))
        }
        Err(err) => {
            if let Some(r) = reservation.filter(|_| counts_as_failure(&err)) {
                r.failed(state.now()).await;
            }
            let err = latchkey_server::routes::audited(&state, line, err).await;
            if matches!(err, ApiError::Internal(_)) {
                return Err(PageError(err));
            }
            page_handler(&state, &headers, form.next.as_deref(), Some(&err)).await
        }
    }
}

async fn check_password(
    state: &AppState,
    upn: &str,
    form: &PasswordForm,
    line: latchkey_server::storage::AuditRecord,
) -> Result<(String, String), ApiError> {
    let user = state.storage.user_by_upn(&state.tenant.id, upn).await?;
    let user = verify_password(state, user, Zeroizing::new(form.password.clone())).await?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let now = state.now();
    let step = totp::matching_step(&state.tenant.totp_secret(&user)?, form.otp.trim(), now)
        .ok_or(ApiError::InvalidOtp)?;
    let methods = [amr::PWD, amr::OTP, amr::MFA];
    let (cookie_value, session) = new_session(state, &user, &methods)?;
    let line = line.note(methods.join(" "));
    if !state
        .web
        .password_session(&state.tenant.id, step, &session, &line)
        .await?
    {
        return Err(ApiError::InvalidOtp);
    }
    Ok((cookie_value, safe_next(form.next.as_deref())))
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    /// Missing is empty, which never matches: refused with LK-WEB-001 like a wrong token.
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`.
pub async fn signout(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    let who = require_session(&state, &headers).await?;
    check_csrf(&who.session.csrf, &form.csrf)?;
    let line = audit::line(event::WEB_SIGNOUT, state.now())
        .actor(&who.user.upn)
        .source(addr.ip());
    state
        .web
        .delete_session(&state.tenant.id, &who.session.id_hash, &line)
        .await?;
    Ok(see_other(
        "/signin",
        vec![set_cookie(&state, SESSION_COOKIE, "", 0)],
    ))
}
