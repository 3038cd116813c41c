//! Security headers on every response: `nosniff` and `Referrer-Policy` everywhere, a
//! Content-Security-Policy on HTML, HSTS under HTTPS, and `Cache-Control: no-store` on
//! responses that carry tokens and on the pages.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::Response;

use super::web::is_page_path;

/// The pages' policy: scripts, styles, images and fetches only from this origin (the
/// pages load `/assets/webauthn.js` and `/assets/style.css`, nothing inline), no plugins,
/// no framing, no `<base>`. `form-action` is left out on purpose: a sign-in form's
/// redirect chain ends at an application's registered redirect URI, which browsers
/// check against `form-action`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'";

/// HSTS for one year (no `includeSubDomains`: the service does not know its siblings).
pub const HSTS: &str = "max-age=31536000";

/// API paths whose responses carry tokens or personal data.
pub const NO_STORE_PATHS: &[&str] = &[
    "/v1/signin",
    "/v1/token",
    "/v1/prt/renew",
    "/v1/auth/password",
    "/oauth2/token",
    "/oauth2/userinfo",
];

/// Whether responses on `path` must not be stored by any cache.
pub fn no_store(path: &str) -> bool {
    NO_STORE_PATHS.contains(&path) || is_page_path(path) || path.starts_with("/web/")
}

/// Adds the headers to `response` for `path`.
pub fn apply(response: &mut Response, path: &str, https: bool) {
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if html {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if html || no_store(path) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
