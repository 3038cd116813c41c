//! Claims of the JSON Web Tokens the service issues, and the `amr` values (RFC 8176).

use serde::{Deserialize, Serialize};

/// RFC 8176 `amr` values and the Microsoft `ngcmfa` value used in Latchkey tokens.
pub mod amr {
    /// Password.
    pub const PWD: &str = "pwd";
    /// One-time password.
    pub const OTP: &str = "otp";
    /// Multiple factors.
    pub const MFA: &str = "mfa";
    /// Proof of possession of a software-secured key.
    pub const SWK: &str = "swk";
    /// Proof of possession of a hardware-secured key.
    pub const HWK: &str = "hwk";
    /// Personal identification number.
    pub const PIN: &str = "pin";
    /// Microsoft's marker for a Hello (NGC) sign-in that satisfies MFA.
    pub const NGCMFA: &str = "ngcmfa";
}

/// The claims of every token the service signs (ID, access, and MFA enrolment tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Issuer: the service's issuer URL.
    pub iss: String,
    /// Subject: the user's object id.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the Unix epoch).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Tenant id.
    pub tid: String,
    /// User object id.
    pub oid: String,
    /// User principal name.
    pub upn: String,
    /// The device the sign-in happened on, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deviceid: Option<String>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// The kind of token: `id`, `access` or `enrollment`.
    pub typ: String,
}

impl TokenClaims {
    /// Whether the sign-in behind this token was multi-factor.
    pub fn is_mfa(&self) -> bool {
        self.amr.iter().any(|m| m == amr::MFA)
    }
}
