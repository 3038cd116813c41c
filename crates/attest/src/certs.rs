//! Checks on a single attestation certificate shared by several formats.

use x509_parser::certificate::X509Certificate;

use crate::der::read_single;
use crate::error::AttestError;

/// id-fido-gen-ce-aaguid: the authenticator model's AAGUID in an attestation certificate.
pub(crate) const OID_FIDO_AAGUID: &str = "1.3.6.1.4.1.45724.1.1.4";

/// If the certificate carries id-fido-gen-ce-aaguid, it must be non-critical and equal
/// `aaguid` (WebAuthn 8.2.1 and 8.3.1).
///
/// ```text
/// id-fido-gen-ce-aaguid EXTENSION ::= { SYNTAX OCTET STRING (SIZE(16)) }
/// ```
pub(crate) fn check_aaguid_extension(
    cert: &X509Certificate<'_>,
    aaguid: &[u8; 16],
    format: &'static str,
) -> Result<(), AttestError> {
    let Some(ext) = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_FIDO_AAGUID)
    else {
        return Ok(());
    };
    if ext.critical {
        return Err(AttestError::CertificateRequirement {
            format,
            requirement: "id-fido-gen-ce-aaguid must not be critical",
        });
    }
    let value = read_single(ext.value)
        .filter(|t| t.is_universal(x509_parser::asn1_rs::Tag::OctetString))
        .ok_or(AttestError::CertificateRequirement {
            format,
            requirement: "id-fido-gen-ce-aaguid must be an OCTET STRING",
        })?;
    if value.contents != aaguid {
        return Err(AttestError::AaguidMismatch);
    }
    Ok(())
}

/// The attestation (leaf) certificate must not be a CA: basicConstraints absent or cA
/// false.
pub(crate) fn require_not_ca(
    cert: &X509Certificate<'_>,
    format: &'static str,
) -> Result<(), AttestError> {
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Err(AttestError::CertificateRequirement {
            format,
            requirement: "basicConstraints cA must be false",
        }),
        Ok(_) => Ok(()),
        Err(_) => Err(AttestError::CertificateRequirement {
            format,
            requirement: "basicConstraints malformed",
        }),
    }
}

/// The certificate must be X.509 version 3.
pub(crate) fn require_v3(
    cert: &X509Certificate<'_>,
    format: &'static str,
) -> Result<(), AttestError> {
    if cert.version().0 != 2 {
        return Err(AttestError::CertificateRequirement {
            format,
            requirement: "version must be 3",
        });
    }
    Ok(())
}
