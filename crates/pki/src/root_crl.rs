//! The tenant root's CRL. The root signs only the issuing CA and the registration
//! authority, and Latchkey never revokes either, so its CRL has no entries; it exists
//! because a relying party that checks revocation along the whole chain (an MIT KDC with
//! `pkinit_require_crl_checking`, OpenSSL's `X509_V_FLAG_CRL_CHECK_ALL`) refuses a chain
//! whose every CA has no current CRL.

use rcgen::{CertificateRevocationListParams, KeyIdMethod, SerialNumber};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

use crate::revocation::minimal_be;
use crate::{PkiError, TenantCa};

impl TenantCa {
    /// The root's CRL (DER, v2): issuer the root, `this_update`/`next_update`, CRL number
    /// `crl_number`, the authority key identifier (the root's subjectKeyIdentifier), no
    /// entries, signed by the root key.
    pub fn crl(
        &self,
        crl_number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        if next_update <= this_update {
            return Err(PkiError::Validity);
        }
        let (_, parsed) = x509_parser::parse_x509_certificate(self.cert_der())
            .map_err(|e| PkiError::Certificate(e.to_string()))?;
        let key_id = parsed
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(kid) => Some(kid.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| PkiError::Certificate("the root has no subjectKeyIdentifier".into()))?;
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from_slice(&minimal_be(crl_number)),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::PreSpecified(key_id),
        };
        let crl = params.signed_by(self.issuer())?;
        Ok(crl.der().to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_root_crl_names_the_root_and_has_no_entries() {
        let now = OffsetDateTime::now_utc();
        let root = TenantCa::create("Contoso", now).unwrap();
        let der = root.crl(7, now, now + time::Duration::days(7)).unwrap();
        let (rest, crl) = x509_parser::parse_x509_crl(&der).unwrap();
        assert!(rest.is_empty());
        let (_, cert) = x509_parser::parse_x509_certificate(root.cert_der()).unwrap();
        assert_eq!(crl.issuer(), cert.subject());
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        assert_eq!(crl.crl_number().map(|n| n.to_u64_digits()), Some(vec![7]));
        // (Its signature is checked with OpenSSL in crates/latchkeyd/tests/kerberos_cli.rs.)
        assert!(
            root.crl(1, now, now).is_err(),
            "next_update must follow this_update"
        );
    }
}
