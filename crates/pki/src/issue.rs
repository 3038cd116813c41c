//! The CA path: user certificates from countersigned requests, and KDC certificates.

use rcgen::{
    CertificateParams, CrlDistributionPoint, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SubjectPublicKeyInfo, PKCS_RSA_SHA256,
};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use spki::AlgorithmIdentifierOwned;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::ca::{issued, name, random_serial};
use crate::countersign::check_countersigned;
use crate::hierarchy::{rsa_pkcs8_pem, IssuingCa};
use crate::names::{
    aia_extension, dns_name, email_name, krb5_principal_name, san_extension, upn_name,
    NT_PRINCIPAL, NT_SRV_INST,
};
use crate::profile::{validate_url, BACKDATE};
use crate::template::validate_realm;
use crate::{asn1, IssuedCertificate, PkiError, ServerCertificate};

/// A user certificate issued from a countersigned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCertificate {
    /// The certificate.
    pub certificate: IssuedCertificate,
    /// Its serial number, lowercase hex (as `inspect_certificate` reports it).
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// An x509-cert time as `OffsetDateTime`.
pub(crate) fn to_offset(t: x509_cert::time::Time) -> Result<OffsetDateTime, PkiError> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| PkiError::Validity)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| PkiError::Validity)
}

/// The AlgorithmIdentifier of signatures made by `key`.
pub(crate) fn signature_algorithm(key: &KeyPair) -> AlgorithmIdentifierOwned {
    if key.algorithm() == &PKCS_RSA_SHA256 {
        AlgorithmIdentifierOwned {
            oid: asn1::SHA256_WITH_RSA,
            parameters: Some(der::asn1::Null.into()),
        }
    } else {
        AlgorithmIdentifierOwned {
            oid: asn1::ECDSA_WITH_SHA256,
            parameters: None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a DNS host name: 1..=253 characters, labels of 1..=63 `a-z A-Z 0-9 -`, not
/// starting or ending with `-`.
pub fn validate_hostname(host: &str) -> Result<(), PkiError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(PkiError::Hostname(host.to_owned()))
    }
}

impl IssuingCa {
    /// Issues a user certificate from a request countersigned by the registration
    /// authority (see [`crate::RegistrationAuthority::countersign`]).
    ///
    /// Refuses (each with its own error) anything that is not a countersignature, an RA
    /// certificate that does not chain to `root_cert_der`, is not valid at `now` or lacks
    /// the Certificate Request Agent EKU, a bad RA signature, a countersignature whose
    /// profile starts more than an hour before `now` (a replay) or after it, a request
    /// whose own signature fails, and a request key that is not the profile's. Then issues exactly the profile:
    /// subject CN=UPN; SAN UPN otherName, rfc822Name (if the template says so) and
    /// id-pkinit-san (if it has a realm); KU digitalSignature; EKU Smart Card Logon +
    /// Client Authentication; CA:FALSE; AKI/SKI; CDP; AIA; a random 128-bit serial.
    /// Nothing the request asked for is copied.
    pub fn issue(
        &self,
        countersigned: &[u8],
        root_cert_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<UserCertificate, PkiError> {
        let checked = check_countersigned(countersigned, root_cert_der, now)?;
        let profile = checked.profile;
        let template = &profile.template;

        let mut names = vec![upn_name(&profile.upn)?];
        if template.include_email {
            names.push(email_name(&profile.upn)?);
        }
        if let Some(realm) = &template.kerberos_realm {
            names.push(krb5_principal_name(
                realm,
                NT_PRINCIPAL,
                &[profile.kerberos_principal_name()],
            )?);
        }

        let mut params = CertificateParams::default();
        params.distinguished_name = name(&profile.upn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::Other(asn1::SMART_CARD_LOGON_ARCS.to_vec()),
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        params.not_before = profile.not_before;
        params.not_after = profile.not_after;
        if let Some(url) = &profile.crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        params.custom_extensions.push(san_extension(names)?);
        if let Some(aia) = aia_extension(
            profile.ca_issuers_url.as_deref(),
            profile.ocsp_url.as_deref(),
        )? {
            params.custom_extensions.push(aia);
        }
        let public_key = SubjectPublicKeyInfo::from_der(&profile.spki_der)
            .map_err(|e| PkiError::PublicKey(e.to_string()))?;
        let cert = params.signed_by(&public_key, &self.issuer)?;
        Ok(UserCertificate {
            certificate: issued(cert),
            serial_hex: hex(serial.as_ref()),
            not_before: profile.not_before,
            not_after: profile.not_after,
        })
    }

    /// Issues a KDC certificate for `realm` on `hostname` with a fresh RSA-2048 key (MIT
    /// KDC interoperability): EKU id-pkinit-KPKdc + Server Authentication, SAN otherName
    /// id-pkinit-san `krbtgt/REALM@REALM` (NT-SRV-INST) + dNSName `hostname`, KU
    /// digitalSignature + keyEncipherment, valid `validity_days` (1..=3650) from `now`.
    pub fn issue_kdc_certificate(
        &self,
        realm: &str,
        hostname: &str,
        now: OffsetDateTime,
        validity_days: u32,
        crl_url: Option<&str>,
    ) -> Result<ServerCertificate, PkiError> {
        validate_realm(realm)?;
        validate_hostname(hostname)?;
        if !(1..=3650).contains(&validity_days) {
            return Err(PkiError::TemplateValidity(validity_days));
        }
        if let Some(url) = crl_url {
            validate_url(url)?;
        }
        let key_pem = rsa_pkcs8_pem(2048)?;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem)
            .map_err(|e| PkiError::KeyGeneration(e.to_string()))?;
        let spki_der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| PkiError::KeyGeneration(e.to_string()))?;
        let key_der = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
            .map_err(|e| PkiError::KeyGeneration(e.to_string()))?;

        let mut params = CertificateParams::default();
        params.distinguished_name = name(hostname);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::Other(asn1::PKINIT_KPKDC_ARCS.to_vec()),
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - BACKDATE;
        params.not_after = now
            .checked_add(Duration::days(i64::from(validity_days)))
            .ok_or(PkiError::Validity)?;
        if let Some(url) = crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }];
        }
        params.custom_extensions.push(san_extension(vec![
            krb5_principal_name(realm, NT_SRV_INST, &["krbtgt", realm])?,
            dns_name(hostname)?,
        ])?);
        let public_key = SubjectPublicKeyInfo::from_der(spki_der.as_bytes())
            .map_err(|e| PkiError::PublicKey(e.to_string()))?;
        let cert = params.signed_by(&public_key, &self.issuer)?;
        Ok(ServerCertificate {
            certificate: issued(cert),
            key_pkcs8_der: Zeroizing::new(key_der.as_bytes().to_vec()),
        })
    }
}

#[cfg(test)]
#[path = "issue_tests.rs"]
pub(crate) mod tests;
