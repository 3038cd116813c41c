//! Negative paths on real captures: each test changes one thing (a signature bit, the RP
//! ID, the policy, the time, the trust anchors, the stored counter, a TPM field) and checks
//! that exactly the matching error is returned.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use ciborium::value::Value as Cbor;
use latchkey_attest::{
    verify_assertion, verify_registration, AssertionOptions, AssertionResponse, AttestError,
    AttestationFormat, CounterPolicy, CounterStatus, Expected, RegistrationPolicy,
    RegistrationResponse, StoredCredential, TrustAnchor, TrustAnchors, VerifiedAssertion,
    VerifiedRegistration,
};
use serde_json::Value;
use time::macros::datetime;
use time::OffsetDateTime;

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn fixtures() -> PathBuf {
    // Cargo's run-time variable first: a binary built in another checkout sharing the
    // target directory must read this checkout's fixtures.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("tests/fixtures")
}

fn vector(id: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("vectors.json")).unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    all.into_iter().find(|v| v["id"] == id).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    B64URL.decode(v.as_str().unwrap()).unwrap()
}

fn anchor(file: &str) -> TrustAnchor {
    TrustAnchor::from_pem(&std::fs::read(fixtures().join("roots").join(file)).unwrap()).unwrap()
}

fn expected(v: &Value) -> Expected {
    Expected::new(
        v["rp_id"].as_str().unwrap(),
        v["origin"].as_str().unwrap(),
        b64(&v["challenge_b64url"]),
    )
}

fn policy(v: &Value) -> RegistrationPolicy {
    let mut anchors = TrustAnchors::new();
    for path in v["trust_anchors"].as_array().unwrap() {
        let pem = std::fs::read(fixtures().join(path.as_str().unwrap())).unwrap();
        anchors.add(TrustAnchor::from_pem(&pem).unwrap());
    }
    RegistrationPolicy {
        trust_anchors: anchors,
        ..RegistrationPolicy::default()
    }
}

fn at(v: &Value) -> OffsetDateTime {
    v["verify_at"]
        .as_str()
        .map(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn register_with(
    v: &Value,
    attestation_object: &[u8],
    expected: &Expected,
    policy: &RegistrationPolicy,
    at: OffsetDateTime,
) -> Result<VerifiedRegistration, AttestError> {
    let cdj = b64(&v["response"]["response"]["clientDataJSON"]);
    let resp = RegistrationResponse {
        client_data_json: &cdj,
        attestation_object,
    };
    verify_registration(&resp, expected, policy, at)
}

fn register(v: &Value, policy: &RegistrationPolicy) -> Result<VerifiedRegistration, AttestError> {
    let ao = b64(&v["response"]["response"]["attestationObject"]);
    register_with(v, &ao, &expected(v), policy, at(v))
}

fn authenticate(
    v: &Value,
    signature: Option<Vec<u8>>,
    stored_count: Option<u32>,
    options: &AssertionOptions,
) -> Result<VerifiedAssertion, AttestError> {
    let r = &v["response"]["response"];
    let (cdj, ad) = (b64(&r["clientDataJSON"]), b64(&r["authenticatorData"]));
    let sig = signature.unwrap_or_else(|| b64(&r["signature"]));
    let raw_id = b64(&v["response"]["rawId"]);
    let stored = StoredCredential {
        credential_id: b64(&v["credential_id_b64url"]),
        public_key_cose: b64(&v["credential_public_key_cose_b64url"]),
        sign_count: stored_count
            .unwrap_or(u32::try_from(v["stored_sign_count"].as_u64().unwrap()).unwrap()),
    };
    let resp = AssertionResponse {
        credential_id: &raw_id,
        client_data_json: &cdj,
        authenticator_data: &ad,
        signature: &sig,
    };
    verify_assertion(&resp, &expected(v), &stored, options)
}

/// Decode an attestation object, let `edit` change attStmt, and encode it again.
fn edit_statement(ao: &[u8], edit: impl FnOnce(&mut Vec<(Cbor, Cbor)>)) -> Vec<u8> {
    let mut value: Cbor = ciborium::de::from_reader(ao).unwrap();
    let Cbor::Map(map) = &mut value else { panic!() };
    let (_, stmt) = map
        .iter_mut()
        .find(|(k, _)| *k == Cbor::Text("attStmt".into()))
        .unwrap();
    let Cbor::Map(stmt) = stmt else { panic!() };
    edit(stmt);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).unwrap();
    out
}

fn stmt_bytes<'a>(stmt: &'a mut [(Cbor, Cbor)], key: &str) -> &'a mut Vec<u8> {
    for (k, v) in stmt.iter_mut() {
        if *k == Cbor::Text(key.into()) {
            if let Cbor::Bytes(b) = v {
                return b;
            }
        }
    }
    panic!("no {key}");
}

#[test]
fn tampered_assertion_signature_is_refused() {
    let v = vector("auth-es256-yubikey-localhost");
    let mut sig = b64(&v["response"]["response"]["signature"]);
    let last = sig.len() - 1;
    sig[last] ^= 0x01;
    let e = authenticate(&v, Some(sig), None, &AssertionOptions::default()).unwrap_err();
    assert_eq!(e, AttestError::AssertionSignatureInvalid);
    assert_eq!(e.code(), "LK-ATT-038");
}

#[test]
fn tampered_tpm_signature_and_fields_are_refused() {
    let v = vector("reg-tpm-winhello-surfacepro4-intel");
    let ao = b64(&v["response"]["response"]["attestationObject"]);
    let (exp, pol) = (expected(&v), policy(&v));

    let bad_sig = edit_statement(&ao, |s| stmt_bytes(s, "sig")[10] ^= 0x40);
    let e = register_with(&v, &bad_sig, &exp, &pol, at(&v)).unwrap_err();
    assert_eq!(
        e,
        AttestError::AttestationSignatureInvalid { format: "tpm" }
    );

    // extraData is the last 20 bytes of its TPM2B, after magic, type and qualifiedSigner.
    let bad_extra = edit_statement(&ao, |s| {
        let info = stmt_bytes(s, "certInfo");
        let signer_len = usize::from(u16::from_be_bytes([info[6], info[7]]));
        info[8 + signer_len + 2] ^= 0xff;
    });
    let e = register_with(&v, &bad_extra, &exp, &pol, at(&v)).unwrap_err();
    assert_eq!(e, AttestError::TpmAttestInvalid { field: "extraData" });

    let bad_pub = edit_statement(&ao, |s| {
        let p = stmt_bytes(s, "pubArea");
        let last = p.len() - 1;
        p[last] ^= 0x01;
    });
    let e = register_with(&v, &bad_pub, &exp, &pol, at(&v)).unwrap_err();
    assert_eq!(
        e,
        AttestError::CredentialKeyMismatch {
            what: "TPM pubArea key"
        }
    );

    let trailing = edit_statement(&ao, |s| stmt_bytes(s, "certInfo").push(0));
    let e = register_with(&v, &trailing, &exp, &pol, at(&v)).unwrap_err();
    assert_eq!(e.code(), "LK-ATT-028");
}

#[test]
fn wrong_rp_id_hash_is_refused() {
    let v = vector("reg-packed-full-yubikey5-firefox");
    let ao = b64(&v["response"]["response"]["attestationObject"]);
    let mut exp = expected(&v);
    exp.rp_id = "evil.example".into();
    let e = register_with(&v, &ao, &exp, &policy(&v), at(&v)).unwrap_err();
    assert_eq!(
        e,
        AttestError::RpIdHashMismatch {
            rp_id: "evil.example".into()
        }
    );
}

#[test]
fn missing_user_verification_is_refused_when_required() {
    let v = vector("reg-packed-full-yubikey5nfc");
    let mut pol = policy(&v);
    assert!(!register(&v, &pol).unwrap().user_verified());
    pol.require_user_verification = true;
    assert_eq!(
        register(&v, &pol).unwrap_err(),
        AttestError::UserVerificationMissing
    );

    let a = vector("auth-es256-yubikey-localhost");
    let options = AssertionOptions {
        require_user_verification: true,
        ..AssertionOptions::default()
    };
    assert_eq!(
        authenticate(&a, None, None, &options).unwrap_err(),
        AttestError::UserVerificationMissing
    );
}

#[test]
fn chain_outside_its_validity_at_verify_time_is_refused() {
    let v = vector("reg-android-key-pixel8a");
    let ao = b64(&v["response"]["response"]["attestationObject"]);
    let (exp, pol) = (expected(&v), policy(&v));
    register_with(&v, &ao, &exp, &pol, at(&v)).unwrap();
    // The TEE attestation certificate (x5c[1]) expired on 2025-02-02.
    let e = register_with(&v, &ao, &exp, &pol, datetime!(2026-01-01 0:00 UTC)).unwrap_err();
    assert!(
        matches!(e, AttestError::CertificateNotValidAtTime { index: 1, .. }),
        "{e}"
    );
    assert_eq!(e.code(), "LK-ATT-022");

    let v = vector("reg-apple-passkey-2021");
    let ao = b64(&v["response"]["response"]["attestationObject"]);
    let e = register_with(
        &v,
        &ao,
        &expected(&v),
        &policy(&v),
        datetime!(2021-08-01 0:00 UTC),
    )
    .unwrap_err();
    assert!(
        matches!(e, AttestError::CertificateNotValidAtTime { .. }),
        "{e}"
    );
}

#[test]
fn untrusted_root_is_refused() {
    let v = vector("reg-tpm-winhello-nuvoton-rsa");
    let mut pol = policy(&v);
    pol.trust_anchors = TrustAnchors::new();
    pol.trust_anchors
        .add(anchor("yubico_u2f_root_ca_serial_457200631.pem"));
    let e = register(&v, &pol).unwrap_err();
    assert!(matches!(e, AttestError::UntrustedChain { .. }), "{e}");
    assert_eq!(e.code(), "LK-ATT-023");

    // The right root, but scoped to another format, does not count either.
    pol.trust_anchors = TrustAnchors::new();
    pol.trust_anchors.add_for(
        anchor("microsoft_tpm_root_ca_2014.pem"),
        &[AttestationFormat::Packed],
    );
    assert!(matches!(
        register(&v, &pol).unwrap_err(),
        AttestError::UntrustedChain { .. }
    ));
    pol.trust_anchors.add_for(
        anchor("microsoft_tpm_root_ca_2014.pem"),
        &[AttestationFormat::Tpm],
    );
    let ok = register(&v, &pol).unwrap();
    assert!(ok
        .chain()
        .unwrap()
        .anchor_subject
        .contains("Microsoft TPM Root"));
}

#[test]
fn counter_regression_is_refused_or_reported() {
    let v = vector("auth-yubikey5nfc");
    let e = authenticate(&v, None, Some(100), &AssertionOptions::default()).unwrap_err();
    assert_eq!(
        e,
        AttestError::SignCounterRegression {
            stored: 100,
            received: 58
        }
    );
    let report = AssertionOptions {
        counter: CounterPolicy::Report,
        ..AssertionOptions::default()
    };
    let ok = authenticate(&v, None, Some(100), &report).unwrap();
    assert_eq!(ok.counter(), CounterStatus::Regressed);
    let ok = authenticate(&v, None, None, &AssertionOptions::default()).unwrap();
    assert_eq!(
        (ok.counter(), ok.sign_count()),
        (CounterStatus::Increased, 58)
    );

    let apple = vector("auth-apple-ios");
    let ok = authenticate(&apple, None, None, &AssertionOptions::default()).unwrap();
    assert_eq!(ok.counter(), CounterStatus::Unsupported);
}

#[test]
fn wrong_challenge_or_origin_in_assertion_is_refused() {
    let v = vector("auth-eddsa");
    let mut w = v.clone();
    w["challenge_b64url"] = Value::String("AAAA".into());
    assert_eq!(
        authenticate(&w, None, None, &AssertionOptions::default()).unwrap_err(),
        AttestError::ChallengeMismatch
    );
    let mut w = v.clone();
    w["origin"] = Value::String("https://localhost:5000".into());
    assert!(matches!(
        authenticate(&w, None, None, &AssertionOptions::default()).unwrap_err(),
        AttestError::OriginMismatch { .. }
    ));
}

#[test]
fn safetynet_timestamp_outside_window_is_refused() {
    let v = vector("reg-android-safetynet-chrome-2021");
    let ao = b64(&v["response"]["response"]["attestationObject"]);
    let later = at(&v) + time::Duration::minutes(5);
    let e = register_with(&v, &ao, &expected(&v), &policy(&v), later).unwrap_err();
    assert!(matches!(e, AttestError::SafetyNetTimestamp { .. }), "{e}");
}

#[test]
fn none_attestation_can_be_refused_by_policy() {
    let v = vector("reg-none-yubikey-localhost");
    let pol = RegistrationPolicy {
        allow_none_attestation: false,
        ..RegistrationPolicy::default()
    };
    assert_eq!(register(&v, &pol).unwrap_err().code(), "LK-ATT-015");
}
