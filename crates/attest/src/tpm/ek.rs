//! Endorsement key (EK) certificate verification (TCG EK Credential Profile for TPM
//! Family 2.0): the certificate chains to a TPM manufacturer root the tenant
//! trusts, certifies the very key of the EK public area the device sent, and names the
//! TPM.
//!
//! ```text
//! subjectAltName (critical when the subject is empty) directoryName:
//!     tcpaTpmManufacturer 2.23.133.2.1, tcpaTpmModel 2.23.133.2.2, tcpaTpmVersion 2.23.133.2.3
//! subjectDirectoryAttributes (optional):
//!     tcg-at-tpmSpecification 2.23.133.2.16 ::= SEQUENCE { family UTF8String, level INTEGER, revision INTEGER }
//! ```
//!
//! What this proves: a manufacturer the tenant trusts made a TPM holding the private key
//! of this EK. It does not prove the device sending it holds that TPM: credential
//! activation ([`super::make_credential`]) does.

use time::OffsetDateTime;
use x509_parser::asn1_rs::Tag;

use super::aik::{tpm_device_info, TpmDeviceInfo};
use super::public::TpmtPublic;
use crate::chain::{cert_key, parse_cert, validate_chain, TrustAnchor};
use crate::der::{elements, read_single, small_uint};
use crate::error::AttestError;

/// subjectDirectoryAttributes.
const OID_SUBJECT_DIRECTORY_ATTRIBUTES: &str = "2.5.29.9";
/// The DER contents of OID 2.23.133.2.16 (tcg-at-tpmSpecification).
const OID_TPM_SPECIFICATION: &[u8] = &[0x67, 0x81, 0x05, 0x02, 0x10];

/// TPMSpecification: the TPM specification the TPM implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmSpecification {
    /// family, for example `2.0` (a TPM 1.2 says `1.2`).
    pub family: String,
    /// level.
    pub level: u64,
    /// revision, as the certificate states it (swtpm 0.7 writes 164).
    pub revision: u64,
}

/// An EK certificate that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEk {
    /// The TPM the certificate names (manufacturer, model, firmware version).
    pub tpm: TpmDeviceInfo,
    /// The TPM specification, when the certificate carries it.
    pub specification: Option<TpmSpecification>,
    /// Subject of the trust anchor the chain leads to.
    pub anchor_subject: String,
}

fn requirement(requirement: &'static str) -> AttestError {
    AttestError::EkCertificateRequirement { requirement }
}

/// Read tcg-at-tpmSpecification from a subjectDirectoryAttributes value, if there.
fn tpm_specification(value: &[u8]) -> Result<Option<TpmSpecification>, AttestError> {
    let bad = || requirement("subjectDirectoryAttributes malformed");
    let seq = read_single(value)
        .filter(|t| t.is_universal(Tag::Sequence))
        .ok_or_else(bad)?;
    for attr in elements(seq.contents).ok_or_else(bad)? {
        let parts = elements(attr.contents).ok_or_else(bad)?;
        let [oid, values] = parts.as_slice() else {
            return Err(bad());
        };
        if !oid.is_universal(Tag::Oid) || oid.contents != OID_TPM_SPECIFICATION {
            continue;
        }
        let set = elements(values.contents).ok_or_else(bad)?;
        let [spec] = set.as_slice() else {
            return Err(bad());
        };
        let fields = elements(spec.contents).ok_or_else(bad)?;
        let [family, level, revision] = fields.as_slice() else {
            return Err(bad());
        };
        if !family.is_universal(Tag::Utf8String)
            || !level.is_universal(Tag::Integer)
            || !revision.is_universal(Tag::Integer)
        {
            return Err(bad());
        }
        let family = std::str::from_utf8(family.contents).map_err(|_| bad())?;
        return Ok(Some(TpmSpecification {
            family: family.to_owned(),
            level: small_uint(level.contents).ok_or_else(bad)?,
            revision: small_uint(revision.contents).ok_or_else(bad)?,
        }));
    }
    Ok(None)
}

/// Verify the EK certificate `ek_cert` (DER) with the intermediate certificates
/// `intermediates` (DER, the issuer of `ek_cert` first) to one of `anchors` at time `at`,
/// and require that it certifies the key of `ek_public` (a marshalled TPMT_PUBLIC; RSA
/// modulus and exponent, or ECC point, compared exactly).
///
/// Errors: a malformed certificate `LK-ATT-019`; not valid at `at` `LK-ATT-022`; no path
/// to an anchor `LK-ATT-023`; a bad signature in the chain `LK-ATT-024`; an issuer that
/// may not issue `LK-ATT-025`; a malformed `ek_public` `LK-ATT-028`; another key
/// `LK-ATT-047`; no TPM manufacturer, model and version in subjectAltName `LK-ATT-048`.
pub fn verify_ek_certificate(
    ek_cert: &[u8],
    intermediates: &[Vec<u8>],
    ek_public: &[u8],
    anchors: &[&TrustAnchor],
    at: OffsetDateTime,
) -> Result<VerifiedEk, AttestError> {
    let cert = parse_cert(ek_cert, 0)?;
    let area = TpmtPublic::parse(ek_public)?;
    let mut chain = Vec::with_capacity(1 + intermediates.len());
    chain.push(ek_cert.to_vec());
    chain.extend(intermediates.iter().cloned());
    let validated = validate_chain(&chain, anchors, at)?;
    if cert_key(&cert, 0)? != area.public_key()? {
        return Err(AttestError::EkCertificateKeyMismatch);
    }
    let tpm = tpm_device_info(&cert).map_err(requirement)?;
    let mut specification = None;
    for ext in cert.extensions() {
        if ext.oid.to_id_string() == OID_SUBJECT_DIRECTORY_ATTRIBUTES {
            specification = tpm_specification(ext.value)?;
        }
    }
    Ok(VerifiedEk {
        tpm,
        specification,
        anchor_subject: validated.anchor_subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tpm_specification_and_refuses_junk() {
        // The swtpm EK certificate's value: family "2.0", level 0, revision 164.
        let value = [
            0x30, 0x19, 0x30, 0x17, 0x06, 0x05, 0x67, 0x81, 0x05, 0x02, 0x10, 0x31, 0x0e, 0x30,
            0x0c, 0x0c, 0x03, b'2', b'.', b'0', 0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0xa4,
        ];
        let spec = tpm_specification(&value).unwrap().unwrap();
        assert_eq!(spec.family, "2.0");
        assert_eq!((spec.level, spec.revision), (0, 164));
        for cut in 0..value.len() {
            assert!(tpm_specification(&value[..cut]).is_err(), "cut {cut}");
        }
        // Another attribute only: no specification.
        let mut other = value;
        other[10] = 0x11;
        assert_eq!(tpm_specification(&other).unwrap(), None);
    }
}
