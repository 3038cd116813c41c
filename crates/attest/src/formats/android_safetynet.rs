//! `android-safetynet` attestation (WebAuthn Level 2, 8.5). SafetyNet is deprecated by
//! Google; it is verified here for authenticators registered with it.
//!
//! ```text
//! safetynetStmtFormat = { ver: text, response: bytes }   -- response: a JWS in compact form
//! JWS header  { "alg": "RS256", "x5c": [ base64 DER, ... ] }
//! JWS payload { "nonce": base64(SHA-256(authData || clientDataHash)),
//!               "timestampMs": int, "ctsProfileMatch": bool, "basicIntegrity": bool, ... }
//! ```

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;

use crate::chain::{cert_key, parse_cert};
use crate::crypto::CoseAlg;
use crate::error::AttestError;

use super::{AttestationType, StatementInput, StatementOutcome};

/// The host name SafetyNet attestation certificates are issued to.
const SAFETYNET_HOST: &str = "attest.android.com";

#[derive(Deserialize)]
struct Header {
    alg: String,
    x5c: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    nonce: String,
    timestamp_ms: i64,
    cts_profile_match: bool,
}

fn malformed(detail: impl Into<String>) -> AttestError {
    AttestError::SafetyNetMalformed {
        detail: detail.into(),
    }
}

fn json_part<T: for<'de> Deserialize<'de>>(part: &str, name: &str) -> Result<T, AttestError> {
    let raw = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(format!("JWS {name} is not base64url")))?;
    serde_json::from_slice(&raw).map_err(|e| malformed(format!("JWS {name}: {e}")))
}

fn issued_to_safetynet(leaf: &x509_parser::certificate::X509Certificate<'_>) -> bool {
    let in_san = leaf
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|san| {
            san.value
                .general_names
                .iter()
                .any(|n| matches!(n, GeneralName::DNSName(h) if *h == SAFETYNET_HOST))
        });
    in_san
        || leaf
            .subject()
            .iter_common_name()
            .any(|cn| cn.as_str().is_ok_and(|s| s == SAFETYNET_HOST))
}

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    if input.text("ver")?.is_empty() {
        return Err(malformed("ver is empty"));
    }
    let jws = std::str::from_utf8(input.bytes("response")?)
        .map_err(|_| malformed("response is not UTF-8"))?;
    let parts: Vec<&str> = jws.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(malformed("response is not a compact JWS"));
    };
    let header: Header = json_part(h, "header")?;
    if header.alg != "RS256" {
        return Err(malformed(format!("unsupported JWS alg {}", header.alg)));
    }
    let x5c = header
        .x5c
        .iter()
        .map(|c| {
            STANDARD
                .decode(c)
                .map_err(|_| malformed("x5c entry is not base64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let [leaf_der, ..] = x5c.as_slice() else {
        return Err(malformed("x5c is empty"));
    };
    let chain = input.validate(&x5c)?;
    let leaf = parse_cert(leaf_der, 0)?;
    if !issued_to_safetynet(&leaf) {
        return Err(AttestError::SafetyNetHostname);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| malformed("JWS signature is not base64url"))?;
    let signing_input = format!("{h}.{p}");
    if !cert_key(&leaf, 0)?.verify(CoseAlg::Rs256, signing_input.as_bytes(), &sig)? {
        return Err(input.bad_signature());
    }
    let payload: Payload = json_part(p, "payload")?;
    let expected_nonce = STANDARD.encode(Sha256::digest(input.signed_data()));
    if payload.nonce != expected_nonce {
        return Err(AttestError::SafetyNetNonceMismatch);
    }
    let at_ms = i64::try_from(input.at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    if payload.timestamp_ms.abs_diff(at_ms) > input.policy.safetynet_max_skew_ms.unsigned_abs() {
        return Err(AttestError::SafetyNetTimestamp {
            timestamp_ms: payload.timestamp_ms,
        });
    }
    if input.policy.enforce_safetynet_cts_profile_match && !payload.cts_profile_match {
        return Err(AttestError::SafetyNetCtsProfile);
    }
    Ok(StatementOutcome {
        attestation_type: AttestationType::Basic,
        chain: Some(chain),
    })
}
