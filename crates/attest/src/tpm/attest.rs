//! TPMS_ATTEST (TPM 2.0 Part 2, 10.12.12): what the TPM signs when it certifies a key.
//!
//! ```text
//! typedef struct {
//!     TPM_GENERATED    magic;            // TPM_GENERATED_VALUE 0xff544347
//!     TPMI_ST_ATTEST   type;             // TPM_ST_ATTEST_CERTIFY 0x8017
//!     TPM2B_NAME       qualifiedSigner;
//!     TPM2B_DATA       extraData;
//!     TPMS_CLOCK_INFO  clockInfo;        // UINT64 clock; UINT32 resetCount; UINT32 restartCount; BYTE safe
//!     UINT64           firmwareVersion;
//!     TPMU_ATTEST      attested;         // for CERTIFY: TPMS_CERTIFY_INFO { TPM2B_NAME name; TPM2B_NAME qualifiedName; }
//! } TPMS_ATTEST;
//! ```

use crate::error::AttestError;

use super::reader::Reader;

/// TPM_GENERATED_VALUE: the structure was produced by a TPM.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_CERTIFY.
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;

/// TPMS_CLOCK_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockInfo {
    /// clock (milliseconds the TPM has been powered).
    pub clock: u64,
    /// resetCount.
    pub reset_count: u32,
    /// restartCount.
    pub restart_count: u32,
    /// safe.
    pub safe: bool,
}

/// TPMU_ATTEST, for the types this crate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested {
    /// TPMS_CERTIFY_INFO.
    Certify {
        /// name: nameAlg || H(TPMT_PUBLIC) of the certified object.
        name: Vec<u8>,
        /// qualifiedName.
        qualified_name: Vec<u8>,
    },
    /// Another attestation type, kept unparsed.
    Other(Vec<u8>),
}

/// A parsed TPMS_ATTEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmsAttest {
    /// magic.
    pub magic: u32,
    /// type (TPM_ST).
    pub attest_type: u16,
    /// qualifiedSigner.
    pub qualified_signer: Vec<u8>,
    /// extraData (the verifier's nonce, or in WebAuthn the hash of attToBeSigned).
    pub extra_data: Vec<u8>,
    /// clockInfo.
    pub clock_info: ClockInfo,
    /// firmwareVersion.
    pub firmware_version: u64,
    /// attested.
    pub attested: Attested,
}

impl TpmsAttest {
    /// Parse a marshalled TPMS_ATTEST (the `certInfo` of a tpm statement); every byte
    /// must be used. Values are not judged here (see `tpm::verify_certify`).
    pub fn parse(data: &[u8]) -> Result<Self, AttestError> {
        let mut r = Reader::new("TPMS_ATTEST", data);
        let magic = r.u32()?;
        let attest_type = r.u16()?;
        let qualified_signer = r.sized()?.to_vec();
        let extra_data = r.sized()?.to_vec();
        let clock_info = ClockInfo {
            clock: r.u64()?,
            reset_count: r.u32()?,
            restart_count: r.u32()?,
            safe: match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(r.error("clockInfo.safe is not a TPMI_YES_NO")),
            },
        };
        let firmware_version = r.u64()?;
        let attested = if attest_type == TPM_ST_ATTEST_CERTIFY {
            let name = r.sized()?.to_vec();
            let qualified_name = r.sized()?.to_vec();
            r.finish()?;
            Attested::Certify {
                name,
                qualified_name,
            }
        } else {
            let rest = r.bytes(data.len() - r.pos())?.to_vec();
            Attested::Other(rest)
        };
        Ok(Self {
            magic,
            attest_type,
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Marshal a CERTIFY TPMS_ATTEST.
    pub(crate) fn certify_bytes(extra: &[u8], name: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&TPM_GENERATED_VALUE.to_be_bytes());
        b.extend_from_slice(&TPM_ST_ATTEST_CERTIFY.to_be_bytes());
        for part in [&[][..], extra] {
            b.extend_from_slice(&u16::try_from(part.len()).unwrap().to_be_bytes());
            b.extend_from_slice(part);
        }
        b.extend_from_slice(&[0; 17]); // clockInfo
        b.extend_from_slice(&7u64.to_be_bytes());
        for part in [name, &[][..]] {
            b.extend_from_slice(&u16::try_from(part.len()).unwrap().to_be_bytes());
            b.extend_from_slice(part);
        }
        b
    }

    #[test]
    fn parses_certify() {
        let a = TpmsAttest::parse(&certify_bytes(&[1, 2], &[0, 0x0b, 9])).unwrap();
        assert_eq!(a.magic, TPM_GENERATED_VALUE);
        assert_eq!(a.extra_data, vec![1, 2]);
        assert_eq!(a.firmware_version, 7);
        assert!(matches!(a.attested, Attested::Certify { ref name, .. } if name == &[0, 0x0b, 9]));
    }

    #[test]
    fn refuses_bad_safe_and_trailing() {
        let mut b = certify_bytes(&[], &[]);
        b.push(1);
        assert_eq!(TpmsAttest::parse(&b).unwrap_err().code(), "LK-ATT-028");
        let mut b = certify_bytes(&[], &[]);
        b[4 + 2 + 2 + 2 + 16] = 5;
        assert!(TpmsAttest::parse(&b).is_err());
    }
}
