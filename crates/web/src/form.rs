//! The form extractor of the pages: a urlencoded body within the size limit, of the
//! expected shape, or an HTML error page.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use latchkey_server::config::BODY_LIMIT;
use latchkey_server::error::ApiError;
use latchkey_server::routes::web::PageError;
use serde::de::DeserializeOwned;

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
