//! X.509 path validation of an attestation chain (`x5c`, leaf first) to configured trust
//! anchors, at a time given by the caller.
//!
//! Checked (RFC 5280 section 6, reduced to what attestation chains need): every chain
//! certificate is valid at the given time; each certificate is signed by the next one (or
//! by an anchor) whose subject is its issuer; issuers are CAs (basicConstraints cA, keyUsage
//! keyCertSign when present, pathLenConstraint); no unknown critical extension. Trust
//! anchors are taken as given (their own validity period is not checked, as RFC 5280 treats
//! an anchor as a name and a key). Revocation is not checked.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::crypto::{verify_x509_signature, PublicKey};
use crate::error::AttestError;
use crate::options::MAX_CHAIN_LEN;

/// Critical extensions this validator understands (or that carry no constraint on the
/// path): basicConstraints, keyUsage, extKeyUsage, subjectAltName, certificatePolicies,
/// policyConstraints, inhibitAnyPolicy.
const KNOWN_CRITICAL: &[&str] = &[
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.17",
    "2.5.29.32",
    "2.5.29.36",
    "2.5.29.54",
];

/// A trusted root certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchor {
    der: Vec<u8>,
    subject_raw: Vec<u8>,
    subject: String,
    key: PublicKey,
}

impl TrustAnchor {
    /// A trust anchor from a DER certificate.
    pub fn from_der(der: Vec<u8>) -> Result<Self, AttestError> {
        let bad = |detail: String| AttestError::TrustAnchorMalformed { detail };
        let (subject_raw, subject, key) = {
            let (rest, cert) =
                X509Certificate::from_der(&der).map_err(|e| bad(format!("not X.509: {e}")))?;
            if !rest.is_empty() {
                return Err(bad("trailing bytes after the certificate".into()));
            }
            let key = PublicKey::from_spki(cert.public_key()).map_err(bad)?;
            (
                cert.subject().as_raw().to_vec(),
                cert.subject().to_string(),
                key,
            )
        };
        Ok(Self {
            der,
            subject_raw,
            subject,
            key,
        })
    }

    /// A trust anchor from one PEM `CERTIFICATE` block.
    pub fn from_pem(pem: &[u8]) -> Result<Self, AttestError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| {
            AttestError::TrustAnchorMalformed {
                detail: format!("PEM: {e}"),
            }
        })?;
        Self::from_der(block.contents)
    }

    /// The anchor's subject name, for display.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// A chain that validated: which anchor it ends at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedChain {
    /// Subject of the trust anchor the chain leads to.
    pub anchor_subject: String,
    /// Number of certificates in the presented chain.
    pub length: usize,
}

/// Parse one DER certificate of a chain, refusing trailing bytes.
pub(crate) fn parse_cert(der: &[u8], index: usize) -> Result<X509Certificate<'_>, AttestError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| AttestError::CertificateMalformed {
            index,
            detail: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(AttestError::CertificateMalformed {
            index,
            detail: "trailing bytes after the certificate".into(),
        });
    }
    Ok(cert)
}

/// The public key of a certificate, normalised.
pub(crate) fn cert_key(cert: &X509Certificate<'_>, index: usize) -> Result<PublicKey, AttestError> {
    PublicKey::from_spki(cert.public_key())
        .map_err(|detail| AttestError::CertificateMalformed { index, detail })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn check_time(
    cert: &X509Certificate<'_>,
    index: usize,
    at: OffsetDateTime,
) -> Result<(), AttestError> {
    let nb = cert.validity().not_before.to_datetime();
    let na = cert.validity().not_after.to_datetime();
    if at < nb || at > na {
        return Err(AttestError::CertificateNotValidAtTime {
            index,
            at: rfc3339(at),
            not_before: rfc3339(nb),
            not_after: rfc3339(na),
        });
    }
    Ok(())
}

fn check_critical(cert: &X509Certificate<'_>, index: usize) -> Result<(), AttestError> {
    for ext in cert.extensions() {
        if ext.critical && !KNOWN_CRITICAL.contains(&ext.oid.to_id_string().as_str()) {
            return Err(AttestError::CertificateMalformed {
                index,
                detail: format!("unknown critical extension {}", ext.oid.to_id_string()),
            });
        }
    }
    Ok(())
}

/// Check that `cert` (at `index`) may issue, with `below` CA certificates under it.
fn check_issuer(cert: &X509Certificate<'_>, index: usize, below: u32) -> Result<(), AttestError> {
    let not_ca = |detail| AttestError::IssuerNotCa { index, detail };
    let bc = cert
        .basic_constraints()
        .map_err(|_| not_ca("basicConstraints malformed"))?;
    match bc {
        Some(bc) if !bc.value.ca => return Err(not_ca("basicConstraints cA is false")),
        Some(bc) if bc.value.path_len_constraint.is_some_and(|n| n < below) => {
            return Err(not_ca("pathLenConstraint exceeded"))
        }
        Some(_) => {}
        // X.509 v1/v2 certificates carry no extensions; a v3 issuer must say it is a CA.
        None if cert.version().0 >= 2 => return Err(not_ca("basicConstraints missing")),
        None => {}
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        if !ku.value.key_cert_sign() {
            return Err(not_ca("keyUsage lacks keyCertSign"));
        }
    }
    Ok(())
}

fn signed_by(
    cert: &X509Certificate<'_>,
    index: usize,
    issuer: &PublicKey,
) -> Result<bool, AttestError> {
    verify_x509_signature(
        issuer,
        &cert.signature_algorithm.algorithm.to_id_string(),
        cert.tbs_certificate.as_ref(),
        &cert.signature_value.data,
    )
    .map_err(|detail| AttestError::CertificateMalformed { index, detail })
}

/// Validate `x5c` (leaf first, DER) to one of `anchors` at time `at`.
pub fn validate_chain(
    x5c: &[Vec<u8>],
    anchors: &[&TrustAnchor],
    at: OffsetDateTime,
) -> Result<ValidatedChain, AttestError> {
    if x5c.is_empty() {
        return Err(AttestError::UntrustedChain {
            detail: "empty chain".into(),
        });
    }
    if x5c.len() > MAX_CHAIN_LEN {
        return Err(AttestError::LimitExceeded {
            what: "certificate chain length",
            limit: MAX_CHAIN_LEN,
        });
    }
    let certs = x5c
        .iter()
        .enumerate()
        .map(|(i, der)| parse_cert(der, i))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, cert) in certs.iter().enumerate() {
        check_critical(cert, i)?;
        check_time(cert, i, at)?;
    }
    let done = |a: &TrustAnchor| ValidatedChain {
        anchor_subject: a.subject.clone(),
        length: x5c.len(),
    };
    for (idx, (cur, der)) in certs.iter().zip(x5c).enumerate() {
        if let Some(a) = anchors.iter().find(|a| a.der == *der) {
            return Ok(done(a));
        }
        let issuer_raw = cur.issuer().as_raw();
        for a in anchors.iter().filter(|a| a.subject_raw == issuer_raw) {
            if signed_by(cur, idx, &a.key)? {
                return Ok(done(a));
            }
        }
        let next = idx + 1;
        let Some(parent) = certs.get(next) else {
            return Err(AttestError::UntrustedChain {
                detail: format!("no trust anchor issued {:?}", cur.issuer().to_string()),
            });
        };
        if parent.subject().as_raw() != issuer_raw {
            return Err(AttestError::UntrustedChain {
                detail: format!("certificate {next} did not issue certificate {idx}"),
            });
        }
        // CA certificates strictly below `parent` (the leaf does not count).
        let below = u32::try_from(idx).unwrap_or(u32::MAX);
        check_issuer(parent, next, below)?;
        let key = cert_key(parent, next)?;
        if !signed_by(cur, idx, &key)? {
            return Err(AttestError::CertificateSignatureInvalid { index: idx });
        }
    }
    // Not reached: the last certificate has no parent, so the loop returns on it, and the
    // chain is not empty.
    Err(AttestError::UntrustedChain {
        detail: "empty chain".into(),
    })
}
