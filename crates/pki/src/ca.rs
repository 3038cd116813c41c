//! The tenant root CA: creation and reload. It signs only the certificates of the issuing
//! CA and the registration authority (`hierarchy.rs`) and its own, empty CRL
//! (`root_crl.rs`); the issuing CA signs everything else.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::{fingerprint_sha256, pem_to_der, PkiError};

/// How long a tenant CA is valid.
const CA_VALIDITY: Duration = Duration::days(3653);
/// Back-dating of `notBefore`, so that a peer whose clock is slightly behind accepts a
/// certificate issued just now.
const BACKDATE: Duration = Duration::minutes(5);

/// A tenant's certificate authority: its certificate and its signing key.
pub struct TenantCa {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: Zeroizing<String>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TenantCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantCa")
            .field("fingerprint", &self.fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

/// A certificate issued by the CA for a key the CA never sees (a device's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// PEM text.
    pub pem: String,
    /// DER bytes.
    pub der: Vec<u8>,
    /// SHA-256 fingerprint (colon-separated uppercase hex).
    pub fingerprint_sha256: String,
}

/// A TLS server certificate with the private key generated for it.
pub struct ServerCertificate {
    /// The leaf certificate.
    pub certificate: IssuedCertificate,
    /// The private key, PKCS#8 DER.
    pub key_pkcs8_der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl TenantCa {
    /// Creates a new CA for the tenant `tenant_name`: a fresh P-256 key and a self-signed
    /// certificate, CN "Latchkey `tenant_name` CA", valid ten years from `now`.
    pub fn create(tenant_name: &str, now: OffsetDateTime) -> Result<TenantCa, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&format!("Latchkey {tenant_name} CA"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, tenant_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial());
        params.not_before = now - BACKDATE;
        params.not_after = now.checked_add(CA_VALIDITY).ok_or(PkiError::Validity)?;
        let cert = params.self_signed(&key)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        Ok(TenantCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// Reloads a CA from its certificate (PEM) and its PKCS#8 private key (PEM).
    pub fn from_pem(cert_pem: &str, key_pkcs8_pem: &str) -> Result<TenantCa, PkiError> {
        let cert_der = pem_to_der(cert_pem, "CERTIFICATE")?;
        let key = KeyPair::from_pem(key_pkcs8_pem)?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| PkiError::Certificate(e.to_string()))?;
        if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(PkiError::Certificate(
                "the CA key does not match the CA certificate".into(),
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key)?;
        Ok(TenantCa {
            cert_pem: cert_pem.to_owned(),
            cert_der,
            key_pem: Zeroizing::new(key_pkcs8_pem.to_owned()),
            issuer,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The rcgen issuer (the root key), for the CA and RA certificates it signs.
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA private key, PKCS#8 PEM (a secret: store it, never log it).
    pub fn key_pkcs8_pem(&self) -> &str {
        &self.key_pem
    }

    /// SHA-256 fingerprint of the CA certificate (colon-separated uppercase hex).
    pub fn fingerprint_sha256(&self) -> String {
        fingerprint_sha256(&self.cert_der)
    }
}

pub(crate) fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

pub(crate) fn issued(cert: rcgen::Certificate) -> IssuedCertificate {
    let der = cert.der().to_vec();
    IssuedCertificate {
        pem: cert.pem(),
        fingerprint_sha256: fingerprint_sha256(&der),
        der,
    }
}

/// A random positive 128-bit serial (RFC 5280 allows up to 20 octets).
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect_certificate;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

    #[test]
    fn ca_has_the_profile() -> Result<(), PkiError> {
        let ca = TenantCa::create("Contoso", NOW)?;
        let summary = inspect_certificate(ca.cert_der())?;
        assert_eq!(summary.subject_cn, "Latchkey Contoso CA");
        assert_eq!(summary.issuer_cn, "Latchkey Contoso CA");
        assert!(summary.is_ca);
        assert_eq!(summary.not_after - NOW, CA_VALIDITY);
        assert!(ca.key_pkcs8_pem().contains("BEGIN PRIVATE KEY"));
        Ok(())
    }

    #[test]
    fn reload_round_trips() -> Result<(), PkiError> {
        let ca = TenantCa::create("Contoso", NOW)?;
        let again = TenantCa::from_pem(ca.cert_pem(), ca.key_pkcs8_pem())?;
        assert_eq!(again.fingerprint_sha256(), ca.fingerprint_sha256());
        assert_eq!(again.cert_der(), ca.cert_der());
        Ok(())
    }

    #[test]
    fn reload_refuses_a_foreign_key() -> Result<(), PkiError> {
        let ca = TenantCa::create("A", NOW)?;
        let other = TenantCa::create("B", NOW)?;
        assert!(TenantCa::from_pem(ca.cert_pem(), other.key_pkcs8_pem()).is_err());
        assert!(TenantCa::from_pem("garbage", ca.key_pkcs8_pem()).is_err());
        assert!(TenantCa::from_pem(ca.cert_pem(), "garbage").is_err());
        Ok(())
    }
}
