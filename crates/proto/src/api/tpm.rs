//! The device's TPM identity (credential activation) and Hello key attestation.
//!
//! A device with a TPM proves it in two steps, at join or later (`latchkey tpm attest`):
//!
//! 1. `POST /v1/devices/tpm/activate/begin` ([`TpmActivateBegin`]): the EK certificate,
//!    the EK public area and the public area of an attestation key (AIK, a restricted
//!    signing key). The service validates the EK certificate against the tenant's TPM
//!    manufacturer roots, checks the AIK's attributes, and answers with a
//!    TPM2_MakeCredential challenge for the AIK's name ([`TpmActivateChallenge`]).
//! 2. `POST /v1/devices/tpm/activate/finish` ([`TpmActivateFinish`]): the secret the
//!    device's TPM recovered with TPM2_ActivateCredential. Only a TPM that holds that EK
//!    and has that AIK loaded can recover it. The service then records the AIK as this
//!    device's ([`TpmActivated`]).
//!
//! A Hello key registered from such a device carries a [`KeyAttestation`]: its
//! TPMT_PUBLIC and a TPM2_Certify of it by the AIK, whose qualifying data is
//! [`key_attestation_extra_data`] of the registration nonce.
//!
//! Both steps are signed by the device key over `proof_message(TpmActivate, nonce,
//! fields)` ([`activate_begin_fields`], [`activate_finish_fields`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the device says of its TPM (the service records it; the EK certificate is what
/// proves the manufacturer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmDescription {
    /// The TPM specification family: `2.0` (or `1.2`, which the service refuses when the
    /// policy excludes TPM 1.2).
    pub family: String,
    /// The manufacturer's vendor id as the TPM reports it (`TPM_PT_MANUFACTURER`, e.g. `IBM`).
    pub manufacturer: String,
    /// The firmware version, `a.b.c.d`.
    pub firmware: String,
}

/// `POST /v1/devices/tpm/activate/begin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmActivateBegin {
    /// The device.
    pub device_id: String,
    /// A nonce issued for [`crate::proof::Purpose::TpmActivate`].
    pub nonce: String,
    /// The EK's TPMT_PUBLIC (base64url; without the TPM2B size prefix).
    pub ek_public: String,
    /// The EK certificate, DER (base64url), as read from the TPM's NV index.
    pub ek_certificate: String,
    /// Intermediate CA certificates of the EK certificate, DER (base64url), if the device
    /// has them; the service also uses the intermediates it was given with the roots.
    #[serde(default)]
    pub ek_chain: Vec<String>,
    /// The AIK's TPMT_PUBLIC (base64url; without the TPM2B size prefix).
    pub aik_public: String,
    /// What the device reports of its TPM.
    pub tpm: TpmDescription,
    /// Device-key proof over [`activate_begin_fields`] (base64url).
    pub device_signature: String,
}

/// The service's answer to [`TpmActivateBegin`]: a TPM2_MakeCredential for the AIK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmActivateChallenge {
    /// Opaque handle of this activation, to send back with the secret (one use, short-lived).
    pub activation: String,
    /// TPM2B_ID_OBJECT (the credential blob, with its size prefix; base64url).
    pub credential_blob: String,
    /// TPM2B_ENCRYPTED_SECRET (with its size prefix; base64url).
    pub encrypted_secret: String,
    /// Seconds the activation stays valid.
    pub expires_in: i64,
}

/// `POST /v1/devices/tpm/activate/finish`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmActivateFinish {
    /// The device.
    pub device_id: String,
    /// [`TpmActivateChallenge::activation`].
    pub activation: String,
    /// The secret TPM2_ActivateCredential recovered (base64url).
    pub secret: String,
    /// A nonce issued for [`crate::proof::Purpose::TpmActivate`].
    pub nonce: String,
    /// Device-key proof over [`activate_finish_fields`] (base64url).
    pub device_signature: String,
}

/// The device's TPM as the service recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmActivated {
    /// The AIK's name (lowercase hex of nameAlg || H(TPMT_PUBLIC)).
    pub aik_name: String,
    /// The manufacturer, from the EK certificate (`id:XXXXXXXX` as the TCG writes it).
    pub manufacturer: String,
    /// The model, from the EK certificate.
    pub model: String,
    /// The firmware version, from the EK certificate.
    pub version: String,
    /// The subject of the tenant root the EK certificate chains to.
    pub root: String,
}

/// The attestation of a Hello key, sent with its registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttestation {
    /// The Hello key's TPMT_PUBLIC (base64url; without the TPM2B size prefix).
    pub key_public: String,
    /// TPMS_ATTEST from TPM2_Certify of the key by the device's AIK (base64url).
    pub certify_info: String,
    /// The AIK's TPMT_SIGNATURE over `certify_info` (base64url).
    pub signature: String,
}

/// The qualifying data of a Hello key's TPM2_Certify: SHA-256 of a fixed label and the
/// registration nonce, so the certification is for this registration only.
pub fn key_attestation_extra_data(nonce: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"latchkey key attestation\0");
    h.update(nonce.as_bytes());
    h.finalize().into()
}

/// Lowercase hex SHA-256 of `bytes` (how the proofs name the EK and AIK public areas).
fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The proof fields of [`TpmActivateBegin`]: tenant id, device id, `begin`, and the hex
/// SHA-256 of the EK and AIK public areas (the decoded bytes).
pub fn activate_begin_fields(
    tenant_id: &str,
    device_id: &str,
    ek_public: &[u8],
    aik_public: &[u8],
) -> Vec<String> {
    vec![
        tenant_id.to_owned(),
        device_id.to_owned(),
        "begin".to_owned(),
        hex_sha256(ek_public),
        hex_sha256(aik_public),
    ]
}

/// The proof fields of [`TpmActivateFinish`]: tenant id, device id, `finish`, and the
/// activation handle as sent.
pub fn activate_finish_fields(tenant_id: &str, device_id: &str, activation: &str) -> Vec<String> {
    vec![
        tenant_id.to_owned(),
        device_id.to_owned(),
        "finish".to_owned(),
        activation.to_owned(),
    ]
}

crate::redact::debug_redacted!(TpmActivateFinish {
    shown: [device_id, activation, nonce],
    secret: [secret, device_signature]
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_data_binds_the_nonce() {
        assert_ne!(
            key_attestation_extra_data("a"),
            key_attestation_extra_data("b")
        );
        assert_eq!(
            key_attestation_extra_data("a"),
            key_attestation_extra_data("a")
        );
    }

    #[test]
    fn begin_and_finish_fields_differ() {
        let b = activate_begin_fields("t", "d", b"ek", b"aik");
        let f = activate_finish_fields("t", "d", "x");
        assert_eq!(b.len(), 5);
        assert_ne!(b.get(2), f.get(2));
    }
}
