//! The public PKI endpoints (no authentication): the CRL at the CRL distribution point, the
//! issuing CA's and the root's certificates at the authority information access URL, and
//! the OCSP responder (RFC 6960: `POST` with `application/ocsp-request`, or `GET` with the
//! base64 request in the path, RFC 6960 appendix A.1).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use latchkey_pki::CertStatus;
use time::OffsetDateTime;

use crate::certs::{crl, serial};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::cert::{STATE_REVOKED, STATE_SUPERSEDED, STATE_VALID};

/// The largest OCSP request accepted (bytes, DER; a GET's base64 is bounded by the URI
/// limit).
pub const MAX_OCSP_REQUEST: usize = 4096;
/// Most certificates one OCSP request may ask about.
pub const MAX_OCSP_SERIALS: usize = 16;
/// nextUpdate of an OCSP answer: one hour after it is produced.
pub const OCSP_VALIDITY_SECS: i64 = 3600;

fn der(content_type: &'static str, body: Vec<u8>, max_age: i64) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={}", max_age.max(0))) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `GET /pki/issuing-ca.crl`: the CRL, DER (`application/pkix-crl`), signed again first
/// when a revocation happened since or half its validity has passed.
pub async fn crl_der(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = state.now();
    let body = crl::current(&*state.storage, &state.tenant.id, &state.pki, now).await?;
    Ok(der("application/pkix-crl", body, 300))
}

/// `GET /pki/issuing-ca.crt`: the issuing CA's certificate, DER.
pub async fn issuing_ca(State(state): State<AppState>) -> Response {
    der(
        "application/pkix-cert",
        state.pki.issuing.cert_der().to_vec(),
        86400,
    )
}

/// `GET /pki/root-ca.crt`: the tenant root's certificate, DER.
pub async fn root_ca(State(state): State<AppState>) -> Response {
    der("application/pkix-cert", state.pki.root_der.clone(), 86400)
}

/// `POST /pki/ocsp`.
pub async fn ocsp_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !media
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/ocsp-request"))
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    if body.len() > MAX_OCSP_REQUEST {
        return Err(ApiError::BodyTooLarge(MAX_OCSP_REQUEST));
    }
    answer(&state, &body).await
}

/// `GET /pki/ocsp/{base64 DER request}` (standard or URL-safe alphabet, padding optional).
pub async fn ocsp_get(
    State(state): State<AppState>,
    Path(encoded): Path<String>,
) -> Result<Response, ApiError> {
    let cleaned: String = encoded.chars().filter(|c| *c != '=').collect();
    let request = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&cleaned)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cleaned))
        .map_err(|_| ApiError::InvalidField("OCSP request (base64)"))?;
    if request.len() > MAX_OCSP_REQUEST {
        return Err(ApiError::BodyTooLarge(MAX_OCSP_REQUEST));
    }
    answer(&state, &request).await
}

/// Answers an OCSP request: the responder is asked once for the serials the request
/// names (each answered "unknown" in that pass), their states are read, and it answers
/// again with them. The responder always returns a DER OCSPResponse (a malformed request
/// gets `malformedRequest`).
async fn answer(state: &AppState, request: &[u8]) -> Result<Response, ApiError> {
    let now = state.env.clock.now();
    let next = now + time::Duration::seconds(OCSP_VALIDITY_SECS);
    let mut asked: Vec<String> = Vec::new();
    let first = state.pki.issuing.ocsp_response(
        request,
        &mut |serial_bytes: &[u8]| {
            if asked.len() < MAX_OCSP_SERIALS {
                asked.push(serial::of_bytes(serial_bytes));
            }
            CertStatus::Unknown
        },
        now,
        next,
    );
    if asked.is_empty() {
        return Ok(der("application/ocsp-response", first, 0));
    }
    let mut known: Vec<(String, CertStatus)> = Vec::with_capacity(asked.len());
    for s in &asked {
        let status = match state.storage.certificate(&state.tenant.id, s).await? {
            Some(c) if c.state == STATE_REVOKED => {
                let revoked_at = c
                    .revoked_at
                    .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                    .unwrap_or(now);
                let reason = c
                    .reason
                    .as_deref()
                    .and_then(crl::parse_reason)
                    .map_or(latchkey_pki::RevocationReason::Unspecified, |(_, r)| r);
                CertStatus::Revoked {
                    at: revoked_at,
                    reason,
                }
            }
            Some(c) if c.state == STATE_VALID || c.state == STATE_SUPERSEDED => CertStatus::Good,
            _ => CertStatus::Unknown,
        };
        known.push((s.clone(), status));
    }
    let body = state.pki.issuing.ocsp_response(
        request,
        &mut |serial_bytes: &[u8]| {
            let s = serial::of_bytes(serial_bytes);
            known
                .iter()
                .find(|(k, _)| *k == s)
                .map_or(CertStatus::Unknown, |(_, status)| *status)
        },
        now,
        next,
    );
    Ok(der("application/ocsp-response", body, 0))
}
