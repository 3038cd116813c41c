//! Public documents: tenant information, the CA certificate and the JWKS (the OpenID
//! discovery document is the web crate's).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use latchkey_proto::api::tenant::TenantInfo;

use crate::state::AppState;

/// `GET /v1/tenant`.
pub async fn tenant(State(state): State<AppState>) -> axum::Json<TenantInfo> {
    axum::Json(TenantInfo {
        tenant_id: state.tenant.id.clone(),
        name: state.tenant.name.clone(),
        issuer: state.issuer.to_string(),
        ca_fingerprint_sha256: state.tenant.ca_fingerprint.clone(),
    })
}

/// `GET /v1/ca.pem`.
pub async fn ca_pem(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/x-pem-file")],
        state.tenant.ca.cert_pem().to_owned(),
    )
}

/// `GET /v1/jwks`.
pub async fn jwks(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(state.tenant.tokens.jwks())
}
