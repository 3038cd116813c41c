//! The certificates the issuing CA signs for the service itself: its TLS server
//! certificate and the device certificates of joins. The tenant root signs only CA and RA
//! certificates; these, like the Hello certificates, come from the issuing CA.

use rcgen::{
    CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SubjectPublicKeyInfo, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::ca::{issued, name, random_serial};
use crate::profile::BACKDATE;
use crate::{IssuedCertificate, IssuingCa, PkiError, ServerCertificate};

/// How long a device certificate is valid.
const DEVICE_VALIDITY: Duration = Duration::days(365);
/// How long a TLS server certificate is valid (the CA/Browser Forum's 397-day ceiling).
const SERVER_VALIDITY: Duration = Duration::days(397);

impl IssuingCa {
    /// Issues a TLS server certificate for `host` (plus `localhost`, `127.0.0.1` and `::1`),
    /// with a freshly generated P-256 key, EKU serverAuth, valid from `now`.
    pub fn issue_server_certificate(
        &self,
        host: &str,
        now: OffsetDateTime,
    ) -> Result<ServerCertificate, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut names: Vec<String> = vec![host.to_owned()];
        for extra in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|n| n == extra) {
                names.push(extra.to_owned());
            }
        }
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name = name(host);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - BACKDATE;
        params.not_after = now.checked_add(SERVER_VALIDITY).ok_or(PkiError::Validity)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServerCertificate {
            certificate: issued(cert),
            key_pkcs8_der: Zeroizing::new(key.serialize_der()),
        })
    }

    /// Issues a device certificate for the public key `spki_der` (SubjectPublicKeyInfo DER):
    /// CN = `device_id`, EKU clientAuth, a random serial, valid one year from `now`.
    pub fn issue_device_certificate(
        &self,
        spki_der: &[u8],
        device_id: &str,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        let public_key = SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| PkiError::PublicKey(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(device_id);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - BACKDATE;
        params.not_after = now.checked_add(DEVICE_VALIDITY).ok_or(PkiError::Validity)?;
        let cert = params.signed_by(&public_key, &self.issuer)?;
        Ok(issued(cert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{inspect_certificate, CaAlgorithm, TenantCa};
    use rcgen::PublicKeyData;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

    fn issuing() -> IssuingCa {
        let root = TenantCa::create("Contoso", NOW).unwrap();
        IssuingCa::create(&root, "Contoso", CaAlgorithm::EcdsaP256, NOW).unwrap()
    }

    #[test]
    fn the_server_certificate_comes_from_the_issuing_ca() -> Result<(), PkiError> {
        let ca = issuing();
        let reloaded = IssuingCa::from_pem(ca.cert_pem(), ca.key_pkcs8_pem())?;
        let server = reloaded.issue_server_certificate("example.test", NOW)?;
        let summary = inspect_certificate(&server.certificate.der)?;
        assert_eq!(summary.issuer_cn, "Latchkey Contoso Issuing CA");
        assert_eq!(
            summary.subject_alt_names,
            ["example.test", "localhost", "127.0.0.1", "::1"]
        );
        assert!(!summary.is_ca);
        assert_eq!(summary.not_after - NOW, SERVER_VALIDITY);
        Ok(())
    }

    #[test]
    fn device_certificate_names_the_device() -> Result<(), PkiError> {
        let ca = issuing();
        let device_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let spki = device_key.subject_public_key_info();
        let a = ca.issue_device_certificate(&spki, "dev-1", NOW)?;
        let b = ca.issue_device_certificate(&spki, "dev-1", NOW)?;
        let summary = inspect_certificate(&a.der)?;
        assert_eq!(summary.subject_cn, "dev-1");
        assert_eq!(summary.issuer_cn, "Latchkey Contoso Issuing CA");
        assert_eq!(summary.spki_der, spki);
        assert_eq!(summary.not_after - NOW, DEVICE_VALIDITY);
        assert_ne!(summary.serial_hex, inspect_certificate(&b.der)?.serial_hex);
        Ok(())
    }

    #[test]
    fn garbage_public_key_is_refused() {
        assert!(matches!(
            issuing().issue_device_certificate(b"\x30\x03\x02\x01\x00", "d", NOW),
            Err(PkiError::PublicKey(_))
        ));
    }
}
