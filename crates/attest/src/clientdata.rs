//! clientDataJSON: parsed as JSON (never compared as text) and checked against what the
//! relying party expects.
//!
//! WebAuthn Level 2, 5.8.1:
//! ```text
//! dictionary CollectedClientData {
//!     required DOMString type;       // "webauthn.create" or "webauthn.get"
//!     required DOMString challenge;  // base64url of the challenge
//!     required DOMString origin;
//!     boolean crossOrigin;
//!     TokenBinding tokenBinding;     // status: "present" | "supported"
//! };
//! ```

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::AttestError;
use crate::options::{Expected, MAX_INPUT_LEN};

/// base64url, with or without padding (some clients pad the challenge).
const B64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The ceremony a clientDataJSON belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Registration: `webauthn.create`.
    Create,
    /// Authentication: `webauthn.get`.
    Get,
}

impl Ceremony {
    fn type_str(self) -> &'static str {
        match self {
            Self::Create => "webauthn.create",
            Self::Get => "webauthn.get",
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin")]
    cross_origin: Option<bool>,
    #[serde(rename = "tokenBinding")]
    token_binding: Option<RawTokenBinding>,
}

#[derive(Deserialize)]
struct RawTokenBinding {
    status: String,
}

/// clientDataJSON that passed every check, with its SHA-256 (`clientDataHash`).
#[derive(Debug, Clone)]
pub struct CheckedClientData {
    /// SHA-256 of the exact clientDataJSON bytes.
    pub hash: [u8; 32],
    /// The origin found (one of the expected origins).
    pub origin: String,
}

/// Parse clientDataJSON and check type, challenge, origin, crossOrigin and tokenBinding.
pub fn check(
    json: &[u8],
    ceremony: Ceremony,
    expected: &Expected,
    allow_cross_origin: bool,
) -> Result<CheckedClientData, AttestError> {
    if json.len() > MAX_INPUT_LEN {
        return Err(AttestError::LimitExceeded {
            what: "clientDataJSON",
            limit: MAX_INPUT_LEN,
        });
    }
    let raw: Raw = serde_json::from_slice(json).map_err(|e| AttestError::ClientDataMalformed {
        detail: e.to_string(),
    })?;
    if raw.kind != ceremony.type_str() {
        return Err(AttestError::ClientDataType {
            expected: ceremony.type_str(),
            found: raw.kind,
        });
    }
    let challenge = B64URL_LENIENT
        .decode(raw.challenge.as_bytes())
        .map_err(|_| AttestError::ClientDataMalformed {
            detail: "challenge is not base64url".into(),
        })?;
    if challenge != expected.challenge {
        return Err(AttestError::ChallengeMismatch);
    }
    if !expected.origins.contains(&raw.origin) {
        return Err(AttestError::OriginMismatch { found: raw.origin });
    }
    if raw.cross_origin == Some(true) && !allow_cross_origin {
        return Err(AttestError::CrossOrigin);
    }
    if let Some(tb) = raw.token_binding {
        if tb.status != "present" && tb.status != "supported" {
            return Err(AttestError::TokenBindingStatus { status: tb.status });
        }
    }
    Ok(CheckedClientData {
        hash: Sha256::digest(json).into(),
        origin: raw.origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected::new("example.com", "https://example.com", b"abc".to_vec())
    }

    #[test]
    fn escaped_slashes_parse_as_json() {
        let j = br#"{"type":"webauthn.get","challenge":"YWJj","origin":"https:\/\/example.com"}"#;
        assert!(check(j, Ceremony::Get, &expected(), false).is_ok());
    }

    #[test]
    fn wrong_type_and_cross_origin() {
        let j = br#"{"type":"webauthn.get","challenge":"YWJj","origin":"https://example.com"}"#;
        let e = check(j, Ceremony::Create, &expected(), false).unwrap_err();
        assert_eq!(e.code(), "LK-ATT-002");
        let j = br#"{"type":"webauthn.get","challenge":"YWJj","origin":"https://example.com","crossOrigin":true}"#;
        let e = check(j, Ceremony::Get, &expected(), false).unwrap_err();
        assert_eq!(e, AttestError::CrossOrigin);
    }

    #[test]
    fn padded_challenge_accepted() {
        let j = br#"{"type":"webauthn.get","challenge":"YWJjZA==","origin":"https://example.com"}"#;
        let mut e = expected();
        e.challenge = b"abcd".to_vec();
        assert!(check(j, Ceremony::Get, &e, false).is_ok());
    }
}
