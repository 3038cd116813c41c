//! Request extraction that never leaks axum's default plain-text rejections: JSON bodies,
//! the client address, bearer tokens and base64 fields all fail with a JSON [`ApiError`].

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::config::BODY_LIMIT;
use crate::error::ApiError;

/// A JSON request body: `application/json`, within the size limit, of the expected shape.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge(BODY_LIMIT)
            } else {
                ApiError::MalformedRequest("the body could not be read".into())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| ApiError::MalformedRequest(e.to_string()))
    }
}

/// The peer address of the connection (set by the server for every connection).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(SocketAddr::from(([0, 0, 0, 0], 0)))))
    }
}

impl ClientAddr {
    /// The address without the port, as text (rate limiting and audit key).
    pub fn ip(&self) -> String {
        self.0.ip().to_string()
    }
}

/// The bearer token of the `Authorization` header, if there is one; a malformed header is
/// an invalid token.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken("malformed Authorization header"))?;
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::InvalidToken(
            "expected `Authorization: Bearer <token>`",
        )),
    }
}

/// Decodes a base64url request field, failing with LK-REQ-003 naming the field.
pub fn b64(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    latchkey_proto::b64::decode(field, text).map_err(|_| ApiError::InvalidField(field))
}
