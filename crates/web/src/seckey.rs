//! FIDO2 security keys: the relying party's side of the WebAuthn ceremonies, on top of
//! `latchkey-attest` (which does every cryptographic and format check). This module adds
//! the tenant's decisions: user verification always required, the attestation roots, the
//! AAGUID allow or block list, and the counter rule (a counter that goes backwards is
//! refused as a possible cloned key).

use latchkey_attest::{
    verify_assertion, verify_registration, AssertionOptions, AssertionResponse, AttestError,
    CounterPolicy, CounterStatus, Expected, RegistrationPolicy, RegistrationResponse,
    StoredCredential, TrustAnchor, TrustAnchors,
};
use latchkey_proto::b64;
use time::OffsetDateTime;

use latchkey_server::error::ApiError;
use latchkey_server::storage::web::{SecurityKey, SecurityKeySettings};

/// Most security keys one user may register (the seed's limit).
pub const MAX_KEYS_PER_USER: i64 = 10;
/// How long a WebAuthn ceremony may take, seconds.
pub const CEREMONY_LIFETIME_SECS: i64 = 300;

/// The relying party: the RP ID (the issuer's host) and the one accepted origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// RP ID.
    pub rp_id: String,
    /// Origin, `scheme://host[:port]`.
    pub origin: String,
}

impl RelyingParty {
    /// The relying party of a service whose issuer (base URL) is `issuer`.
    pub fn from_issuer(issuer: &str) -> RelyingParty {
        let origin = issuer.trim_end_matches('/').to_owned();
        let rest = origin.split_once("://").map_or(origin.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or(v6)
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        };
        RelyingParty {
            rp_id: host.to_owned(),
            origin,
        }
    }

    fn expected(&self, challenge: &[u8]) -> Expected {
        Expected::new(&self.rp_id, &self.origin, challenge.to_vec())
    }
}

/// A registration that passed every check and the tenant's settings.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Credential id, base64url.
    pub credential_id: String,
    /// AAGUID, hyphenated lowercase.
    pub aaguid: String,
    /// Attestation format.
    pub format: String,
    /// Whether the attestation chained to a configured root.
    pub trusted_root: bool,
    /// COSE public key.
    pub public_key_cose: Vec<u8>,
    /// Initial counter.
    pub sign_count: u32,
}

/// Formats an AAGUID as a hyphenated lowercase GUID.
pub fn aaguid_text(aaguid: [u8; 16]) -> String {
    uuid::Uuid::from_bytes(aaguid).hyphenated().to_string()
}

fn anchors(settings: &SecurityKeySettings) -> Result<TrustAnchors, ApiError> {
    let mut anchors = TrustAnchors::new();
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    for block in settings.roots_pem.split(BEGIN).skip(1) {
        let pem = format!("{BEGIN}{block}");
        let anchor = TrustAnchor::from_pem(pem.as_bytes())
            .map_err(|e| ApiError::internal(format!("a configured root is unusable: {e}")))?;
        anchors.add(anchor);
    }
    Ok(anchors)
}

/// The last certificate of the statement's `x5c`, if any (to check an attestation's
/// signatures when its chain leads to no configured root and the tenant accepts that).
fn x5c_root(attestation_object: &[u8]) -> Option<Vec<u8>> {
    use ciborium::Value;
    let value: Value = ciborium::de::from_reader(attestation_object).ok()?;
    let map = value.as_map()?;
    let stmt = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("attStmt"))?
        .1
        .as_map()?;
    let x5c = stmt
        .iter()
        .find(|(k, _)| k.as_text() == Some("x5c"))?
        .1
        .as_array()?;
    x5c.last()?.as_bytes().cloned()
}

fn registration_error(err: AttestError) -> ApiError {
    match err {
        AttestError::UserVerificationMissing => ApiError::SecurityKeyUserNotVerified,
        // Checked on the decoded key before any attestation format is looked at.
        e @ AttestError::CoseKeyInvalid { .. } => ApiError::SecurityKeyPublicKey(e.to_string()),
        other => ApiError::SecurityKeyAttestation(other.to_string()),
    }
}

/// Verifies a registration (attestation `direct`, user verification required) and applies
/// the tenant's settings.
pub fn check_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    settings: &SecurityKeySettings,
    now: OffsetDateTime,
) -> Result<NewKey, ApiError> {
    let response = RegistrationResponse {
        client_data_json,
        attestation_object,
    };
    let expected = rp.expected(challenge);
    let mut policy = RegistrationPolicy {
        trust_anchors: anchors(settings)?,
        require_user_verification: true,
        ..RegistrationPolicy::default()
    };
    let (verified, trusted_root) = match verify_registration(&response, &expected, &policy, now) {
        Ok(v) => {
            let trusted = v.chain().is_some();
            (v, trusted)
        }
        Err(AttestError::UntrustedChain { detail }) => {
            if settings.require_trusted_root {
                return Err(ApiError::SecurityKeyNotAllowed(format!(
                    "its attestation does not chain to a configured root ({detail})"
                )));
            }
            // Still check every signature and format rule, with the statement's own root
            // standing in as the anchor; the key is recorded as not chaining to a root.
            let root = x5c_root(attestation_object)
                .ok_or_else(|| ApiError::SecurityKeyAttestation(detail.clone()))?;
            let own = TrustAnchor::from_der(root).map_err(registration_error)?;
            policy.trust_anchors = TrustAnchors::new();
            policy.trust_anchors.add(own);
            let v = verify_registration(&response, &expected, &policy, now)
                .map_err(registration_error)?;
            (v, false)
        }
        Err(other) => return Err(registration_error(other)),
    };
    if settings.require_trusted_root && !trusted_root {
        return Err(ApiError::SecurityKeyNotAllowed(format!(
            "its attestation ({}) does not chain to a configured root",
            verified.format().as_str()
        )));
    }
    let aaguid = aaguid_text(verified.aaguid());
    check_aaguid(settings, &aaguid)?;
    Ok(NewKey {
        credential_id: b64::encode(verified.credential_id()),
        aaguid,
        format: verified.format().as_str().to_owned(),
        trusted_root,
        public_key_cose: verified.public_key_cose().to_vec(),
        sign_count: verified.sign_count(),
    })
}

/// Applies the AAGUID allow or block list.
pub fn check_aaguid(settings: &SecurityKeySettings, aaguid: &str) -> Result<(), ApiError> {
    let listed = settings
        .aaguids
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case(aaguid));
    match settings.aaguid_mode.as_str() {
        "allow" if !listed => Err(ApiError::SecurityKeyNotAllowed(format!(
            "its model (AAGUID {aaguid}) is not on the tenant's allow list"
        ))),
        "block" if listed => Err(ApiError::SecurityKeyNotAllowed(format!(
            "its model (AAGUID {aaguid}) is on the tenant's block list"
        ))),
        _ => Ok(()),
    }
}

/// The parts of an assertion as the browser sends them.
#[derive(Debug, Clone, Copy)]
pub struct AssertionParts<'a> {
    /// clientDataJSON.
    pub client_data_json: &'a [u8],
    /// Authenticator data.
    pub authenticator_data: &'a [u8],
    /// Signature.
    pub signature: &'a [u8],
}

/// Verifies a sign-in with `key` (user verification required) and returns the new counter.
/// A counter that does not increase is refused with LK-SK-006.
pub fn check_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    key: &SecurityKey,
    parts: AssertionParts<'_>,
) -> Result<u32, ApiError> {
    let credential_id = b64::decode("credential_id", &key.credential_id)
        .map_err(|_| ApiError::internal("a stored credential id is not base64url"))?;
    let stored = StoredCredential {
        credential_id: credential_id.clone(),
        public_key_cose: key.public_key_cose.clone(),
        sign_count: u32::try_from(key.sign_count).unwrap_or(u32::MAX),
    };
    let response = AssertionResponse {
        credential_id: &credential_id,
        client_data_json: parts.client_data_json,
        authenticator_data: parts.authenticator_data,
        signature: parts.signature,
    };
    let options = AssertionOptions {
        require_user_verification: true,
        counter: CounterPolicy::Report,
        ..AssertionOptions::default()
    };
    let verified = verify_assertion(&response, &rp.expected(challenge), &stored, &options)
        .map_err(|e| match e {
            AttestError::UserVerificationMissing => ApiError::SecurityKeyUserNotVerified,
            AttestError::SignCounterRegression { .. } => ApiError::SecurityKeyCounterRegressed,
            other => ApiError::SecurityKeyAssertion(other.to_string()),
        })?;
    if verified.counter() == CounterStatus::Regressed {
        return Err(ApiError::SecurityKeyCounterRegressed);
    }
    Ok(verified.sign_count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rp_from_issuer() {
        let rp = RelyingParty::from_issuer("http://localhost:8080/");
        assert_eq!(rp.rp_id, "localhost");
        assert_eq!(rp.origin, "http://localhost:8080");
        assert_eq!(
            RelyingParty::from_issuer("https://id.example.com").rp_id,
            "id.example.com"
        );
        assert_eq!(RelyingParty::from_issuer("https://[::1]:9").rp_id, "::1");
    }

    #[test]
    fn aaguid_lists() {
        let mut s = SecurityKeySettings {
            aaguid_mode: "allow".into(),
            aaguids: "01020304-0506-0708-0900-0a0b0c0d0e0f\n".into(),
            ..SecurityKeySettings::default()
        };
        assert!(check_aaguid(&s, "01020304-0506-0708-0900-0a0b0c0d0e0f").is_ok());
        assert!(check_aaguid(&s, "00000000-0000-0000-0000-000000000000").is_err());
        s.aaguid_mode = "block".into();
        assert!(check_aaguid(&s, "01020304-0506-0708-0900-0a0b0c0d0e0f").is_err());
        assert!(check_aaguid(&s, "00000000-0000-0000-0000-000000000000").is_ok());
        s.aaguid_mode = "any".into();
        assert!(check_aaguid(&s, "01020304-0506-0708-0900-0a0b0c0d0e0f").is_ok());
    }
}
