//! Hello key registration.

use serde::{Deserialize, Serialize};

/// The algorithm of a Hello public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSA (2048 bits by default); signatures RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RSA")]
    Rsa,
    /// ECDSA on P-256; signatures SHA-256, fixed 64-byte r||s.
    #[serde(rename = "P-256")]
    P256,
}

impl KeyAlgorithm {
    /// The stable name (`RSA`, `P-256`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "RSA",
            KeyAlgorithm::P256 => "P-256",
        }
    }
}

/// A Hello public key on the wire.
///
/// For [`KeyAlgorithm::Rsa`], `data` is a `BCRYPT_RSAPUBLIC_BLOB` and the key id is SHA-256
/// of that blob (the KeyCredentialLink KeyID rule). For [`KeyAlgorithm::P256`], `data` is the
/// uncompressed SEC1 point (65 bytes) and the key id is SHA-256 of that point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    /// Algorithm.
    pub alg: KeyAlgorithm,
    /// Key bytes (base64url), as described above.
    pub data: String,
}

/// `POST /v1/keys`.
///
/// Both signatures are over `proof_message(RegisterKey, nonce, [tenant_id, device_id, upn,
/// key_id_hex])` — with a `certificate_request`, over those fields and its
/// [`crate::api::cert::csr_binding`] — by the device key (`device_signature`) and by the new
/// Hello key (`key_signature`, proof of possession): see [`register_fields`]. `Authorization: Bearer <enrollment token>` is required unless the
/// seed's registered-owner rule lets the device stand in for the second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterKeyRequest {
    /// The device the key is bound to.
    pub device_id: String,
    /// The user the key is for.
    pub upn: String,
    /// A nonce issued for [`crate::proof::Purpose::RegisterKey`].
    pub nonce: String,
    /// The Hello public key.
    pub public_key: PublicKey,
    /// Device-key proof (base64url).
    pub device_signature: String,
    /// Hello-key proof of possession (base64url).
    pub key_signature: String,
    /// The key's TPM attestation, when it was made in the device's TPM (a device whose AIK
    /// the service activated): see [`crate::api::tpm::KeyAttestation`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_attestation: Option<crate::api::tpm::KeyAttestation>,
    /// A certificate for the key, issued in the same transaction as the registration
    /// (certificate trust under UseCertificateForOnPremAuth): if the registration authority
    /// refuses it, the key is not registered either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_request: Option<crate::api::cert::CertRequestPart>,
    /// The registration is a destructive PIN reset (`latchkey pin reset`): the new key
    /// replaces the user's key on this device. Only the audit line says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin_reset: bool,
}

/// The proof fields of a key registration: tenant id, device id, UPN, key id, and with a
/// certificate request the [`crate::api::cert::csr_binding`] of its CSR (`csr_binding`).
pub fn register_fields<'a>(
    tenant_id: &'a str,
    device_id: &'a str,
    upn: &'a str,
    key_id: &'a str,
    csr_binding: Option<&'a str>,
) -> Vec<&'a str> {
    let mut fields = vec![tenant_id, device_id, upn, key_id];
    fields.extend(csr_binding);
    fields
}

/// The registered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterKeyResponse {
    /// Key id (lowercase hex of the SHA-256 key id).
    pub key_id: String,
    /// Whether an earlier key of this user on this device was replaced.
    pub replaced_key_id: Option<String>,
    /// How the key is protected, as the service recorded it (`software` or `tpm`).
    pub attestation: String,
    /// The certificate template assigned to this user for automatic enrolment, if any
    /// (certificate trust): the device enrols on it right after setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_template: Option<String>,
    /// The certificate issued with the registration, when the request carried a
    /// `certificate_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<crate::api::cert::IssuedCertificate>,
}
