//! Password (+ one-time code) sign-in.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `POST /v1/auth/password`: the first factor, and the second when `otp` is given. The
/// password and code are wiped from memory when the value is dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct PasswordSignIn {
    /// User principal name.
    #[zeroize(skip)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_and_code_are_wiped_and_the_user_kept() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<PasswordSignIn>();
        let mut req = PasswordSignIn {
            upn: "ada@example.test".into(),
            password: "correct horse".into(),
            otp: Some("123456".into()),
        };
        req.zeroize();
        assert!(req.password.is_empty());
        assert!(req.otp.is_none());
        assert_eq!(req.upn, "ada@example.test");
    }
}
