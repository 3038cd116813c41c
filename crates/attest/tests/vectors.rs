//! Every real-authenticator vector in `tests/fixtures/vectors.json` (35 registrations and
//! assertions; see `tests/fixtures/README.md`) must get the verdict it names, and every
//! reject must fail for the reason it names, mapped explicitly to an error variant below.
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
use latchkey_attest::{
    verify_assertion, verify_registration, AssertionOptions, AssertionResponse, AttestError,
    AttestationType, Expected, RegistrationPolicy, RegistrationResponse, Sha1Policy,
    StoredCredential, TrustAnchor, TrustAnchors,
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

fn fixtures() -> PathBuf {
    // Cargo's run-time variable first: a binary built in another checkout sharing the
    // target directory must read this checkout's fixtures.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("tests/fixtures")
}

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    B64URL.decode(v.as_str().unwrap()).unwrap()
}

/// The reason each reject vector names, as the error variant that must be returned.
fn expected_reject(id: &str) -> Option<fn(&AttestError) -> bool> {
    Some(match id {
        "reg-none-wrong-challenge" => |e| matches!(e, AttestError::ChallengeMismatch),
        "reg-none-wrong-origin" => |e| matches!(e, AttestError::OriginMismatch { .. }),
        "reg-none-wrong-rpid" => |e| matches!(e, AttestError::RpIdHashMismatch { .. }),
        "reg-packed-bad-signature" => |e| {
            matches!(
                e,
                AttestError::AttestationSignatureInvalid { format: "packed" }
            )
        },
        "reg-fido-u2f-tokenbinding-not-supported" => {
            |e| matches!(e, AttestError::TokenBindingStatus { status } if status == "not-supported")
        }
        "reg-packed-aaguid-ext-mismatch" => |e| matches!(e, AttestError::AaguidMismatch),
        "reg-android-safetynet-cts-false" => |e| matches!(e, AttestError::SafetyNetCtsProfile),
        "reg-tpm-winhello-expired-aik" => {
            |e| matches!(e, AttestError::CertificateNotValidAtTime { index: 0, .. })
        }
        "auth-bad-signature-wrong-key" => |e| matches!(e, AttestError::AssertionSignatureInvalid),
        "auth-uv-required-not-verified" => |e| matches!(e, AttestError::UserVerificationMissing),
        "auth-counter-not-increasing" => |e| {
            matches!(
                e,
                AttestError::SignCounterRegression {
                    stored: 144,
                    received: 144
                }
            )
        },
        "auth-wrong-rpid" => |e| matches!(e, AttestError::RpIdHashMismatch { .. }),
        _ => return None,
    })
}

fn expected_of(v: &Value) -> Expected {
    Expected::new(
        v["rp_id"].as_str().unwrap(),
        v["origin"].as_str().unwrap(),
        b64(&v["challenge_b64url"]),
    )
}

fn verify_at(v: &Value) -> OffsetDateTime {
    match v["verify_at"].as_str() {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339).unwrap(),
        // Vectors without a chain do not depend on the time.
        None => OffsetDateTime::UNIX_EPOCH,
    }
}

fn policy_of(v: &Value) -> RegistrationPolicy {
    let mut anchors = TrustAnchors::new();
    for path in v["trust_anchors"].as_array().unwrap() {
        let pem = std::fs::read(fixtures().join(path.as_str().unwrap())).unwrap();
        anchors.add(TrustAnchor::from_pem(&pem).unwrap());
    }
    let mut policy = RegistrationPolicy {
        trust_anchors: anchors,
        ..RegistrationPolicy::default()
    };
    for (key, value) in v["verifier_options"].as_object().unwrap() {
        let b = value.as_bool().unwrap();
        match key.as_str() {
            "require_user_verification" => policy.require_user_verification = b,
            "require_user_presence" => policy.require_user_presence = b,
            "enforce_safetynet_cts_profile_match" => policy.enforce_safetynet_cts_profile_match = b,
            other => panic!("unknown verifier option {other}"),
        }
    }
    policy
}

fn assertion_options_of(v: &Value) -> AssertionOptions {
    let mut o = AssertionOptions::default();
    for (key, value) in v["verifier_options"].as_object().unwrap() {
        let b = value.as_bool().unwrap();
        match key.as_str() {
            "require_user_verification" => o.require_user_verification = b,
            "require_user_presence" => o.require_user_presence = b,
            other => panic!("unknown verifier option {other}"),
        }
    }
    o
}

fn run_registration(v: &Value, policy: &RegistrationPolicy) -> Result<(), AttestError> {
    let r = &v["response"]["response"];
    let cdj = b64(&r["clientDataJSON"]);
    let ao = b64(&r["attestationObject"]);
    let resp = RegistrationResponse {
        client_data_json: &cdj,
        attestation_object: &ao,
    };
    let verified = verify_registration(&resp, &expected_of(v), policy, verify_at(v))?;
    assert_eq!(
        verified.credential_id(),
        b64(&v["response"]["rawId"]).as_slice()
    );
    assert_eq!(verified.format().as_str(), v["format"].as_str().unwrap());
    let has_x5c = !v["trust_anchors"].as_array().unwrap().is_empty();
    let expected_type = match v["format"].as_str().unwrap() {
        "none" => AttestationType::None,
        "packed" if !has_x5c => AttestationType::SelfAttestation,
        "tpm" => AttestationType::AttCa,
        "apple" => AttestationType::AnonCa,
        _ => AttestationType::Basic,
    };
    assert_eq!(verified.attestation_type(), expected_type, "{}", v["id"]);
    // A chain was validated exactly when the vector names trust anchors.
    assert_eq!(verified.chain().is_some(), has_x5c, "{}", v["id"]);
    Ok(())
}

fn run_authentication(v: &Value) -> Result<(), AttestError> {
    let r = &v["response"]["response"];
    let (cdj, ad, sig) = (
        b64(&r["clientDataJSON"]),
        b64(&r["authenticatorData"]),
        b64(&r["signature"]),
    );
    let raw_id = b64(&v["response"]["rawId"]);
    let stored = StoredCredential {
        credential_id: b64(&v["credential_id_b64url"]),
        public_key_cose: b64(&v["credential_public_key_cose_b64url"]),
        sign_count: u32::try_from(v["stored_sign_count"].as_u64().unwrap()).unwrap(),
    };
    let resp = AssertionResponse {
        credential_id: &raw_id,
        client_data_json: &cdj,
        authenticator_data: &ad,
        signature: &sig,
    };
    verify_assertion(&resp, &expected_of(v), &stored, &assertion_options_of(v)).map(|_| ())
}

fn run(v: &Value) -> Result<(), AttestError> {
    match v["kind"].as_str().unwrap() {
        "registration" => run_registration(v, &policy_of(v)),
        "authentication" => run_authentication(v),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn all_vectors_get_their_expected_verdict_and_reason() {
    let all = vectors();
    assert_eq!(all.len(), 35, "the vector file should hold 35 vectors");
    let mut failures = Vec::new();
    for v in &all {
        let id = v["id"].as_str().unwrap();
        let result = run(v);
        match (v["expected"].as_str().unwrap(), &result) {
            ("accept", Ok(())) => {}
            ("accept", Err(e)) => failures.push(format!("{id}: expected accept, got {e}")),
            ("reject", Ok(())) => failures.push(format!("{id}: expected reject, got accept")),
            ("reject", Err(e)) => {
                let Some(is_expected) = expected_reject(id) else {
                    failures.push(format!("{id}: reject vector without a mapped reason"));
                    continue;
                };
                if !is_expected(e) {
                    failures.push(format!(
                        "{id}: rejected for the wrong reason: {e} (expected: {})",
                        v["reason"]
                    ));
                }
            }
            (other, _) => failures.push(format!("{id}: unknown expected value {other}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn strict_sha1_policy_refuses_windows_hello_tpm_rs1() {
    for v in vectors()
        .iter()
        .filter(|v| v["format"] == "tpm" && v["expected"] == "accept")
    {
        let mut policy = policy_of(v);
        policy.sha1 = Sha1Policy::Refuse;
        let e = run_registration(v, &policy).unwrap_err();
        assert_eq!(e, AttestError::InsecureAlgorithmRefused { alg: "RS1" });
        assert_eq!(e.code(), "LK-ATT-026");
    }
}

#[test]
fn policy_dependent_rejects_accept_when_the_policy_is_relaxed() {
    let all = vectors();
    let by_id = |id: &str| all.iter().find(|v| v["id"] == id).unwrap().clone();

    let v = by_id("reg-android-safetynet-cts-false");
    let mut policy = policy_of(&v);
    policy.enforce_safetynet_cts_profile_match = false;
    run_registration(&v, &policy).unwrap();

    let mut v = by_id("auth-uv-required-not-verified");
    v["verifier_options"]["require_user_verification"] = Value::Bool(false);
    run_authentication(&v).unwrap();
}

#[test]
fn chains_without_anchors_are_untrusted() {
    let all = vectors();
    for id in ["reg-packed-full-yubikey5-firefox", "reg-apple-passkey-2021"] {
        let v = all.iter().find(|v| v["id"] == id).unwrap();
        let mut policy = policy_of(v);
        policy.trust_anchors = TrustAnchors::new();
        let e = run_registration(v, &policy).unwrap_err();
        assert!(matches!(e, AttestError::UntrustedChain { .. }), "{id}: {e}");
    }
}
