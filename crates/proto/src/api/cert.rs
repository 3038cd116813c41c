//! Hello certificates: enrolment and renewal through the registration authority.
//!
//! After its Hello key is registered, a device asks for a certificate on that same key
//! (certificate trust, `docs/certificates.md`):
//!
//! - `POST /v1/certificates/enroll` ([`CertEnrollRequest`]): a PKCS#10 request signed by the
//!   Hello key, the device's proof over a fresh nonce, and `Authorization: Bearer` a token
//!   carrying the MFA claim for this user (the enrolment token of `hello setup`, or the
//!   access token of a Hello sign-in), issued within the last ten minutes.
//! - `POST /v1/certificates/renew` ([`CertRenewRequest`]): inside the renewal window of a
//!   valid certificate, a request for the same key, authorised by that key's signature and
//!   the device's proof; no token. An expired certificate is not renewed: the device
//!   enrols again, which needs a fresh MFA token.
//!
//! The registration authority checks the request's signature, that its public key is the
//! Hello key registered for this user on this device (key, user and device enabled), that the
//! user may enrol on the template; it countersigns, and the issuing CA checks that
//! countersignature before it issues the certificate the template describes (what the
//! request asks for beyond the template is never granted). Both answer
//! [`IssuedCertificate`].
//!
//! Proofs: `device_signature` (device key) and, for renewal, `key_signature` (the Hello key)
//! are over `proof_message(CertEnroll | CertRenew, nonce, fields)` with [`enroll_fields`] or
//! [`renew_fields`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A certificate request carried by a key registration (`POST /v1/keys`): issued on the
/// same checks as an enrolment, in the registration's transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRequestPart {
    /// The PKCS#10 CertificationRequest for the key being registered, DER (base64url).
    pub csr: String,
    /// The template asked for; `None` takes the one the service assigns the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// `POST /v1/certificates/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEnrollRequest {
    /// The device.
    pub device_id: String,
    /// The user.
    pub upn: String,
    /// The Hello key the request is for (lowercase hex key id).
    pub key_id: String,
    /// The template asked for; `None` takes the one the service assigns the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// A nonce issued for [`crate::proof::Purpose::CertEnroll`].
    pub nonce: String,
    /// The PKCS#10 CertificationRequest, DER (base64url), signed by the Hello key.
    pub csr: String,
    /// Device-key proof over [`enroll_fields`] (base64url).
    pub device_signature: String,
}

/// `POST /v1/certificates/renew`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRenewRequest {
    /// The device.
    pub device_id: String,
    /// The user.
    pub upn: String,
    /// The Hello key (lowercase hex key id); the certificate renewed certifies it.
    pub key_id: String,
    /// The serial number of the certificate being renewed (lowercase hex, no separators).
    pub serial: String,
    /// A nonce issued for [`crate::proof::Purpose::CertRenew`].
    pub nonce: String,
    /// The PKCS#10 CertificationRequest for the same key, DER (base64url).
    pub csr: String,
    /// Device-key proof over [`renew_fields`] (base64url).
    pub device_signature: String,
    /// Proof by the certificate's key (the Hello key) over [`renew_fields`] (base64url).
    pub key_signature: String,
}

/// A certificate the issuing CA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedCertificate {
    /// Serial number (lowercase hex, no separators).
    pub serial: String,
    /// The template it was issued on.
    pub template: String,
    /// The certificate, PEM.
    pub certificate: String,
    /// Its chain, PEM, leaf's issuer first: the issuing CA, then the tenant root.
    pub chain: Vec<String>,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// When the renewal window opens (RFC 3339): from then the device renews.
    pub renew_after: String,
}

/// Lowercase hex SHA-256 of a CSR's DER: what a proof binds of the request.
pub fn csr_binding(csr_der: &[u8]) -> String {
    Sha256::digest(csr_der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fields of an enrolment proof: tenant id, device id, UPN, key id, [`csr_binding`],
/// template (empty when none is named).
pub fn enroll_fields<'a>(
    tenant_id: &'a str,
    req: &'a CertEnrollRequest,
    csr_binding: &'a str,
) -> [&'a str; 6] {
    [
        tenant_id,
        &req.device_id,
        &req.upn,
        &req.key_id,
        csr_binding,
        req.template.as_deref().unwrap_or(""),
    ]
}

/// The fields of a renewal proof: tenant id, device id, UPN, key id, serial,
/// [`csr_binding`].
pub fn renew_fields<'a>(
    tenant_id: &'a str,
    req: &'a CertRenewRequest,
    csr_binding: &'a str,
) -> [&'a str; 6] {
    [
        tenant_id,
        &req.device_id,
        &req.upn,
        &req.key_id,
        &req.serial,
        csr_binding,
    ]
}
