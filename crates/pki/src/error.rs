//! Errors of the PKI, each with a stable code (`LK-PKI-001` ...).

/// A certificate operation failed.
///
/// Every variant has a stable code ([`PkiError::code`]) shown at the start of its message;
/// callers map the codes they expose (the server maps some to its `LK-CERT-*` codes).
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Key generation, parsing or signing failed inside rcgen.
    #[error("LK-PKI-001: certificate operation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A PEM document could not be decoded or is of the wrong kind.
    #[error("LK-PKI-002: bad PEM: {0}")]
    Pem(String),
    /// A certificate could not be parsed.
    #[error("LK-PKI-003: bad certificate: {0}")]
    Certificate(String),
    /// The SubjectPublicKeyInfo given for a device is malformed or of an unsupported type.
    #[error("LK-PKI-004: unsupported or malformed public key: {0}")]
    PublicKey(String),
    /// A validity period does not fit in the certificate time range.
    #[error("LK-PKI-005: validity out of range")]
    Validity,
    /// A certificate request is larger than the limit.
    #[error("LK-PKI-006: certificate request too large ({0} bytes, at most {max})", max = crate::request::MAX_REQUEST_LEN)]
    RequestTooLarge(usize),
    /// A certificate request is not a strict-DER PKCS#10 CertificationRequest (garbage,
    /// truncated, trailing bytes, malformed extension request).
    #[error("LK-PKI-007: malformed certificate request: {0}")]
    RequestMalformed(String),
    /// The request's key is neither RSA nor ECDSA P-256.
    #[error("LK-PKI-008: unsupported key type in the certificate request: {0}")]
    RequestKeyUnsupported(String),
    /// The request's RSA key is shorter than 2048 or longer than 8192 bits.
    #[error("LK-PKI-009: RSA key size {0} bits outside 2048..=8192")]
    RequestKeySize(usize),
    /// The request's signature algorithm is not one accepted for its key.
    #[error("LK-PKI-010: unsupported signature algorithm in the certificate request: {0}")]
    RequestSignatureAlgorithm(String),
    /// The request's self-signature does not verify with the request's own key.
    #[error("LK-PKI-011: the certificate request's signature does not verify with its key")]
    RequestSignature,
    /// The signing callback of `build_request` failed or returned a malformed signature.
    #[error("LK-PKI-012: signing the certificate request failed: {0}")]
    Signer(String),
    /// A template name is empty, too long or not printable.
    #[error("LK-PKI-013: invalid template name: {0}")]
    TemplateName(String),
    /// A template validity is outside 1..=3650 days.
    #[error("LK-PKI-014: template validity {0} days outside 1..=3650")]
    TemplateValidity(u32),
    /// A template renewal window is outside 1..=90 percent.
    #[error("LK-PKI-015: template renewal window {0} % outside 1..=90")]
    TemplateRenewal(u8),
    /// A Kerberos realm is empty, too long or contains characters outside the realm syntax.
    #[error("LK-PKI-016: invalid Kerberos realm: {0}")]
    Realm(String),
    /// A Kerberos principal name (the per-user override of the id-pkinit-san) is not one
    /// component of 1 to 255 printable characters without `/`, `@`, `\` or spaces.
    #[error("LK-PKI-036: invalid Kerberos principal name: {0}")]
    PrincipalName(String),
    /// A user principal name is not `local@domain` of printable characters.
    #[error("LK-PKI-017: invalid user principal name: {0}")]
    Upn(String),
    /// A host name is not a valid DNS name.
    #[error("LK-PKI-018: invalid host name: {0}")]
    Hostname(String),
    /// An unknown CA algorithm name.
    #[error("LK-PKI-019: unknown CA algorithm {0:?} (p256 or rsa3072)")]
    UnknownAlgorithm(String),
    /// Generating an RSA key failed.
    #[error("LK-PKI-020: RSA key generation failed: {0}")]
    KeyGeneration(String),
    /// Encoding a DER structure failed.
    #[error("LK-PKI-021: DER encoding failed: {0}")]
    Encoding(String),
    /// A countersigned request is larger than the limit.
    #[error("LK-PKI-022: countersigned request too large ({0} bytes)")]
    CountersignedTooLarge(usize),
    /// The input to the CA is not a registration-authority countersignature (for example a
    /// bare PKCS#10 request).
    #[error("LK-PKI-023: not a countersigned request: {0}")]
    NotCountersigned(String),
    /// The countersigning certificate does not chain to the tenant root.
    #[error("LK-PKI-024: the registration authority certificate is not trusted: {0}")]
    RaNotTrusted(String),
    /// The countersigning certificate is not valid at the time of issuance.
    #[error("LK-PKI-025: the registration authority certificate is expired or not yet valid")]
    RaExpired,
    /// The countersigning certificate lacks the Certificate Request Agent EKU.
    #[error("LK-PKI-026: the registration authority certificate lacks the Certificate Request Agent EKU")]
    RaNotAgent,
    /// The countersignature does not verify with the registration authority's key.
    #[error("LK-PKI-027: the registration authority signature does not verify")]
    RaSignature,
    /// The key in the request differs from the key of the approved profile.
    #[error("LK-PKI-028: the request's key is not the key of the approved profile")]
    KeyMismatch,
    /// The approved profile is inconsistent (validity, template, names).
    #[error("LK-PKI-029: invalid certificate profile: {0}")]
    Profile(String),
    /// An unknown revocation reason name.
    #[error("LK-PKI-030: unknown revocation reason {0:?}")]
    UnknownReason(String),
    /// A revocation reason that cannot be used to revoke (removeFromCRL).
    #[error("LK-PKI-031: revocation reason {0} cannot be used to revoke")]
    ReasonNotAllowed(String),
    /// A revoked serial number is empty or longer than 20 octets.
    #[error("LK-PKI-032: invalid serial number: {0}")]
    Serial(String),
    /// A URL for CDP/AIA is not an ASCII URI.
    #[error("LK-PKI-033: invalid URL: {0}")]
    Url(String),
    /// Signing with a CA or RA key failed.
    #[error("LK-PKI-034: signing failed: {0}")]
    Signing(String),
    /// The countersigned profile's validity does not start just before `now`: an old
    /// countersignature replayed to the CA, or one made for a later time.
    #[error("LK-PKI-035: the countersignature is stale or not yet usable")]
    CountersignatureStale,
}

impl PkiError {
    /// The stable code of this error (`LK-PKI-001` ...), for logs, audit lines and mapping.
    pub fn code(&self) -> &'static str {
        match self {
            PkiError::Rcgen(_) => "LK-PKI-001",
            PkiError::Pem(_) => "LK-PKI-002",
            PkiError::Certificate(_) => "LK-PKI-003",
            PkiError::PublicKey(_) => "LK-PKI-004",
            PkiError::Validity => "LK-PKI-005",
            PkiError::RequestTooLarge(_) => "LK-PKI-006",
            PkiError::RequestMalformed(_) => "LK-PKI-007",
            PkiError::RequestKeyUnsupported(_) => "LK-PKI-008",
            PkiError::RequestKeySize(_) => "LK-PKI-009",
            PkiError::RequestSignatureAlgorithm(_) => "LK-PKI-010",
            PkiError::RequestSignature => "LK-PKI-011",
            PkiError::Signer(_) => "LK-PKI-012",
            PkiError::TemplateName(_) => "LK-PKI-013",
            PkiError::TemplateValidity(_) => "LK-PKI-014",
            PkiError::TemplateRenewal(_) => "LK-PKI-015",
            PkiError::Realm(_) => "LK-PKI-016",
            PkiError::Upn(_) => "LK-PKI-017",
            PkiError::Hostname(_) => "LK-PKI-018",
            PkiError::UnknownAlgorithm(_) => "LK-PKI-019",
            PkiError::KeyGeneration(_) => "LK-PKI-020",
            PkiError::Encoding(_) => "LK-PKI-021",
            PkiError::CountersignedTooLarge(_) => "LK-PKI-022",
            PkiError::NotCountersigned(_) => "LK-PKI-023",
            PkiError::RaNotTrusted(_) => "LK-PKI-024",
            PkiError::RaExpired => "LK-PKI-025",
            PkiError::RaNotAgent => "LK-PKI-026",
            PkiError::RaSignature => "LK-PKI-027",
            PkiError::KeyMismatch => "LK-PKI-028",
            PkiError::Profile(_) => "LK-PKI-029",
            PkiError::UnknownReason(_) => "LK-PKI-030",
            PkiError::ReasonNotAllowed(_) => "LK-PKI-031",
            PkiError::Serial(_) => "LK-PKI-032",
            PkiError::Url(_) => "LK-PKI-033",
            PkiError::Signing(_) => "LK-PKI-034",
            PkiError::CountersignatureStale => "LK-PKI-035",
            PkiError::PrincipalName(_) => "LK-PKI-036",
        }
    }
}

impl From<der::Error> for PkiError {
    fn from(e: der::Error) -> Self {
        PkiError::Encoding(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant; adding a variant without listing it here fails the
    /// exhaustive match below.
    fn all() -> Vec<PkiError> {
        let s = || String::from("x");
        let v = vec![
            PkiError::Rcgen(rcgen::Error::CouldNotParseCertificate),
            PkiError::Pem(s()),
            PkiError::Certificate(s()),
            PkiError::PublicKey(s()),
            PkiError::Validity,
            PkiError::RequestTooLarge(1),
            PkiError::RequestMalformed(s()),
            PkiError::RequestKeyUnsupported(s()),
            PkiError::RequestKeySize(1),
            PkiError::RequestSignatureAlgorithm(s()),
            PkiError::RequestSignature,
            PkiError::Signer(s()),
            PkiError::TemplateName(s()),
            PkiError::TemplateValidity(0),
            PkiError::TemplateRenewal(0),
            PkiError::Realm(s()),
            PkiError::Upn(s()),
            PkiError::Hostname(s()),
            PkiError::UnknownAlgorithm(s()),
            PkiError::KeyGeneration(s()),
            PkiError::Encoding(s()),
            PkiError::CountersignedTooLarge(1),
            PkiError::NotCountersigned(s()),
            PkiError::RaNotTrusted(s()),
            PkiError::RaExpired,
            PkiError::RaNotAgent,
            PkiError::RaSignature,
            PkiError::KeyMismatch,
            PkiError::Profile(s()),
            PkiError::UnknownReason(s()),
            PkiError::ReasonNotAllowed(s()),
            PkiError::Serial(s()),
            PkiError::Url(s()),
            PkiError::Signing(s()),
            PkiError::CountersignatureStale,
            PkiError::PrincipalName(s()),
        ];
        for e in &v {
            // Exhaustiveness guard: a new variant must be added to the list above.
            match e {
                PkiError::Rcgen(_)
                | PkiError::Pem(_)
                | PkiError::Certificate(_)
                | PkiError::PublicKey(_)
                | PkiError::Validity
                | PkiError::RequestTooLarge(_)
                | PkiError::RequestMalformed(_)
                | PkiError::RequestKeyUnsupported(_)
                | PkiError::RequestKeySize(_)
                | PkiError::RequestSignatureAlgorithm(_)
                | PkiError::RequestSignature
                | PkiError::Signer(_)
                | PkiError::TemplateName(_)
                | PkiError::TemplateValidity(_)
                | PkiError::TemplateRenewal(_)
                | PkiError::Realm(_)
                | PkiError::Upn(_)
                | PkiError::Hostname(_)
                | PkiError::UnknownAlgorithm(_)
                | PkiError::KeyGeneration(_)
                | PkiError::Encoding(_)
                | PkiError::CountersignedTooLarge(_)
                | PkiError::NotCountersigned(_)
                | PkiError::RaNotTrusted(_)
                | PkiError::RaExpired
                | PkiError::RaNotAgent
                | PkiError::RaSignature
                | PkiError::KeyMismatch
                | PkiError::Profile(_)
                | PkiError::UnknownReason(_)
                | PkiError::ReasonNotAllowed(_)
                | PkiError::Serial(_)
                | PkiError::Url(_)
                | PkiError::Signing(_)
                | PkiError::CountersignatureStale
                | PkiError::PrincipalName(_) => {}
            }
        }
        v
    }

    #[test]
    fn codes_are_unique_well_formed_and_shown() {
        let errors = all();
        let mut codes: Vec<&str> = errors.iter().map(PkiError::code).collect();
        for (e, code) in errors.iter().zip(&codes) {
            assert!(code.starts_with("LK-PKI-") && code.len() == 10, "{code}");
            assert!(e.to_string().starts_with(&format!("{code}: ")), "{e}");
        }
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n, "duplicate codes");
    }
}
