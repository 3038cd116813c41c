//! `GET` and `PUT /v1/security-keys/settings`: the tenant's security-key settings, for
//! administrators (`Authorization: Bearer` an administrator token). Whether security-key
//! sign-in is allowed at all is the policy node `SecurityKey/UseSecurityKeyForSignin`,
//! set through `POST /v1/policy/syncml`.

use axum::extract::State;
use axum::http::HeaderMap;

use super::extract::{bearer, ClientAddr, Json};
use super::policy::sha256_hex;
use crate::audit::{self, event};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::web::SecurityKeySettings;

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

/// Checks settings before they are stored: the mode, each AAGUID, each root certificate.
pub fn validate(s: &SecurityKeySettings) -> Result<SecurityKeySettings, String> {
    if !["any", "allow", "block"].contains(&s.aaguid_mode.as_str()) {
        return Err("aaguid_mode must be any, allow or block".into());
    }
    let mut aaguids = Vec::new();
    for line in s
        .aaguids
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let id: uuid::Uuid = line
            .parse()
            .map_err(|_| format!("{line} is not an AAGUID"))?;
        aaguids.push(id.hyphenated().to_string());
    }
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    for block in s.roots_pem.split(BEGIN).skip(1) {
        latchkey_attest::TrustAnchor::from_pem(format!("{BEGIN}{block}").as_bytes())
            .map_err(|e| format!("a root certificate is unusable: {e}"))?;
    }
    if s.require_trusted_root && !s.roots_pem.contains(BEGIN) {
        return Err("require_trusted_root needs at least one root certificate".into());
    }
    Ok(SecurityKeySettings {
        aaguids: aaguids.join("\n"),
        ..s.clone()
    })
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
    let settings = validate(&req).map_err(ApiError::PolicyInvalid)?;
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
