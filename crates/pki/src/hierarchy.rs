//! The hierarchy under the tenant root: the issuing CA (user and KDC certificates, CRL,
//! OCSP) and the registration authority (the enrolment agent that countersigns requests).
//! The root key signs only these two certificates.

use std::fmt;
use std::str::FromStr;

use der::{Decode, Encode};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use rsa::pkcs8::EncodePrivateKey;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::ca::{name, random_serial};
use crate::profile::BACKDATE;
use crate::{asn1, fingerprint_sha256, pem_to_der, PkiError, TenantCa};

/// How long an issuing CA certificate is valid (capped by the root's notAfter).
const ISSUING_CA_VALIDITY: Duration = Duration::days(5 * 365 + 1);
/// How long the registration authority's certificate is valid (capped by the root's).
const RA_VALIDITY: Duration = Duration::days(2 * 365);

/// The issuing CA's key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaAlgorithm {
    /// ECDSA P-256 with SHA-256 (`p256`).
    EcdsaP256,
    /// RSA 3072 with PKCS#1 v1.5 SHA-256 (`rsa3072`).
    Rsa3072,
}

impl fmt::Display for CaAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaAlgorithm::EcdsaP256 => "p256",
            CaAlgorithm::Rsa3072 => "rsa3072",
        })
    }
}

impl FromStr for CaAlgorithm {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, PkiError> {
        match s {
            "p256" => Ok(CaAlgorithm::EcdsaP256),
            "rsa3072" => Ok(CaAlgorithm::Rsa3072),
            other => Err(PkiError::UnknownAlgorithm(other.to_owned())),
        }
    }
}

/// A key pair and its PKCS#8 PEM.
pub(crate) fn generate_key(alg: CaAlgorithm) -> Result<(KeyPair, Zeroizing<String>), PkiError> {
    match alg {
        CaAlgorithm::EcdsaP256 => {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let pem = Zeroizing::new(key.serialize_pem());
            Ok((key, pem))
        }
        CaAlgorithm::Rsa3072 => {
            let pem = rsa_pkcs8_pem(3072)?;
            let key = KeyPair::from_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256)?;
            Ok((key, pem))
        }
    }
}

/// A fresh RSA key of `bits` bits (the `rsa` crate; ring cannot generate RSA), PKCS#8 PEM.
pub(crate) fn rsa_pkcs8_pem(bits: usize) -> Result<Zeroizing<String>, PkiError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits)
        .map_err(|e| PkiError::KeyGeneration(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| PkiError::KeyGeneration(e.to_string()))?;
    Ok(Zeroizing::new(pem.as_str().to_owned()))
}

/// Loads a PKCS#8 key whose algorithm is that of the certificate's key.
fn load_key(cert: &x509_cert::Certificate, key_pem: &str) -> Result<KeyPair, PkiError> {
    let oid = cert.tbs_certificate.subject_public_key_info.algorithm.oid;
    let key = if oid == asn1::RSA_ENCRYPTION {
        KeyPair::from_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256)?
    } else {
        KeyPair::from_pem(key_pem)?
    };
    let spki = cert.tbs_certificate.subject_public_key_info.to_der()?;
    if key.subject_public_key_info() != spki {
        return Err(PkiError::Certificate(
            "the key does not match the certificate".into(),
        ));
    }
    Ok(key)
}

/// The parts of a loaded certificate every role keeps.
pub(crate) struct Loaded {
    pub(crate) cert_pem: String,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) cert: x509_cert::Certificate,
}

impl Loaded {
    fn from_pem(cert_pem: &str) -> Result<Loaded, PkiError> {
        let cert_der = pem_to_der(cert_pem, "CERTIFICATE")?;
        Loaded::from_der(cert_pem.to_owned(), cert_der)
    }

    fn from_der(cert_pem: String, cert_der: Vec<u8>) -> Result<Loaded, PkiError> {
        let cert = x509_cert::Certificate::from_der(&cert_der)
            .map_err(|e| PkiError::Certificate(e.to_string()))?;
        Ok(Loaded {
            cert_pem,
            cert_der,
            cert,
        })
    }

    /// The subjectKeyIdentifier, when present.
    fn subject_key_id(&self) -> Option<Vec<u8>> {
        let ski_oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.14");
        let exts = self.cert.tbs_certificate.extensions.as_ref()?;
        let ext = exts.iter().find(|e| e.extn_id == ski_oid)?;
        der::asn1::OctetString::from_der(ext.extn_value.as_bytes())
            .ok()
            .map(|o| o.as_bytes().to_vec())
    }
}

/// The root's notAfter.
fn root_not_after(root: &TenantCa) -> Result<OffsetDateTime, PkiError> {
    let root = x509_cert::Certificate::from_der(root.cert_der())
        .map_err(|e| PkiError::Certificate(e.to_string()))?;
    crate::issue::to_offset(root.tbs_certificate.validity.not_after)
}

/// The CA that issues user and KDC certificates, its CRL and its OCSP responses.
pub struct IssuingCa {
    pub(crate) loaded: Loaded,
    pub(crate) key_pem: Zeroizing<String>,
    pub(crate) issuer: Issuer<'static, KeyPair>,
    pub(crate) algorithm: CaAlgorithm,
    /// The subjectKeyIdentifier (for the CRL's AKI).
    pub(crate) key_id: Vec<u8>,
}

impl fmt::Debug for IssuingCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuingCa")
            .field("algorithm", &self.algorithm)
            .field("fingerprint", &self.fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

impl IssuingCa {
    /// Creates the tenant's issuing CA, signed by `root`: CN "Latchkey `tenant_name`
    /// Issuing CA", a fresh `alg` key, pathLen 0, keyCertSign + cRLSign (+ digitalSignature
    /// for OCSP responses), five years capped by the root's notAfter.
    pub fn create(
        root: &TenantCa,
        tenant_name: &str,
        alg: CaAlgorithm,
        now: OffsetDateTime,
    ) -> Result<IssuingCa, PkiError> {
        let (key, key_pem) = generate_key(alg)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&format!("Latchkey {tenant_name} Issuing CA"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, tenant_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - BACKDATE;
        let wanted = now
            .checked_add(ISSUING_CA_VALIDITY)
            .ok_or(PkiError::Validity)?;
        params.not_after = wanted.min(root_not_after(root)?);
        if params.not_after <= now {
            return Err(PkiError::Validity);
        }
        let cert = params.signed_by(&key, root.issuer())?;
        let loaded = Loaded::from_der(cert.pem(), cert.der().to_vec())?;
        let key_id = params.key_identifier(&key);
        params.key_identifier_method = KeyIdMethod::PreSpecified(key_id.clone());
        Ok(IssuingCa {
            loaded,
            key_pem,
            issuer: Issuer::new(params, key),
            algorithm: alg,
            key_id,
        })
    }

    /// Reloads an issuing CA from its certificate (PEM) and PKCS#8 key (PEM).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<IssuingCa, PkiError> {
        let loaded = Loaded::from_pem(cert_pem)?;
        let key = load_key(&loaded.cert, key_pem)?;
        let algorithm = if key.algorithm() == &PKCS_RSA_SHA256 {
            CaAlgorithm::Rsa3072
        } else {
            CaAlgorithm::EcdsaP256
        };
        let key_id = loaded
            .subject_key_id()
            .ok_or_else(|| PkiError::Certificate("no subjectKeyIdentifier".into()))?;
        let issuer = Issuer::from_ca_cert_der(&loaded.cert_der.as_slice().into(), key)?;
        Ok(IssuingCa {
            loaded,
            key_pem: Zeroizing::new(key_pem.to_owned()),
            issuer,
            algorithm,
            key_id,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.loaded.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.loaded.cert_der
    }

    /// The CA private key, PKCS#8 PEM (a secret: store it, never log it).
    pub fn key_pkcs8_pem(&self) -> &str {
        &self.key_pem
    }

    /// SHA-256 fingerprint of the CA certificate (colon-separated uppercase hex).
    pub fn fingerprint_sha256(&self) -> String {
        fingerprint_sha256(&self.loaded.cert_der)
    }

    /// The CA's key algorithm.
    pub fn algorithm(&self) -> CaAlgorithm {
        self.algorithm
    }
}

/// The registration authority: the enrolment agent whose certificate (EKU Certificate
/// Request Agent, signed by the root) countersigns every request the CA issues.
pub struct RegistrationAuthority {
    pub(crate) loaded: Loaded,
    pub(crate) key_pem: Zeroizing<String>,
    pub(crate) key: KeyPair,
}

impl fmt::Debug for RegistrationAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationAuthority")
            .field("fingerprint", &self.fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

impl RegistrationAuthority {
    /// Creates the tenant's RA: a P-256 key, CN "Latchkey `tenant_name` Registration
    /// Authority", EKU Certificate Request Agent (1.3.6.1.4.1.311.20.2.1), CA:FALSE,
    /// digitalSignature, two years capped by the root's notAfter, signed by `root`.
    pub fn create(
        root: &TenantCa,
        tenant_name: &str,
        now: OffsetDateTime,
    ) -> Result<RegistrationAuthority, PkiError> {
        Self::create_with_ekus(
            root,
            tenant_name,
            now,
            vec![ExtendedKeyUsagePurpose::Other(
                asn1::CERT_REQUEST_AGENT_ARCS.to_vec(),
            )],
        )
    }

    pub(crate) fn create_with_ekus(
        root: &TenantCa,
        tenant_name: &str,
        now: OffsetDateTime,
        ekus: Vec<ExtendedKeyUsagePurpose>,
    ) -> Result<RegistrationAuthority, PkiError> {
        let (key, key_pem) = generate_key(CaAlgorithm::EcdsaP256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&format!("Latchkey {tenant_name} Registration Authority"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, tenant_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = ekus;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - BACKDATE;
        let wanted = now.checked_add(RA_VALIDITY).ok_or(PkiError::Validity)?;
        params.not_after = wanted.min(root_not_after(root)?);
        if params.not_after <= now {
            return Err(PkiError::Validity);
        }
        let cert = params.signed_by(&key, root.issuer())?;
        Ok(RegistrationAuthority {
            loaded: Loaded::from_der(cert.pem(), cert.der().to_vec())?,
            key_pem,
            key,
        })
    }

    /// Reloads the RA from its certificate (PEM) and PKCS#8 key (PEM).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<RegistrationAuthority, PkiError> {
        let loaded = Loaded::from_pem(cert_pem)?;
        let key = load_key(&loaded.cert, key_pem)?;
        Ok(RegistrationAuthority {
            loaded,
            key_pem: Zeroizing::new(key_pem.to_owned()),
            key,
        })
    }

    /// The RA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.loaded.cert_pem
    }

    /// The RA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.loaded.cert_der
    }

    /// The RA private key, PKCS#8 PEM (a secret: store it, never log it).
    pub fn key_pkcs8_pem(&self) -> &str {
        &self.key_pem
    }

    /// SHA-256 fingerprint of the RA certificate (colon-separated uppercase hex).
    pub fn fingerprint_sha256(&self) -> String {
        fingerprint_sha256(&self.loaded.cert_der)
    }
}
