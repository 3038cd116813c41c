//! Signatures over a digest the caller computed: what a smart-card interface (PKCS#11
//! `CKM_RSA_PKCS` with a DigestInfo, `CKM_RSA_PKCS_PSS`) asks of the Hello key.
//!
//! Only a fixed set is accepted, because a TPM signs a digest together with its hash
//! algorithm and the software signer must not do more than the TPM could:
//!
//! - RSASSA-PKCS1-v1_5 over a DER `DigestInfo` (RFC 8017 section 9.2) of SHA-1, SHA-256,
//!   SHA-384 or SHA-512. The DigestInfo is matched against the fixed DER prefixes of
//!   RFC 8017 section 9.2, note 1 (`DigestInfo ::= SEQUENCE { digestAlgorithm
//!   AlgorithmIdentifier, digest OCTET STRING }`, the parameters NULL), followed by exactly
//!   the digest's length: anything else (other algorithms, absent NULL parameters,
//!   trailing bytes, raw data) is refused.
//! - RSASSA-PSS (RFC 8017 section 8.1) over a SHA-256, SHA-384 or SHA-512 digest, MGF1
//!   with the same hash, salt length = hash length.

use crate::error::AgentError;

/// A hash algorithm a prehashed signature may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (PKCS#1 v1.5 only: legacy consumers, never PSS).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "SHA-1",
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    /// The DER prefix of a DigestInfo for this hash (RFC 8017 section 9.2, note 1).
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The wire number (the signer protocol).
    pub fn to_wire(self) -> u8 {
        match self {
            HashAlg::Sha1 => 1,
            HashAlg::Sha256 => 2,
            HashAlg::Sha384 => 3,
            HashAlg::Sha512 => 4,
        }
    }

    /// From the wire number.
    pub fn from_wire(b: u8) -> Option<Self> {
        match b {
            1 => Some(HashAlg::Sha1),
            2 => Some(HashAlg::Sha256),
            3 => Some(HashAlg::Sha384),
            4 => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// Hashes `data` with this algorithm.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            HashAlg::Sha1 => sha1::Sha1::digest(data).to_vec(),
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// The padding of a prehashed signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// RSASSA-PKCS1-v1_5.
    Pkcs1,
    /// RSASSA-PSS, MGF1 with the same hash, salt length = hash length.
    Pss,
}

/// A digest to sign, checked: the hash it claims to be and exactly that hash's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prehashed {
    padding: Padding,
    hash: HashAlg,
    digest: Vec<u8>,
}

fn refused(why: String) -> AgentError {
    AgentError::PrehashedRefused { reason: why }
}

impl Prehashed {
    /// An RSASSA-PKCS1-v1_5 signature over `digest_info`, a DER DigestInfo of one of the
    /// four hashes (matched byte for byte against the fixed prefixes).
    pub fn from_digest_info(digest_info: &[u8]) -> Result<Self, AgentError> {
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let prefix = hash.digest_info_prefix();
            if digest_info.len() == prefix.len() + hash.digest_len()
                && digest_info.starts_with(prefix)
            {
                let digest = digest_info.get(prefix.len()..).unwrap_or_default();
                return Ok(Prehashed {
                    padding: Padding::Pkcs1,
                    hash,
                    digest: digest.to_vec(),
                });
            }
        }
        Err(refused(format!(
            "the {} bytes to sign are not a DER DigestInfo of SHA-1, SHA-256, SHA-384 or SHA-512",
            digest_info.len()
        )))
    }

    /// A signature with `padding` over `digest`, which must have `hash`'s length (PSS:
    /// SHA-256, SHA-384 or SHA-512 only).
    pub fn new(padding: Padding, hash: HashAlg, digest: &[u8]) -> Result<Self, AgentError> {
        if padding == Padding::Pss && hash == HashAlg::Sha1 {
            return Err(refused("PSS with SHA-1 is not offered".to_owned()));
        }
        if digest.len() != hash.digest_len() {
            return Err(refused(format!(
                "a {} digest is {} bytes, not {}",
                hash.name(),
                hash.digest_len(),
                digest.len()
            )));
        }
        Ok(Prehashed {
            padding,
            hash,
            digest: digest.to_vec(),
        })
    }

    /// The padding.
    pub fn padding(&self) -> Padding {
        self.padding
    }

    /// The hash.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The digest.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The DER DigestInfo (PKCS#1 v1.5 signs this).
    pub fn digest_info(&self) -> Vec<u8> {
        let mut out = self.hash.digest_info_prefix().to_vec();
        out.extend_from_slice(&self.digest);
        out
    }

    /// Whether a Hello key in a TPM can make this signature: the TPM key is created with
    /// the RSASSA-PKCS1-v1_5 SHA-256 scheme, and the TPM refuses any other scheme for it.
    pub fn tpm_can_sign(&self) -> bool {
        self.padding == Padding::Pkcs1 && self.hash == HashAlg::Sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_infos_are_matched_exactly() {
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let d = hash.digest(b"abc");
            assert_eq!(d.len(), hash.digest_len());
            let mut info = hash.digest_info_prefix().to_vec();
            info.extend_from_slice(&d);
            let p = Prehashed::from_digest_info(&info).unwrap();
            assert_eq!((p.hash(), p.digest()), (hash, d.as_slice()));
            assert_eq!(p.digest_info(), info);
            // One byte more, one less, a changed OID byte: refused.
            let mut longer = info.clone();
            longer.push(0);
            assert_eq!(
                Prehashed::from_digest_info(&longer).unwrap_err().code(),
                "LK-AGENT-032"
            );
            assert!(Prehashed::from_digest_info(&info[..info.len() - 1]).is_err());
            let mut other = info.clone();
            other[10] ^= 1;
            assert!(Prehashed::from_digest_info(&other).is_err());
        }
        // A raw SHA-256 digest without its DigestInfo is not accepted.
        assert!(Prehashed::from_digest_info(&[0u8; 32]).is_err());
        assert!(Prehashed::from_digest_info(&[]).is_err());
    }

    #[test]
    fn pss_takes_only_sha2_digests_of_the_right_length() {
        assert!(Prehashed::new(Padding::Pss, HashAlg::Sha256, &[0; 32]).is_ok());
        assert!(Prehashed::new(Padding::Pss, HashAlg::Sha256, &[0; 31]).is_err());
        assert!(Prehashed::new(Padding::Pss, HashAlg::Sha1, &[0; 20]).is_err());
        let p = Prehashed::new(Padding::Pss, HashAlg::Sha512, &[0; 64]).unwrap();
        assert!(!p.tpm_can_sign());
        let p = Prehashed::new(Padding::Pkcs1, HashAlg::Sha256, &[0; 32]).unwrap();
        assert!(p.tpm_can_sign());
    }
}
