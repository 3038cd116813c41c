//! `GET` and `PUT /v1/security-keys/settings`: the tenant's security-key settings, for
//! administrators (`Authorization: Bearer` an administrator token). Whether security-key
//! sign-in is allowed at all is the policy node `SecurityKey/UseSecurityKeyForSignin`,
//! set through `POST /v1/policy/syncml`.

use axum::extract::State;
use axum::http::HeaderMap;

use latchkey_server::audit::{self, event};
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::{bearer, ClientAddr, Json};
use latchkey_server::routes::policy::sha256_hex;
use latchkey_server::state::AppState;
use latchkey_server::storage::web::SecurityKeySettings;

async fn admin(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = bearer(headers)?.ok_or(ApiError::InvalidToken(
        "an administrator token is required (latchkeyd admin-token create)",
    ))?;
    let row = state
        .storage
        .admin_token_by_hash(&state.tenant.id, &sha256_hex(token.as_bytes()))
        .await?
        .filter(|t| !t.revoked)
        .ok_or(ApiError::InvalidToken(
            "unknown or revoked administrator token",
        ))?;
    Ok(format!("admin-token:{}", row.id))
}

/// `GET /v1/security-keys/settings`.
pub async fn get_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<axum::Json<SecurityKeySettings>, ApiError> {
    admin(&state, &headers).await?;
    Ok(axum::Json(
        state.web.security_key_settings(&state.tenant.id).await?,
    ))
}

/// `PUT /v1/security-keys/settings`: replaces the settings; returns what is stored.
pub async fn put_settings(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<SecurityKeySettings>,
) -> Result<axum::Json<SecurityKeySettings>, ApiError> {
    let actor = admin(&state, &headers).await?;
    let settings =
        latchkey_server::routes::seckey_settings_validate(&req).map_err(ApiError::PolicyInvalid)?;
    let line = audit::line(event::SECURITY_KEY_SETTINGS, state.now())
        .actor(actor)
        .source(addr.ip())
        .note(format!(
            "require_trusted_root={} aaguid_mode={}",
            settings.require_trusted_root, settings.aaguid_mode
        ));
    state
        .web
        .set_security_key_settings(&state.tenant.id, &settings, &line)
        .await?;
    Ok(axum::Json(settings))
}
