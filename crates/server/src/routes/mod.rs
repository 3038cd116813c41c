//! The HTTP API: one module per resource, the routes table in [`router`].

pub mod auth;
mod cert;
mod device;
pub mod extract;
mod health;
pub mod http_guard;
mod key;
mod key_attestation;
mod nonce;
mod oidc;
mod pin_reset;
mod pki;
pub mod policy;
mod policy_session;
mod seckey_settings;
pub mod security_headers;
mod signin;
mod token;
mod tpm;
pub mod web;

pub use seckey_settings::validate as seckey_settings_validate;

use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;

pub use http_guard::HttpPolicy;

use crate::config::BODY_LIMIT;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::AuditRecord;

/// Builds the router of the v1 API and the health endpoints, with `extra` routes merged in
/// (the web pages, OAuth and OpenID Connect of `latchkey-web`), behind the HTTP layer's
/// limits and security headers ([`http_guard::guard`]).
pub fn router(state: AppState, policy: HttpPolicy, extra: Router<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/tenant", get(oidc::tenant))
        .route("/v1/ca.pem", get(oidc::ca_pem))
        .route("/v1/jwks", get(oidc::jwks))
        .route("/v1/nonce", post(nonce::issue))
        .route("/v1/auth/password", post(auth::password))
        .route("/v1/devices/join", post(device::join))
        .route("/v1/devices/leave", post(device::leave))
        .route("/v1/devices/tpm/activate/begin", post(tpm::begin))
        .route("/v1/devices/tpm/activate/finish", post(tpm::finish))
        .route("/v1/keys", post(key::register))
        .route("/v1/certificates/enroll", post(cert::enroll))
        .route("/v1/certificates/renew", post(cert::renew))
        .route(crate::certs::CRL_PATH, get(pki::crl_der))
        .route(crate::certs::ISSUING_CA_PATH, get(pki::issuing_ca))
        .route(crate::certs::ROOT_CA_PATH, get(pki::root_ca))
        .route(crate::certs::OCSP_PATH, post(pki::ocsp_post))
        .route("/pki/ocsp/{*request}", get(pki::ocsp_get))
        .route("/v1/pin/recovery-key", get(pin_reset::recovery_key))
        .route("/v1/pin/reset", post(pin_reset::reset))
        .route("/v1/signin", post(signin::signin))
        .route("/v1/prt/renew", post(signin::renew))
        .route("/v1/token", post(token::token))
        .route("/v1/policy/syncml", post(policy::admin_syncml))
        .route("/v1/policy/session", post(policy_session::session))
        .route("/v1/policy/effective", post(policy::effective_json))
        .merge(extra)
        .fallback(
            |uri: Uri| async move { http_guard::error_response(uri.path(), ApiError::NotFound) },
        )
        .method_not_allowed_fallback(|uri: Uri| async move {
            http_guard::error_response(uri.path(), ApiError::MethodNotAllowed)
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            policy,
            http_guard::guard,
        ))
        .layer(axum::middleware::from_fn(crate::observe::tag_route))
        .with_state(state)
}

/// Records a failure in the audit trail (with its error code as the reason) and returns
/// the error. An audit write failure is logged; the original error is still returned.
///
/// Repeated identical failures from one source are aggregated
/// ([`crate::audit_throttle`]).
pub async fn audited(state: &AppState, line: AuditRecord, err: ApiError) -> ApiError {
    let line = line.failure(err.code().as_str());
    let admitted = state.audit_throttle.admit(line, state.now());
    for line in admitted.summary.iter().chain(admitted.line.iter()) {
        if let Err(e) = state.storage.append_audit(&state.tenant.id, line).await {
            tracing::error!(error = %e, "could not write a failure audit line");
        }
    }
    err
}
