//! Helpers shared by the fuzz targets: splitting one fuzz input into several byte strings,
//! and the fixed verifier options taken from the real vectors in
//! `crates/attest/tests/fixtures/vectors.json`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use latchkey_attest::{
    AssertionOptions, Expected, RegistrationPolicy, StoredCredential, TrustAnchor, TrustAnchors,
};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Splits off a byte string prefixed by its length (u16, big-endian). A short input gives
/// what is there, so every input maps to some split.
pub fn take_prefixed<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let (len, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (0, &data[data.len()..]),
    };
    let (head, tail) = rest.split_at(len.min(rest.len()));
    *data = tail;
    head
}

/// The attest test fixtures directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/attest/tests/fixtures")
}

/// The options one registration vector was verified with.
pub struct RegistrationCase {
    /// RP ID, origin, challenge.
    pub expected: Expected,
    /// Trust anchors and flags.
    pub policy: RegistrationPolicy,
    /// The verification time.
    pub at: OffsetDateTime,
}

/// The options and stored credential of one assertion vector.
pub struct AssertionCase {
    /// RP ID, origin, challenge.
    pub expected: Expected,
    /// The credential as stored at registration.
    pub credential: StoredCredential,
    /// Flags and counter policy.
    pub options: AssertionOptions,
}

fn b64(v: &Value) -> Vec<u8> {
    v.as_str()
        .and_then(|s| B64URL.decode(s).ok())
        .unwrap_or_default()
}

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("vectors.json")).expect("vectors.json");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

fn expected_of(v: &Value) -> Expected {
    Expected::new(
        v["rp_id"].as_str().unwrap_or_default(),
        v["origin"].as_str().unwrap_or_default(),
        b64(&v["challenge_b64url"]),
    )
}

fn flag(v: &Value, name: &str) -> Option<bool> {
    v["verifier_options"][name].as_bool()
}

/// Every registration vector's fixed options, in file order.
pub fn registration_cases() -> &'static [RegistrationCase] {
    static CASES: OnceLock<Vec<RegistrationCase>> = OnceLock::new();
    CASES.get_or_init(|| {
        vectors()
            .iter()
            .filter(|v| v["kind"] == "registration")
            .map(|v| {
                let mut anchors = TrustAnchors::new();
                for path in v["trust_anchors"].as_array().into_iter().flatten() {
                    let pem = std::fs::read(fixtures().join(path.as_str().unwrap_or_default()))
                        .expect("trust anchor file");
                    anchors.add(TrustAnchor::from_pem(&pem).expect("trust anchor parses"));
                }
                let mut policy = RegistrationPolicy {
                    trust_anchors: anchors,
                    ..RegistrationPolicy::default()
                };
                if let Some(b) = flag(v, "require_user_verification") {
                    policy.require_user_verification = b;
                }
                if let Some(b) = flag(v, "require_user_presence") {
                    policy.require_user_presence = b;
                }
                if let Some(b) = flag(v, "enforce_safetynet_cts_profile_match") {
                    policy.enforce_safetynet_cts_profile_match = b;
                }
                let at = v["verify_at"]
                    .as_str()
                    .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                RegistrationCase {
                    expected: expected_of(v),
                    policy,
                    at,
                }
            })
            .collect()
    })
}

/// Every authentication vector's fixed options, in file order.
pub fn assertion_cases() -> &'static [AssertionCase] {
    static CASES: OnceLock<Vec<AssertionCase>> = OnceLock::new();
    CASES.get_or_init(|| {
        vectors()
            .iter()
            .filter(|v| v["kind"] == "authentication")
            .map(|v| {
                let mut options = AssertionOptions::default();
                if let Some(b) = flag(v, "require_user_verification") {
                    options.require_user_verification = b;
                }
                if let Some(b) = flag(v, "require_user_presence") {
                    options.require_user_presence = b;
                }
                AssertionCase {
                    expected: expected_of(v),
                    credential: StoredCredential {
                        credential_id: b64(&v["credential_id_b64url"]),
                        public_key_cose: b64(&v["credential_public_key_cose_b64url"]),
                        sign_count: v["stored_sign_count"]
                            .as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .unwrap_or(0),
                    },
                    options,
                }
            })
            .collect()
    })
}

/// Picks a case by the input's first byte (modulo the number of cases).
pub fn pick<'a, T>(cases: &'a [T], data: &mut &[u8]) -> Option<&'a T> {
    let (first, rest) = data.split_first()?;
    *data = rest;
    cases.get(usize::from(*first) % cases.len().max(1))
}
