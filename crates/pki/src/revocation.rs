//! Revocation: reasons (RFC 5280 §5.3.1) and the issuing CA's CRL.

use std::fmt;
use std::str::FromStr;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use crate::hierarchy::IssuingCa;
use crate::PkiError;

/// The longest serial number (RFC 5280: at most 20 octets).
const MAX_SERIAL_LEN: usize = 20;

/// Why a certificate was revoked (the CRLReason codes of RFC 5280).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// `unspecified` (0).
    Unspecified,
    /// `key-compromise` (1).
    KeyCompromise,
    /// `ca-compromise` (2).
    CaCompromise,
    /// `affiliation-changed` (3).
    AffiliationChanged,
    /// `superseded` (4).
    Superseded,
    /// `cessation-of-operation` (5).
    CessationOfOperation,
    /// `certificate-hold` (6).
    CertificateHold,
    /// `remove-from-crl` (8): only meaningful in delta CRLs; not accepted to revoke.
    RemoveFromCrl,
    /// `privilege-withdrawn` (9).
    PrivilegeWithdrawn,
}

const ALL: [(RevocationReason, &str, u8); 9] = [
    (RevocationReason::Unspecified, "unspecified", 0),
    (RevocationReason::KeyCompromise, "key-compromise", 1),
    (RevocationReason::CaCompromise, "ca-compromise", 2),
    (
        RevocationReason::AffiliationChanged,
        "affiliation-changed",
        3,
    ),
    (RevocationReason::Superseded, "superseded", 4),
    (
        RevocationReason::CessationOfOperation,
        "cessation-of-operation",
        5,
    ),
    (RevocationReason::CertificateHold, "certificate-hold", 6),
    (RevocationReason::RemoveFromCrl, "remove-from-crl", 8),
    (
        RevocationReason::PrivilegeWithdrawn,
        "privilege-withdrawn",
        9,
    ),
];

impl RevocationReason {
    /// The RFC 5280 code.
    pub fn code(self) -> u8 {
        ALL.iter()
            .find(|(r, _, _)| *r == self)
            .map_or(0, |(_, _, c)| *c)
    }

    /// The reason with RFC 5280 code `code`.
    pub fn from_code(code: u8) -> Option<RevocationReason> {
        ALL.iter().find(|(_, _, c)| *c == code).map(|(r, _, _)| *r)
    }

    /// The kebab-case name (`key-compromise`).
    pub fn as_str(self) -> &'static str {
        ALL.iter()
            .find(|(r, _, _)| *r == self)
            .map_or("unspecified", |(_, n, _)| n)
    }

    /// Parses a reason an administrator may revoke with: every name except
    /// `remove-from-crl`.
    pub fn parse_for_revoke(s: &str) -> Result<RevocationReason, PkiError> {
        let reason: RevocationReason = s.parse()?;
        if reason == RevocationReason::RemoveFromCrl {
            return Err(PkiError::ReasonNotAllowed(reason.to_string()));
        }
        Ok(reason)
    }

    fn to_rcgen(self) -> Option<rcgen::RevocationReason> {
        use rcgen::RevocationReason as R;
        match self {
            // RFC 5280 §5.3.1: the reason code SHOULD be absent rather than unspecified.
            RevocationReason::Unspecified => None,
            RevocationReason::KeyCompromise => Some(R::KeyCompromise),
            RevocationReason::CaCompromise => Some(R::CaCompromise),
            RevocationReason::AffiliationChanged => Some(R::AffiliationChanged),
            RevocationReason::Superseded => Some(R::Superseded),
            RevocationReason::CessationOfOperation => Some(R::CessationOfOperation),
            RevocationReason::CertificateHold => Some(R::CertificateHold),
            RevocationReason::RemoveFromCrl => Some(R::RemoveFromCrl),
            RevocationReason::PrivilegeWithdrawn => Some(R::PrivilegeWithdrawn),
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, PkiError> {
        ALL.iter()
            .find(|(_, n, _)| *n == s)
            .map(|(r, _, _)| *r)
            .ok_or_else(|| PkiError::UnknownReason(s.to_owned()))
    }
}

/// One revoked certificate as the CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The serial number, big-endian bytes (1..=20).
    pub serial: Vec<u8>,
    /// When the certificate was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why.
    pub reason: RevocationReason,
}

/// Big-endian bytes of `n` without leading zeros (at least one byte).
pub(crate) fn minimal_be(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    bytes.get(skip..).unwrap_or(&bytes).to_vec()
}

impl IssuingCa {
    /// The CRL (DER, v2): issuer, `this_update`/`next_update`, CRL number `crl_number`,
    /// the authority key identifier, one entry per revoked serial with its reason code
    /// (absent for `unspecified`), signed by the issuing CA key.
    pub fn crl(
        &self,
        entries: &[RevokedEntry],
        crl_number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        let mut revoked = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.serial.is_empty() || entry.serial.len() > MAX_SERIAL_LEN {
                return Err(PkiError::Serial(format!(
                    "{} bytes (1..=20)",
                    entry.serial.len()
                )));
            }
            if entry.reason == RevocationReason::RemoveFromCrl {
                return Err(PkiError::ReasonNotAllowed(entry.reason.to_string()));
            }
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&entry.serial),
                revocation_time: entry.revoked_at,
                reason_code: entry.reason.to_rcgen(),
                invalidity_date: None,
            });
        }
        if next_update <= this_update {
            return Err(PkiError::Validity);
        }
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from_slice(&minimal_be(crl_number)),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_id.clone()),
        };
        let crl = params.signed_by(&self.issuer)?;
        Ok(crl.der().to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for (reason, name, code) in ALL {
            assert_eq!(reason.to_string(), name);
            assert_eq!(name.parse::<RevocationReason>().unwrap(), reason);
            assert_eq!(reason.code(), code);
            assert_eq!(RevocationReason::from_code(code), Some(reason));
        }
        assert_eq!(RevocationReason::from_code(7), None);
        assert_eq!(
            "keyCompromise"
                .parse::<RevocationReason>()
                .unwrap_err()
                .code(),
            "LK-PKI-030"
        );
        assert_eq!(
            RevocationReason::parse_for_revoke("remove-from-crl")
                .unwrap_err()
                .code(),
            "LK-PKI-031"
        );
        assert_eq!(
            RevocationReason::parse_for_revoke("superseded").unwrap(),
            RevocationReason::Superseded
        );
    }

    #[test]
    fn crl_numbers_are_minimal() {
        assert_eq!(minimal_be(0), [0]);
        assert_eq!(minimal_be(1), [1]);
        assert_eq!(minimal_be(0x1234), [0x12, 0x34]);
        assert_eq!(minimal_be(u64::MAX), [0xff; 8]);
    }
}
