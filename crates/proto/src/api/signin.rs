//! Hello sign-in, primary refresh token renewal, and tokens for an audience.

use serde::{Deserialize, Serialize};

/// `POST /v1/signin`.
///
/// `assertion` is the Hello key's signature and `device_signature` the device key's, both
/// over `proof_message(SignIn, nonce, [tenant_id, device_id, upn, key_id])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// User principal name.
    pub upn: String,
    /// Device id.
    pub device_id: String,
    /// Key id (lowercase hex).
    pub key_id: String,
    /// A nonce issued for [`crate::proof::Purpose::SignIn`].
    pub nonce: String,
    /// Hello-key signature (base64url).
    pub assertion: String,
    /// Device-key signature (base64url).
    pub device_signature: String,
}

/// Tokens from a sign-in or a renewal.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInResponse {
    /// The primary refresh token: opaque, bound to the device.
    pub prt: String,
    /// When the primary refresh token expires (seconds since the Unix epoch).
    pub prt_expires_at: i64,
    /// ID token (JWT).
    pub id_token: String,
    /// Access token (JWT) for the default audience.
    pub access_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

/// `POST /v1/prt/renew`: a new primary refresh token for the old one plus a device proof
/// over `proof_message(RenewPrt, nonce, [tenant_id, device_id, prt_binding(prt)])`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// The current primary refresh token.
    pub prt: String,
    /// Device id.
    pub device_id: String,
    /// A nonce issued for [`crate::proof::Purpose::RenewPrt`].
    pub nonce: String,
    /// Device-key signature (base64url).
    pub device_signature: String,
}

/// `POST /v1/token`: an access token for `audience` from a primary refresh token and a
/// device-key proof over `proof_message(Token, nonce, [tenant_id, device_id,
/// prt_binding(prt), audience])` with a nonce of purpose `token`.
///
/// The proof members are optional on the wire only so that a request without them (a
/// primary refresh token alone) is told apart (`LK-PRT-003`) from a malformed one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The primary refresh token.
    pub prt: String,
    /// The audience the token is for: a registered application's client id or a registered
    /// resource URI (`latchkeyd resource add`).
    pub audience: String,
    /// The device the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// A nonce issued for [`crate::proof::Purpose::Token`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Device-key signature (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_signature: Option<String>,
}

/// An access token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: String,
}

crate::redact::debug_redacted!(SignInResponse {
    shown: [prt_expires_at, expires_in],
    secret: [prt, id_token, access_token]
});

crate::redact::debug_redacted!(RenewRequest {
    shown: [device_id, nonce, device_signature],
    secret: [prt]
});

crate::redact::debug_redacted!(TokenRequest {
    shown: [audience, device_id, nonce, device_signature],
    secret: [prt]
});

crate::redact::debug_redacted!(TokenResponse {
    shown: [expires_in, token_type],
    secret: [access_token]
});
