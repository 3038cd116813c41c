//! TPMT_SIGNATURE (TPM 2.0 Part 2, 11.3.4) and its verification with an AIK.
//!
//! ```text
//! typedef struct {
//!     TPMI_ALG_SIG_SCHEME  sigAlg;     // TPM_ALG_RSASSA 0x0014 | TPM_ALG_RSAPSS 0x0016 | TPM_ALG_ECDSA 0x0018
//!     TPMU_SIGNATURE       signature;
//! } TPMT_SIGNATURE;
//! TPMS_SIGNATURE_RSA   { TPMI_ALG_HASH hash; TPM2B_PUBLIC_KEY_RSA sig; }
//! TPMS_SIGNATURE_ECC   { TPMI_ALG_HASH hash; TPM2B_ECC_PARAMETER signatureR; TPM2B_ECC_PARAMETER signatureS; }
//! ```
//!
//! Supported: RSASSA-PKCS1-v1_5 and RSASSA-PSS with SHA-256 (RSA 2048 .. 8192 bits),
//! ECDSA P-256 with SHA-256. SHA-1 schemes are refused.

use ring::signature::{self, UnparsedPublicKey};

use super::reader::Reader;
use super::ALG_SHA256;
use crate::crypto::{strip_zeros, CoseAlg, Curve, PublicKey};
use crate::error::AttestError;

/// TPM_ALG_RSASSA.
pub const ALG_RSASSA: u16 = 0x0014;
/// TPM_ALG_RSAPSS.
pub const ALG_RSAPSS: u16 = 0x0016;
/// TPM_ALG_ECDSA.
pub const ALG_ECDSA: u16 = 0x0018;

/// A parsed TPMT_SIGNATURE of a supported scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmtSignature {
    /// TPM_ALG_RSASSA.
    RsaSsa {
        /// hash.
        hash_alg: u16,
        /// sig.
        sig: Vec<u8>,
    },
    /// TPM_ALG_RSAPSS.
    RsaPss {
        /// hash.
        hash_alg: u16,
        /// sig.
        sig: Vec<u8>,
    },
    /// TPM_ALG_ECDSA.
    Ecdsa {
        /// hash.
        hash_alg: u16,
        /// signatureR.
        r: Vec<u8>,
        /// signatureS.
        s: Vec<u8>,
    },
}

impl TpmtSignature {
    /// Parse a marshalled TPMT_SIGNATURE; every byte must be used. Another sigAlg is
    /// refused with `LK-ATT-056` (its layout is not read).
    pub fn parse(data: &[u8]) -> Result<Self, AttestError> {
        let mut r = Reader::new("TPMT_SIGNATURE", data);
        let sig_alg = r.u16()?;
        let hash_alg = r.u16()?;
        let out = match sig_alg {
            ALG_RSASSA => Self::RsaSsa {
                hash_alg,
                sig: r.sized()?.to_vec(),
            },
            ALG_RSAPSS => Self::RsaPss {
                hash_alg,
                sig: r.sized()?.to_vec(),
            },
            ALG_ECDSA => Self::Ecdsa {
                hash_alg,
                r: r.sized()?.to_vec(),
                s: r.sized()?.to_vec(),
            },
            _ => return Err(AttestError::TpmSignatureScheme { sig_alg, hash_alg }),
        };
        r.finish()?;
        Ok(out)
    }

    /// (sigAlg, hash).
    pub fn scheme(&self) -> (u16, u16) {
        match self {
            Self::RsaSsa { hash_alg, .. } => (ALG_RSASSA, *hash_alg),
            Self::RsaPss { hash_alg, .. } => (ALG_RSAPSS, *hash_alg),
            Self::Ecdsa { hash_alg, .. } => (ALG_ECDSA, *hash_alg),
        }
    }

    /// Verify this signature over `message` with `key`. `Err(LK-ATT-056)` when the
    /// scheme does not fit the key or is not supported; `Ok(false)` when it is wrong.
    pub fn verify(&self, key: &PublicKey, message: &[u8]) -> Result<bool, AttestError> {
        let (sig_alg, hash_alg) = self.scheme();
        let refuse = || AttestError::TpmSignatureScheme { sig_alg, hash_alg };
        if hash_alg != ALG_SHA256 {
            return Err(refuse());
        }
        match (self, key) {
            (Self::RsaSsa { sig, .. }, PublicKey::Rsa { .. }) => {
                key.verify(CoseAlg::Rs256, message, sig)
            }
            (Self::RsaPss { sig, .. }, PublicKey::Rsa { .. }) => {
                key.verify(CoseAlg::Ps256, message, sig)
            }
            (
                Self::Ecdsa { r, s, .. },
                PublicKey::Ec {
                    curve: Curve::P256,
                    point,
                },
            ) => {
                // r || s, each left-padded to 32 octets (ring's fixed-length form).
                let mut fixed = Vec::with_capacity(64);
                for c in [r, s] {
                    let c = strip_zeros(c);
                    if c.len() > 32 {
                        return Ok(false);
                    }
                    fixed.extend(std::iter::repeat_n(0u8, 32 - c.len()));
                    fixed.extend_from_slice(&c);
                }
                Ok(
                    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(message, &fixed)
                        .is_ok(),
                )
            }
            _ => Err(refuse()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme_and_refuses_others() {
        let rsa = [0x00, 0x14, 0x00, 0x0b, 0x00, 0x02, 0xaa, 0xbb];
        assert_eq!(
            TpmtSignature::parse(&rsa).unwrap(),
            TpmtSignature::RsaSsa {
                hash_alg: ALG_SHA256,
                sig: vec![0xaa, 0xbb]
            }
        );
        let ecc = [0x00, 0x18, 0x00, 0x0b, 0x00, 0x01, 0x01, 0x00, 0x01, 0x02];
        assert!(matches!(
            TpmtSignature::parse(&ecc).unwrap(),
            TpmtSignature::Ecdsa { .. }
        ));
        for cut in 0..rsa.len() {
            assert!(TpmtSignature::parse(&rsa[..cut]).is_err());
        }
        let mut trailing = rsa.to_vec();
        trailing.push(0);
        assert_eq!(
            TpmtSignature::parse(&trailing).unwrap_err().code(),
            "LK-ATT-028"
        );
        let hmac = [0x00, 0x05, 0x00, 0x0b, 0x00, 0x00];
        assert_eq!(
            TpmtSignature::parse(&hmac).unwrap_err().code(),
            "LK-ATT-056"
        );
    }

    #[test]
    fn scheme_must_fit_key_and_hash() {
        let ec = PublicKey::Ec {
            curve: Curve::P256,
            point: vec![4; 65],
        };
        let rsa_sig = TpmtSignature::RsaSsa {
            hash_alg: ALG_SHA256,
            sig: vec![1; 256],
        };
        assert_eq!(rsa_sig.verify(&ec, b"m").unwrap_err().code(), "LK-ATT-056");
        let sha1 = TpmtSignature::RsaSsa {
            hash_alg: super::super::ALG_SHA1,
            sig: vec![1; 256],
        };
        let rsa = PublicKey::rsa(&[0xc1; 256], &[1, 0, 1]);
        assert_eq!(sha1.verify(&rsa, b"m").unwrap_err().code(), "LK-ATT-056");
        assert!(!rsa_sig.verify(&rsa, b"m").unwrap());
    }
}
