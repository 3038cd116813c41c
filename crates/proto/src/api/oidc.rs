//! OpenID Connect for applications (docs/oidc.md): the token endpoint's response and error
//! body (RFC 6749 §5.1, §5.2), the claims of the ID and access tokens applications receive
//! (OpenID Connect Core §2), and the UserInfo response (§5.3).

use serde::{Deserialize, Serialize};

/// RFC 6749 §5.1: "The authorization server issues an access token and optional refresh
/// token", with the OpenID Connect `id_token`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcTokenResponse {
    /// The access token (an ES256 JWT for this service's UserInfo endpoint).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token, seconds.
    pub expires_in: i64,
    /// The ID token (ES256 JWT).
    pub id_token: String,
    /// A refresh token (rotated at each use).
    pub refresh_token: String,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// RFC 6749 §5.2 error response, with Latchkey's stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`.
    pub error: String,
    /// A human-readable explanation.
    pub error_description: String,
    /// The Latchkey code (`LK-OIDC-00x`).
    pub code: String,
}

/// The claims of the ID and access tokens issued to applications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's object id.
    pub sub: String,
    /// Audience: the client id.
    pub aud: String,
    /// Authorized party: the client id.
    pub azp: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// Tenant id.
    pub tid: String,
    /// User object id.
    pub oid: String,
    /// User principal name.
    pub upn: String,
    /// `preferred_username` (the UPN).
    pub preferred_username: String,
    /// Display name.
    pub name: String,
    /// When the user signed in.
    pub auth_time: i64,
    /// Authentication methods (RFC 8176): `hwk pin mfa` for a security key with its PIN,
    /// `pwd otp mfa` for password + one-time code.
    pub amr: Vec<String>,
    /// The `nonce` of the authorization request (ID tokens from a code only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Granted scopes (access tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `oidc_id` or `oidc_access`.
    pub typ: String,
}

/// OpenID Connect Core §5.3.2 UserInfo response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Subject (the same as in the ID token).
    pub sub: String,
    /// Display name.
    pub name: String,
    /// The UPN.
    pub preferred_username: String,
    /// The UPN.
    pub upn: String,
    /// Authentication methods of the sign-in.
    pub amr: Vec<String>,
}

crate::redact::debug_redacted!(OidcTokenResponse {
    shown: [token_type, expires_in, scope],
    secret: [access_token, id_token, refresh_token]
});
