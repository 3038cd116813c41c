//! The HTTP layer's own rejections, answered like every other error: a JSON
//! `{code, message}` on the API, an HTML page on the web pages, the code's status.
//!
//! hyper's parser refuses what its buffers cannot hold, or cannot parse, before any of
//! this runs; its limits are set above the ones checked here
//! ([`crate::conn::hyper_buf_size`]), so a request over this service's limit but within
//! hyper's reaches [`guard`] and gets a proper body. The rest is answered by the
//! connection layer in hyper's place (`conn::auto_answer`).

use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::policy::SYNCML_BODY_LIMIT;
use super::security_headers;
use super::web::{is_page_path, PageError};
use crate::config::BODY_LIMIT;
use crate::error::ApiError;

/// The limits [`guard`] enforces, and whether the service is HTTPS (for HSTS).
#[derive(Debug, Clone, Copy)]
pub struct HttpPolicy {
    /// Longest request target (414 LK-HTTP-002 above it).
    pub max_uri_bytes: usize,
    /// Largest header section, names plus values (431 LK-HTTP-001 above it).
    pub max_header_bytes: usize,
    /// Most header fields (431 LK-HTTP-001 above it).
    pub max_headers: usize,
    /// Served over HTTPS.
    pub https: bool,
}

/// The body limit of `path`, bytes.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/v1/policy/") {
        SYNCML_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// `err` as the response for `path`: an HTML page on the web pages, JSON elsewhere.
pub fn error_response(path: &str, err: ApiError) -> Response {
    if is_page_path(path) {
        PageError(err).into_response()
    } else {
        err.into_response()
    }
}

/// Asks hyper to close an HTTP/1 connection after this response (the rest of the
/// request is not read).
pub fn close_after(response: &mut Response, version: Version) {
    if version <= Version::HTTP_11 {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

/// What is wrong with the request's head, if anything.
fn check_head(policy: &HttpPolicy, req: &Request) -> Option<ApiError> {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > policy.max_uri_bytes {
        return Some(ApiError::UriTooLong(policy.max_uri_bytes));
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > policy.max_headers || header_bytes > policy.max_header_bytes {
        return Some(ApiError::HeaderTooLarge(policy.max_header_bytes));
    }
    // The SyncML routes read their body themselves (bounded) and audit the refusal.
    if req.uri().path().starts_with("/v1/policy/") {
        return None;
    }
    let limit = body_limit(req.uri().path());
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Some(ApiError::BodyTooLarge(limit));
    }
    None
}

/// The middleware: refuses heads over the limits and bodies declared over the limit
/// before any handler runs, rewrites framework rejections that are not JSON or HTML, and
/// adds the security headers to every response.
pub async fn guard(State(policy): State<HttpPolicy>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let version = req.version();
    let mut response = match check_head(&policy, &req) {
        Some(err) => {
            let mut r = error_response(&path, err);
            close_after(&mut r, version);
            r
        }
        None => rewrite_bare(&path, next.run(req).await),
    };
    security_headers::apply(&mut response, &path, policy.https);
    response
}

/// A framework rejection (axum's plain-text extractor errors, an empty body) becomes the
/// matching code's JSON or HTML answer; every other response passes unchanged.
fn rewrite_bare(path: &str, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let typed = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/json") || v.starts_with("text/html") || v.contains("xml")
        });
    if typed {
        return response;
    }
    let err = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge(body_limit(path)),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::URI_TOO_LONG => ApiError::UriTooLong(0),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::HeaderTooLarge(0),
        s if s.is_client_error() => {
            ApiError::MalformedRequest("the request could not be read".into())
        }
        s => ApiError::internal(format!("a framework answered {s} without a body")),
    };
    let connection = response.headers().get(CONNECTION).cloned();
    let mut rewritten = error_response(path, err);
    if let Some(c) = connection {
        rewritten.headers_mut().insert(CONNECTION, c);
    }
    rewritten
}

/// An empty body (for tests of [`rewrite_bare`]).
#[cfg(test)]
fn bare(status: StatusCode) -> Response {
    (status, axum::body::Body::empty()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_rejections_get_the_codes_status_and_a_typed_body() {
        for (status, code, want) in [
            (StatusCode::PAYLOAD_TOO_LARGE, "LK-REQ-002", 413),
            (StatusCode::UNPROCESSABLE_ENTITY, "LK-REQ-001", 400),
            (StatusCode::BAD_REQUEST, "LK-REQ-001", 400),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "LK-REQ-005", 415),
        ] {
            let r = rewrite_bare("/v1/nonce", bare(status));
            assert_eq!(r.status().as_u16(), want, "{code}");
            let ct = r.headers().get(CONTENT_TYPE).cloned();
            assert_eq!(
                ct.as_ref().and_then(|v| v.to_str().ok()),
                Some("application/json")
            );
            let r = rewrite_bare("/signin", bare(status));
            assert_eq!(r.status().as_u16(), want, "{code}");
            let ct = r.headers().get(CONTENT_TYPE).cloned();
            assert!(ct
                .and_then(|v| v.to_str().ok().map(str::to_owned))
                .is_some_and(|v| v.starts_with("text/html")));
        }
        let ok = rewrite_bare("/v1/nonce", bare(StatusCode::OK));
        assert!(ok.headers().get(CONTENT_TYPE).is_none());
    }
}
