//! The exact bytes a device signs to prove possession of a key over a service nonce.
//!
//! Every proof binds the nonce to its purpose and to the identifiers of the operation, so a
//! signature made for one operation can never be replayed as another. The message is
//!
//! ```text
//! "LATCHKEY-PROOF-V1" || 0x00 || purpose || 0x00 || nonce || (u32 BE len || field)*
//! ```
//!
//! where the fields are those listed for the purpose on [`Purpose`]. Length prefixes keep the
//! encoding unambiguous whatever the field contents.

use serde::{Deserialize, Serialize};

const DOMAIN: &[u8] = b"LATCHKEY-PROOF-V1";

/// What a nonce was issued for; a nonce is only accepted for its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Device join. Fields: tenant id, base64url device public key (SPKI DER).
    Join,
    /// Hello key registration. Fields: tenant id, device id, user UPN, key id (hex).
    /// Signed by the device key and by the new Hello key.
    RegisterKey,
    /// Hello sign-in. Fields: tenant id, device id, user UPN, key id (hex).
    /// Signed by the Hello key (the assertion) and by the device key.
    ///
    /// In JSON this is `sign_in` (the enum's snake_case form); `signin`, the spelling of
    /// [`Purpose::as_str`] used in the signed message, is accepted as an alias.
    #[serde(alias = "signin")]
    SignIn,
    /// Primary refresh token renewal. Fields: tenant id, device id, [`prt_binding`] of the
    /// token being renewed.
    RenewPrt,
    /// Leaving the organisation (device disable). Fields: tenant id, device id.
    Leave,
    /// A policy session message or an effective-policy request (`/v1/policy/...`).
    /// Fields: tenant id, device id, user UPN (empty when none), lowercase hex SHA-256 of
    /// the request body (of the SyncML message; of the empty string for
    /// `POST /v1/policy/effective`).
    PolicySync,
    /// An access token for an audience from a primary refresh token (`POST /v1/token`).
    /// Fields: tenant id, device id, [`prt_binding`] of the token, the audience (as sent).
    Token,
    /// The device's TPM credential activation, both steps (`/v1/devices/tpm/activate/...`).
    /// Fields: [`crate::api::tpm::activate_begin_fields`] or
    /// [`crate::api::tpm::activate_finish_fields`].
    TpmActivate,
    /// A Hello certificate enrolment (`POST /v1/certificates/enroll`). Fields:
    /// [`crate::api::cert::enroll_fields`]. Signed by the device key.
    CertEnroll,
    /// A Hello certificate renewal (`POST /v1/certificates/renew`). Fields:
    /// [`crate::api::cert::renew_fields`]. Signed by the device key and the Hello key.
    CertRenew,
    /// A non-destructive PIN reset (`POST /v1/pin/reset`). Fields:
    /// [`crate::api::pin_reset::reset_fields`]. Signed by the device key.
    PinReset,
}

impl Purpose {
    /// The stable name of the purpose, as it appears in the signed message and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Join => "join",
            Purpose::RegisterKey => "register_key",
            Purpose::SignIn => "signin",
            Purpose::RenewPrt => "renew_prt",
            Purpose::Leave => "leave",
            Purpose::PolicySync => "policy_sync",
            Purpose::Token => "token",
            Purpose::TpmActivate => "tpm_activate",
            Purpose::CertEnroll => "cert_enroll",
            Purpose::CertRenew => "cert_renew",
            Purpose::PinReset => "pin_reset",
        }
    }

    /// Every purpose.
    pub const ALL: [Purpose; 11] = [
        Purpose::Join,
        Purpose::RegisterKey,
        Purpose::SignIn,
        Purpose::RenewPrt,
        Purpose::Leave,
        Purpose::PolicySync,
        Purpose::Token,
        Purpose::TpmActivate,
        Purpose::CertEnroll,
        Purpose::CertRenew,
        Purpose::PinReset,
    ];
}

/// What a proof that uses a primary refresh token binds of it: the lowercase hex SHA-256 of
/// the token's text. The proof then names the one token it was made for (a proof cannot be
/// carried over to another token), without the token itself being part of the signed bytes.
pub fn prt_binding(prt: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(prt.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Builds the message to sign for `purpose` over `nonce` and the purpose's `fields`.
pub fn proof_message(purpose: Purpose, nonce: &str, fields: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    out.extend_from_slice(DOMAIN);
    out.push(0);
    out.extend_from_slice(purpose.as_str().as_bytes());
    out.push(0);
    out.extend_from_slice(nonce.as_bytes());
    for field in fields {
        // Fields are identifiers and base64 text bounded by the request size limit.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_by_purpose_nonce_and_field_boundaries() {
        let a = proof_message(Purpose::SignIn, "n1", &["ab", "c"]);
        assert_ne!(a, proof_message(Purpose::RegisterKey, "n1", &["ab", "c"]));
        assert_ne!(a, proof_message(Purpose::SignIn, "n2", &["ab", "c"]));
        assert_ne!(a, proof_message(Purpose::SignIn, "n1", &["a", "bc"]));
        assert!(a.starts_with(b"LATCHKEY-PROOF-V1\0signin\0n1"));
    }

    #[test]
    fn a_prt_binding_is_the_hex_sha256_of_the_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            prt_binding("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
