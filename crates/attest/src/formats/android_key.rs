//! `android-key` attestation (WebAuthn Level 2, 8.4), with the Android Keystore key
//! attestation extension.
//!
//! ```text
//! androidStmtFormat = { alg: COSEAlgorithmIdentifier, sig: bytes, x5c: [ credCert: bytes, * (caCert: bytes) ] }
//!
//! KeyDescription ::= SEQUENCE {            -- extension 1.3.6.1.4.1.11129.2.1.17
//!     attestationVersion        INTEGER,
//!     attestationSecurityLevel  SecurityLevel,
//!     keyMintVersion            INTEGER,
//!     keyMintSecurityLevel      SecurityLevel,
//!     attestationChallenge      OCTET_STRING,
//!     uniqueId                  OCTET_STRING,
//!     softwareEnforced          AuthorizationList,
//!     hardwareEnforced          AuthorizationList }
//! AuthorizationList ::= SEQUENCE {
//!     purpose          [1]   EXPLICIT SET OF INTEGER OPTIONAL,   -- KM_PURPOSE_SIGN = 2
//!     allApplications  [600] EXPLICIT NULL OPTIONAL,
//!     origin           [702] EXPLICIT INTEGER OPTIONAL,          -- KM_ORIGIN_GENERATED = 0
//!     ... }
//! ```

use x509_parser::asn1_rs::Tag;

use crate::chain::{cert_key, parse_cert};
use crate::der::{elements, read_single, small_uint, Tlv};
use crate::error::AttestError;

use super::{AttestationType, StatementInput, StatementOutcome};

/// The Android key attestation extension.
const OID_KEY_DESCRIPTION: &str = "1.3.6.1.4.1.11129.2.1.17";
const KM_PURPOSE_SIGN: u64 = 2;
const KM_ORIGIN_GENERATED: u64 = 0;

fn bad(detail: &'static str) -> AttestError {
    AttestError::AndroidKeyDescription { detail }
}

/// The parts of an AuthorizationList WebAuthn looks at.
#[derive(Default)]
struct Authorizations {
    purposes: Vec<u64>,
    all_applications: bool,
    origin: Option<u64>,
}

fn authorizations(list: &Tlv<'_>) -> Result<Authorizations, AttestError> {
    if !list.is_universal(Tag::Sequence) {
        return Err(bad("AuthorizationList is not a SEQUENCE"));
    }
    let mut out = Authorizations::default();
    for item in elements(list.contents).ok_or(bad("AuthorizationList malformed"))? {
        if item.is_context(1) {
            let set = read_single(item.contents)
                .filter(|t| t.is_universal(Tag::Set))
                .ok_or(bad("purpose is not a SET"))?;
            for p in elements(set.contents).ok_or(bad("purpose malformed"))? {
                out.purposes
                    .push(small_uint(p.contents).ok_or(bad("purpose value malformed"))?);
            }
        } else if item.is_context(600) {
            out.all_applications = true;
        } else if item.is_context(702) {
            let v = read_single(item.contents).ok_or(bad("origin malformed"))?;
            out.origin = Some(small_uint(v.contents).ok_or(bad("origin value malformed"))?);
        }
    }
    Ok(out)
}

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    let alg = input.alg()?;
    let sig = input.bytes("sig")?;
    let x5c = input.x5c_required()?;
    let leaf = parse_cert(input.leaf(&x5c)?, 0)?;
    let key = cert_key(&leaf, 0)?;
    if !key.verify(alg, &input.signed_data(), sig)? {
        return Err(input.bad_signature());
    }
    if key != input.credential.public_key.key {
        return Err(AttestError::CredentialKeyMismatch {
            what: "android-key credential certificate key",
        });
    }
    let ext = leaf
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_KEY_DESCRIPTION)
        .ok_or(bad("extension 1.3.6.1.4.1.11129.2.1.17 missing"))?;
    let seq = read_single(ext.value)
        .filter(|t| t.is_universal(Tag::Sequence))
        .ok_or(bad("KeyDescription is not a SEQUENCE"))?;
    let fields = elements(seq.contents).ok_or(bad("KeyDescription malformed"))?;
    // KeyDescription: attestationVersion, attestationSecurityLevel, keymasterVersion,
    // keymasterSecurityLevel, attestationChallenge, uniqueId, softwareEnforced,
    // hardwareEnforced (later versions may append fields).
    let [_, _, _, _, challenge, _, software, hardware, ..] = fields.as_slice() else {
        return Err(bad("KeyDescription has too few fields"));
    };
    if !challenge.is_universal(Tag::OctetString) {
        return Err(bad("attestationChallenge is not an OCTET STRING"));
    }
    if challenge.contents != input.client_data_hash {
        return Err(bad("attestationChallenge differs from clientDataHash"));
    }
    let software = authorizations(software)?;
    let hardware = authorizations(hardware)?;
    if software.all_applications || hardware.all_applications {
        return Err(bad("allApplications present"));
    }
    let allow_sw = input.policy.android_key_allow_software_enforced;
    let origin_ok = hardware.origin == Some(KM_ORIGIN_GENERATED)
        || (allow_sw && software.origin == Some(KM_ORIGIN_GENERATED));
    if !origin_ok {
        return Err(bad("key origin is not KM_ORIGIN_GENERATED"));
    }
    let purpose_ok = hardware.purposes.contains(&KM_PURPOSE_SIGN)
        || (allow_sw && software.purposes.contains(&KM_PURPOSE_SIGN));
    if !purpose_ok {
        return Err(bad("key purpose does not include KM_PURPOSE_SIGN"));
    }
    let chain = input.validate(&x5c)?;
    Ok(StatementOutcome {
        attestation_type: AttestationType::Basic,
        chain: Some(chain),
    })
}
