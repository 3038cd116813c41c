//! `GET /.well-known/openid-configuration`: the OpenID Connect discovery document.

use axum::extract::State;
use latchkey_server::state::AppState;

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let issuer = &*state.issuer;
    axum::Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/v1/jwks"),
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "device_token_endpoint": format!("{issuer}/v1/token"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": ["openid", "profile", "offline_access"],
        "amr_values_supported": ["hwk", "swk", "pin", "mfa", "otp", "pwd", "ngcmfa"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": [
            "iss", "sub", "aud", "azp", "iat", "nbf", "exp", "jti", "tid", "oid", "upn",
            "preferred_username", "name", "auth_time", "nonce", "deviceid", "amr"
        ],
        "tenant_id": state.tenant.id,
    }))
}
