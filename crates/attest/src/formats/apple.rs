//! `apple` anonymous attestation (WebAuthn Level 2, 8.8).
//!
//! ```text
//! appleStmtFormat = { x5c: [ credCert: bytes, * (caCert: bytes) ] }
//! credCert extension 1.2.840.113635.100.8.2:
//!     SEQUENCE { [1] EXPLICIT OCTET STRING nonce }   -- nonce = SHA-256(authData || clientDataHash)
//! ```

use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::Tag;

use crate::chain::{cert_key, parse_cert};
use crate::der::{elements, read_single};
use crate::error::AttestError;

use super::{AttestationType, StatementInput, StatementOutcome};

/// Apple's nonce extension.
const OID_APPLE_NONCE: &str = "1.2.840.113635.100.8.2";

fn nonce(ext_value: &[u8]) -> Option<&[u8]> {
    let seq = read_single(ext_value).filter(|t| t.is_universal(Tag::Sequence))?;
    let items = elements(seq.contents)?;
    let tagged = items.iter().find(|t| t.is_context(1))?;
    let octets = read_single(tagged.contents).filter(|t| t.is_universal(Tag::OctetString))?;
    Some(octets.contents)
}

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    let x5c = input.x5c_required()?;
    let leaf = parse_cert(input.leaf(&x5c)?, 0)?;
    let ext = leaf
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_APPLE_NONCE)
        .ok_or(input.requirement("nonce extension 1.2.840.113635.100.8.2 missing"))?;
    let found = nonce(ext.value).ok_or(input.requirement("nonce extension malformed"))?;
    let expected = Sha256::digest(input.signed_data());
    if found != expected.as_slice() {
        return Err(AttestError::AppleNonceMismatch);
    }
    if cert_key(&leaf, 0)? != input.credential.public_key.key {
        return Err(AttestError::CredentialKeyMismatch {
            what: "apple credential certificate key",
        });
    }
    let chain = input.validate(&x5c)?;
    Ok(StatementOutcome {
        attestation_type: AttestationType::AnonCa,
        chain: Some(chain),
    })
}
