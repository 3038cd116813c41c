//! What the HTTP layer needs to know about the web pages, which live in their own crate
//! (`latchkey-web`) above this one: which paths are pages (answered with HTML, errors
//! included), the HTML error page with the site's header, and the stored form of session
//! ids, codes and tokens.
//!
//! The guard ([`super::http_guard`]) and the connection layer answer some requests before
//! any route runs (a head over the limits, a body that does not arrive), so the error page
//! they send has to be rendered here, without a session: it shows the site's header and
//! a link to sign in.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// SHA-256 hex, the stored form of session ids, codes and tokens.
pub fn hash_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole document: the style sheet, the pages' one script, a skip link, then `body`.
/// `csrf` goes into `<meta name="csrf-token">` for the script.
pub fn document(title: &str, csrf: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf-token\" content=\"{}\">\
         <title>{} · Latchkey</title><link rel=\"stylesheet\" href=\"/assets/style.css\">\
         <script src=\"/assets/webauthn.js\" defer></script></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>{body}</body></html>",
        esc(csrf),
        esc(title)
    ))
}

/// The site's header: the brand and the navigation given as `<li>` items.
pub fn header(nav_items: &str) -> String {
    format!(
        "<header><p class=\"brand\"><a href=\"/\">Latchkey</a></p>\
         <nav aria-label=\"Main\"><ul>{nav_items}</ul></nav></header>"
    )
}

/// The title a person reads for an error: what kind of problem it is, by status.
pub fn error_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 414 | 415 | 431 => "The request could not be used",
        401 => "Please sign in",
        403 => "You do not have access to this page",
        404 => "Page not found",
        405 => "This page does not accept that request",
        408 => "The request took too long",
        429 => "Too many attempts",
        s if s >= 500 => "Something went wrong on our side",
        _ => "Something went wrong",
    }
}

/// The message a person reads for `err` on a page: the code's own words, except that
/// field names and parser details (meant for the API's JSON) become what to do, and
/// internal details are logged, never shown.
pub fn message_for_people(err: &ApiError) -> String {
    let code = err.code();
    match err {
        ApiError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            code.default_message().to_owned()
        }
        ApiError::NotFound => "There is no page at this address.".to_owned(),
        // The code's field names and parser details are for the API's JSON; a person
        // reads what to do.
        ApiError::InvalidField(_) => {
            "A value in the form is not valid; check it and try again.".to_owned()
        }
        ApiError::MalformedRequest(_) => {
            "The form could not be read; reload the page and try again.".to_owned()
        }
        other => other.to_string(),
    }
}

/// The error page for `err` under the site's header `header` (see [`header`]), with the
/// code's status and its message; internal details are logged, never shown.
pub fn error_page(err: &ApiError, header_html: &str) -> Response {
    let code = err.code();
    let message = message_for_people(err);
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let title = error_title(status);
    let back = if matches!(err, ApiError::SessionRequired) {
        "<p><a href=\"/signin\">Sign in</a></p>"
    } else {
        "<p><a href=\"/security-info\">Go to Security info</a></p>"
    };
    let body = format!(
        "{header_html}<main id=\"main\"><h1>{title}</h1><p role=\"alert\" class=\"error\">{}</p>\
         <p class=\"code\">Error code <strong>{}</strong> (HTTP {})</p>{back}</main>",
        esc(&message),
        code.as_str(),
        status.as_u16()
    );
    let response = (status, document(title, "", &body)).into_response();
    crate::error::with_retry_after(err, response)
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
        let nav = "<li><a href=\"/security-info\">Security info</a></li>\
                   <li><a href=\"/signin\">Sign in</a></li>";
        error_page(&self.0, &header(nav))
    }
}
