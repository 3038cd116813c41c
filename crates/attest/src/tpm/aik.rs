//! Requirements on a TPM attestation identity key (AIK) certificate (WebAuthn Level 2,
//! 8.3.1; TCG EK Credential Profile for the TPM attributes).
//!
//! ```text
//! version 3; subject empty; subjectAltName directoryName carrying
//!     tcpaTpmManufacturer (2.23.133.2.1), tcpaTpmModel (2.23.133.2.2), tcpaTpmVersion (2.23.133.2.3)
//! extendedKeyUsage contains tcg-kp-AIKCertificate (2.23.133.8.3); basicConstraints cA false
//! ```
//!
//! Real certificates put the three attributes either in one multi-valued RDN (Nuvoton) or
//! in one RDN each (Intel, STMicro); both are read.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::certs::{check_aaguid_extension, require_not_ca, require_v3};
use crate::error::AttestError;

/// tcg-kp-AIKCertificate.
const OID_TCG_KP_AIK: &str = "2.23.133.8.3";
const OID_TPM_MANUFACTURER: &str = "2.23.133.2.1";
const OID_TPM_MODEL: &str = "2.23.133.2.2";
const OID_TPM_VERSION: &str = "2.23.133.2.3";

/// The TPM named in an AIK certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TpmDeviceInfo {
    /// tcpaTpmManufacturer, for example `id:4E544300` (Nuvoton).
    pub manufacturer: String,
    /// tcpaTpmModel.
    pub model: String,
    /// tcpaTpmVersion (firmware).
    pub version: String,
}

fn fail(requirement: &'static str) -> AttestError {
    AttestError::CertificateRequirement {
        format: "tpm",
        requirement,
    }
}

/// Check the AIK certificate requirements; when `aaguid` is given, an
/// id-fido-gen-ce-aaguid extension must match it. Returns the TPM the SAN names.
pub fn check_aik_certificate(
    cert: &X509Certificate<'_>,
    aaguid: Option<&[u8; 16]>,
) -> Result<TpmDeviceInfo, AttestError> {
    if let Some(aaguid) = aaguid {
        check_aaguid_extension(cert, aaguid, "tpm")?;
    }
    require_v3(cert, "tpm")?;
    if cert.subject().iter_attributes().next().is_some() {
        return Err(fail("subject must be empty"));
    }
    let eku = cert
        .extended_key_usage()
        .map_err(|_| fail("extendedKeyUsage malformed"))?
        .ok_or(fail("extendedKeyUsage missing"))?;
    if !eku
        .value
        .other
        .iter()
        .any(|o| o.to_id_string() == OID_TCG_KP_AIK)
    {
        return Err(fail("extendedKeyUsage lacks tcg-kp-AIKCertificate"));
    }
    require_not_ca(cert, "tpm")?;
    tpm_device_info(cert).map_err(fail)
}

/// Read the TPM manufacturer, model and version from the subjectAltName directoryName
/// (TCG EK Credential Profile; the same attributes in AIK certificates). All
/// three must be present; `Err` names what is wrong.
pub(crate) fn tpm_device_info(cert: &X509Certificate<'_>) -> Result<TpmDeviceInfo, &'static str> {
    let san = cert
        .subject_alternative_name()
        .map_err(|_| "subjectAltName malformed")?
        .ok_or("subjectAltName missing")?;
    let mut info = TpmDeviceInfo::default();
    for name in &san.value.general_names {
        let GeneralName::DirectoryName(dn) = name else {
            continue;
        };
        for attr in dn.iter_attributes() {
            let value = attr
                .as_str()
                .map_err(|_| "TPM attribute is not a string")?
                .to_owned();
            match attr.attr_type().to_id_string().as_str() {
                OID_TPM_MANUFACTURER => info.manufacturer = value,
                OID_TPM_MODEL => info.model = value,
                OID_TPM_VERSION => info.version = value,
                _ => {}
            }
        }
    }
    if info.manufacturer.is_empty() || info.model.is_empty() || info.version.is_empty() {
        return Err("subjectAltName must name TPM manufacturer, model and version");
    }
    Ok(info)
}
