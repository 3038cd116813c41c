//! The browser side of Latchkey, above the server library (`latchkey-server`): the
//! server-rendered pages (sign-in, Security info, Administration), the WebAuthn ceremonies
//! of security keys, and OAuth 2.0 / OpenID Connect for applications.
//!
//! The server crate keeps the domain and the JSON API (`/v1/*`); this crate adds its
//! routes with [`router`], which `latchkeyd serve` hands to
//! [`latchkey_server::start_with`]. Everything here runs behind the server's HTTP layer
//! (limits, security headers, request logs, metrics) and uses its storage, audit trail and
//! errors ([`latchkey_server::error::ApiError`], whose LK-WEB codes belong to these pages).
#![forbid(unsafe_code)]

mod admin;
mod assets;
pub mod ceremony;
mod form;
pub mod html;
mod labels;
pub mod next;
mod oauth;
mod oidc;
mod qr;
pub mod seckey;
mod seckey_settings;
mod security_info;
pub mod session;
mod signin;
mod webauthn;

use axum::routing::{get, post};
use axum::Router;
use latchkey_server::state::AppState;

pub use form::Form;
pub use latchkey_server::routes::web::PageError;
pub use session::{
    check_csrf, cookie, is_admin, new_session, require_session, safe_next, see_other, set_cookie,
    signed_in, SignedIn, ADMIN_GROUP, CSRF_COOKIE, CSRF_HEADER, HOME, SESSION_COOKIE,
    SESSION_LIFETIME_SECS,
};

/// The routes of this crate: the pages and their script endpoints, the WebAuthn
/// ceremonies, OAuth 2.0 and OpenID Connect, and the security-key settings API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::home))
        .route("/signin", get(signin::page))
        .route("/signin/password", post(signin::password))
        .route("/signout", post(signin::signout))
        .route("/security-info", get(security_info::page))
        .route("/security-info/keys/rename", post(security_info::rename))
        .route("/security-info/keys/remove", post(security_info::remove))
        .merge(admin::router())
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
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route(
            "/oauth2/userinfo",
            get(oauth::userinfo).post(oauth::userinfo),
        )
        .route(
            "/v1/security-keys/settings",
            get(seckey_settings::get_settings).put(seckey_settings::put_settings),
        )
}
