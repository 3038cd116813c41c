//! Password (+ one-time code) sign-in.

use serde::{Deserialize, Serialize};

/// `POST /v1/auth/password`: the first factor, and the second when `otp` is given.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSignIn {
    /// User principal name.
    pub upn: String,
    /// Password.
    pub password: String,
    /// The current TOTP code (6 digits). Without it the token is single-factor.
    #[serde(default)]
    pub otp: Option<String>,
}

/// A short-lived token for enrolment operations (join, key registration).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentToken {
    /// The JWT, to send as `Authorization: Bearer ...`.
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Authentication methods it carries (`pwd`, and `otp` + `mfa` after a second factor).
    pub amr: Vec<String>,
}

crate::redact::debug_redacted!(PasswordSignIn {
    shown: [upn],
    secret: [password, otp]
});

crate::redact::debug_redacted!(EnrollmentToken {
    shown: [expires_in, amr],
    secret: [token]
});
