//! A user's Hello certificate as the device keeps it: `hello-cert/<user>.json`, beside the
//! Hello key's container (certificate trust, `docs/certificates.md`).
//!
//! The record is written only after the certificate the service returned has been checked
//! against what the device knows: it certifies this user's Hello key (the same
//! SubjectPublicKeyInfo), its chain ends in the tenant CA the device pinned at join, and
//! its serial and validity are those the service reported.

use latchkey_pki::{inspect_certificate, pem_to_der};
use latchkey_proto::api::cert::IssuedCertificate;
use serde::{Deserialize, Serialize};
use sha1::Digest;

use crate::error::AgentError;
use crate::records::user_file;
use crate::store::StateDir;

/// The directory of the certificate records.
pub const CERT_DIR: &str = "hello-cert";
/// The format version of a certificate record.
pub const CERT_RECORD_VERSION: u32 = 1;
/// The most certificates a chain may carry.
const MAX_CHAIN: usize = 4;

/// A Hello certificate installed for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRecord {
    /// Format version ([`CERT_RECORD_VERSION`]).
    pub version: u32,
    /// The user.
    pub upn: String,
    /// The Hello key it certifies (hex key id).
    pub key_id: String,
    /// Serial number (lowercase hex).
    pub serial: String,
    /// The template it was issued on.
    pub template: String,
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// Its chain, PEM: the issuing CA, then the tenant root.
    pub chain_pem: Vec<String>,
    /// SHA-1 thumbprint (uppercase hex), as Windows shows certificates.
    pub thumbprint: String,
    /// Start of validity (seconds since the epoch).
    pub not_before: i64,
    /// End of validity (seconds since the epoch).
    pub not_after: i64,
    /// When the renewal window opens (seconds since the epoch).
    pub renew_after: i64,
    /// When the device installed it.
    pub installed_at: i64,
}

/// Where a certificate stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertPhase {
    /// Valid, not yet in its renewal window.
    Valid,
    /// Valid and inside its renewal window: the device renews it.
    RenewalDue,
    /// Past its end of validity: only a new enrolment (fresh MFA) replaces it.
    Expired,
}

impl CertRecord {
    /// Checks what the service returned for `upn`'s key `key_id` (SubjectPublicKeyInfo
    /// `key_spki`) against the pinned tenant CA `tenant_ca_pem`, and makes the record.
    pub fn from_issued(
        upn: &str,
        key_id: &str,
        key_spki: &[u8],
        tenant_ca_pem: &str,
        issued: &IssuedCertificate,
        now: i64,
    ) -> Result<CertRecord, AgentError> {
        let refuse = |reason: String| AgentError::CertificateNotForKey { reason };
        let der = pem_to_der(&issued.certificate, "CERTIFICATE")
            .map_err(|e| refuse(format!("the certificate is not PEM: {e}")))?;
        let leaf = inspect_certificate(&der)
            .map_err(|e| refuse(format!("the certificate does not parse: {e}")))?;
        if leaf.spki_der != key_spki {
            return Err(refuse(
                "it certifies another key than this Hello key".into(),
            ));
        }
        let serial = canonical_serial(&leaf.serial_hex);
        if serial != canonical_serial(&issued.serial) {
            return Err(refuse(format!(
                "its serial {} is not the serial reported, {}",
                leaf.serial_hex, issued.serial
            )));
        }
        if issued.chain.is_empty() || issued.chain.len() > MAX_CHAIN {
            return Err(refuse(format!(
                "its chain has {} certificates",
                issued.chain.len()
            )));
        }
        let root_der = pem_to_der(tenant_ca_pem, "CERTIFICATE")
            .map_err(|e| refuse(format!("the pinned tenant CA is not PEM: {e}")))?;
        let last = issued
            .chain
            .last()
            .map(|pem| pem_to_der(pem, "CERTIFICATE"));
        if !matches!(last, Some(Ok(ref d)) if *d == root_der) {
            return Err(refuse(
                "its chain does not end in the tenant CA this device pinned at join".into(),
            ));
        }
        let not_before = leaf.not_before.unix_timestamp();
        let not_after = leaf.not_after.unix_timestamp();
        let renew_after = parse_time(&issued.renew_after).ok_or_else(|| {
            refuse(format!(
                "renew_after {:?} is not RFC 3339",
                issued.renew_after
            ))
        })?;
        if !(not_before..=not_after).contains(&renew_after) || not_after <= now {
            return Err(refuse(
                "its validity or renewal time is not sensible (already expired, or renewal outside validity)".into(),
            ));
        }
        Ok(CertRecord {
            version: CERT_RECORD_VERSION,
            upn: upn.to_owned(),
            key_id: key_id.to_owned(),
            serial,
            template: issued.template.clone(),
            certificate_pem: issued.certificate.clone(),
            chain_pem: issued.chain.clone(),
            thumbprint: hex::encode_upper(sha1::Sha1::digest(&der)),
            not_before,
            not_after,
            renew_after,
            installed_at: now,
        })
    }

    /// Where the certificate stands at `now`.
    pub fn phase(&self, now: i64) -> CertPhase {
        if now >= self.not_after {
            CertPhase::Expired
        } else if now >= self.renew_after {
            CertPhase::RenewalDue
        } else {
            CertPhase::Valid
        }
    }

    /// The certificate's SHA-256 fingerprint exactly as the service prints it (`latchkeyd
    /// cert show`: uppercase, colon-separated); `None` when the PEM does not decode.
    pub fn sha256(&self) -> Option<String> {
        latchkey_pki::pem_to_der(&self.certificate_pem, "CERTIFICATE")
            .ok()
            .map(|der| latchkey_pki::fingerprint_sha256(&der))
    }

    /// One line for `status`: thumbprint, template, validity and phase.
    pub fn describe(&self, now: i64) -> String {
        let phase = match self.phase(now) {
            CertPhase::Valid => "valid",
            CertPhase::RenewalDue => "valid, renewal due",
            CertPhase::Expired => "EXPIRED: run `latchkey cert enroll`",
        };
        format!(
            "{} ({}; template {}; {} to {}; renews from {}; serial {})",
            self.thumbprint,
            phase,
            self.template,
            crate::status::rfc3339(self.not_before),
            crate::status::rfc3339(self.not_after),
            crate::status::rfc3339(self.renew_after),
            self.serial
        )
    }

    /// The record of `upn`, if any; a damaged one or one of an unknown version is an error.
    pub fn load(state: &StateDir, upn: &str) -> Result<Option<CertRecord>, AgentError> {
        let name = user_file(CERT_DIR, upn);
        let damaged = |reason: String| AgentError::CertificateRecordDamaged {
            path: state.path(&name).display().to_string(),
            reason,
        };
        let record: Option<CertRecord> = match state.read_json(&name) {
            Ok(r) => r,
            Err(AgentError::CorruptState { reason, .. }) => return Err(damaged(reason)),
            Err(other) => return Err(other),
        };
        match record {
            Some(r) if r.version != CERT_RECORD_VERSION => {
                Err(damaged(format!("unknown version {}", r.version)))
            }
            Some(r) if !r.upn.eq_ignore_ascii_case(upn) => {
                Err(damaged(format!("it names another user, {}", r.upn)))
            }
            other => Ok(other),
        }
    }

    /// Writes the record (atomically, 0600).
    pub fn save(&self, state: &StateDir) -> Result<(), AgentError> {
        state.write_json(&user_file(CERT_DIR, &self.upn), self)
    }

    /// Removes `upn`'s record, if any.
    pub fn remove(state: &StateDir, upn: &str) -> Result<(), AgentError> {
        state.remove(&user_file(CERT_DIR, upn))
    }
}

/// A serial as lowercase hex without leading zero bytes (DER adds one before a high bit).
fn canonical_serial(hex: &str) -> String {
    let lower = hex.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(shorter) = rest.strip_prefix("00").filter(|r| !r.is_empty()) {
        rest = shorter;
    }
    rest.to_owned()
}

fn parse_time(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hello_key::{spki_of, HelloKey};
    use latchkey_pki::{CaAlgorithm, IssuingCa, TenantCa};
    use time::OffsetDateTime;

    struct Fixture {
        ca: TenantCa,
        key: HelloKey,
        spki: Vec<u8>,
        issued: IssuedCertificate,
        now: i64,
    }

    fn fixture() -> Fixture {
        let now = OffsetDateTime::now_utc();
        let ca = TenantCa::create("Contoso", now).unwrap();
        let issuing = IssuingCa::create(&ca, "Contoso", CaAlgorithm::EcdsaP256, now).unwrap();
        let key = HelloKey::generate().unwrap();
        let spki = spki_of(&key.public_key()).unwrap();
        // Any certificate of the key does for these checks (they read the SPKI, serial,
        // validity and chain, not the profile).
        let cert = issuing
            .issue_device_certificate(&spki, "alice", now)
            .unwrap();
        let summary = inspect_certificate(&cert.der).unwrap();
        let issued = IssuedCertificate {
            serial: summary.serial_hex.clone(),
            template: "Hello authentication".into(),
            certificate: cert.pem.clone(),
            chain: vec![issuing.cert_pem().to_owned(), ca.cert_pem().to_owned()],
            not_before: "unused".into(),
            not_after: "unused".into(),
            renew_after: (summary.not_after - time::Duration::days(30))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        };
        Fixture {
            ca,
            key,
            spki,
            issued,
            now: now.unix_timestamp(),
        }
    }

    fn install(
        f: &Fixture,
        spki: &[u8],
        ca_pem: &str,
        issued: &IssuedCertificate,
    ) -> Result<CertRecord, AgentError> {
        CertRecord::from_issued(
            "alice@example.com",
            &f.key.key_id(),
            spki,
            ca_pem,
            issued,
            f.now,
        )
    }

    #[test]
    fn a_certificate_of_this_key_under_the_pinned_ca_is_installed_and_phased() {
        let f = fixture();
        let r = install(&f, &f.spki, f.ca.cert_pem(), &f.issued).unwrap();
        assert_eq!(r.serial, canonical_serial(&f.issued.serial));
        assert_eq!(canonical_serial("00FF01"), "ff01");
        assert_eq!(canonical_serial("00"), "00");
        assert_eq!(r.thumbprint.len(), 40);
        assert_eq!(r.phase(f.now), CertPhase::Valid);
        assert_eq!(r.phase(r.renew_after), CertPhase::RenewalDue);
        assert_eq!(r.phase(r.not_after), CertPhase::Expired);
        assert!(r.describe(r.not_after).contains("EXPIRED"));

        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("s"));
        r.save(&state).unwrap();
        assert_eq!(
            CertRecord::load(&state, "ALICE@example.com").unwrap(),
            Some(r.clone())
        );
        CertRecord::remove(&state, "alice@example.com").unwrap();
        assert_eq!(CertRecord::load(&state, "alice@example.com").unwrap(), None);
    }

    #[test]
    fn a_certificate_of_another_key_another_root_or_serial_is_refused() {
        let f = fixture();
        let other_key = spki_of(&HelloKey::generate().unwrap().public_key()).unwrap();
        let err = install(&f, &other_key, f.ca.cert_pem(), &f.issued).unwrap_err();
        assert_eq!(err.code(), "LK-AGENT-031", "{err}");
        assert!(err.to_string().contains("another key"), "{err}");

        let other_ca = TenantCa::create("Fabrikam", OffsetDateTime::now_utc()).unwrap();
        let err = install(&f, &f.spki, other_ca.cert_pem(), &f.issued).unwrap_err();
        assert!(err.to_string().contains("tenant CA"), "{err}");

        let mut wrong_serial = f.issued.clone();
        wrong_serial.serial = "01".into();
        let err = install(&f, &f.spki, f.ca.cert_pem(), &wrong_serial).unwrap_err();
        assert!(err.to_string().contains("serial"), "{err}");

        let mut no_chain = f.issued.clone();
        no_chain.chain.clear();
        assert_eq!(
            install(&f, &f.spki, f.ca.cert_pem(), &no_chain)
                .unwrap_err()
                .code(),
            "LK-AGENT-031"
        );

        let mut late = f.issued.clone();
        late.renew_after = "2999-01-01T00:00:00Z".into();
        assert!(install(&f, &f.spki, f.ca.cert_pem(), &late)
            .unwrap_err()
            .to_string()
            .contains("renewal"));

        let mut garbage = f.issued.clone();
        garbage.certificate =
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into();
        assert_eq!(
            install(&f, &f.spki, f.ca.cert_pem(), &garbage)
                .unwrap_err()
                .code(),
            "LK-AGENT-031"
        );
    }

    #[test]
    fn a_damaged_or_foreign_record_is_refused_with_its_code() {
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("s"));
        let mut r = install(&f, &f.spki, f.ca.cert_pem(), &f.issued).unwrap();
        r.upn = "mallory@example.com".into();
        state
            .write_json(&user_file(CERT_DIR, "alice@example.com"), &r)
            .unwrap();
        assert_eq!(
            CertRecord::load(&state, "alice@example.com")
                .unwrap_err()
                .code(),
            "LK-STATE-013"
        );
        state
            .write_bytes(&user_file(CERT_DIR, "alice@example.com"), b"{not json")
            .unwrap();
        assert_eq!(
            CertRecord::load(&state, "alice@example.com")
                .unwrap_err()
                .code(),
            "LK-STATE-013"
        );
        r.upn = "alice@example.com".into();
        r.version = 9;
        state
            .write_json(&user_file(CERT_DIR, "alice@example.com"), &r)
            .unwrap();
        assert_eq!(
            CertRecord::load(&state, "alice@example.com")
                .unwrap_err()
                .code(),
            "LK-STATE-013"
        );
    }
}
