//! The signature mechanisms and a signing operation in progress.
//!
//! | mechanism | input | software key | TPM key |
//! |---|---|---|---|
//! | CKM_RSA_PKCS | a DER DigestInfo (SHA-1/256/384/512) | yes | SHA-256 DigestInfo only |
//! | CKM_SHA256_RSA_PKCS | the message (hashed here) | yes | yes |
//! | CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS | the message | yes | no |
//! | CKM_RSA_PKCS_PSS | a SHA-256/384/512 digest | yes | no |
//! | CKM_SHA256/384/512_RSA_PKCS_PSS | the message | yes | no |
//!
//! PSS parameters must name the same hash for the digest and MGF1 and a salt as long as
//! the hash. A TPM Hello key is created with the RSASSA-PKCS1-v1_5 SHA-256 scheme and the
//! TPM refuses any other scheme for it, so its token lists only what it can do.

use cryptoki_sys::*;
use latchkey_agent::prehashed::{HashAlg, Padding, Prehashed};
use sha2::Digest;

use crate::error::{P11Error, Result};

/// The most data CKM_RSA_PKCS or CKM_RSA_PKCS_PSS accepts (a DigestInfo or digest is
/// at most 83 bytes); hashing mechanisms take any length, hashed as it comes.
pub const MAX_RAW_INPUT: usize = 512;

/// Hello keys are RSA-2048 (CK_MECHANISM_INFO's key sizes, in bits).
pub const KEY_BITS: CK_ULONG = 2048;

/// The mechanisms a token offers.
pub fn list(tpm: bool) -> Vec<CK_MECHANISM_TYPE> {
    if tpm {
        vec![CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS]
    } else {
        vec![
            CKM_RSA_PKCS,
            CKM_SHA256_RSA_PKCS,
            CKM_SHA384_RSA_PKCS,
            CKM_SHA512_RSA_PKCS,
            CKM_RSA_PKCS_PSS,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA512_RSA_PKCS_PSS,
        ]
    }
}

/// CK_MECHANISM_INFO for `mechanism` on a token, `None` when not offered.
pub fn info(tpm: bool, mechanism: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    list(tpm).contains(&mechanism).then_some(CK_MECHANISM_INFO {
        ulMinKeySize: KEY_BITS,
        ulMaxKeySize: KEY_BITS,
        flags: CKF_SIGN | if tpm { CKF_HW } else { 0 },
    })
}

/// PSS parameters as the consumer passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PssParams {
    /// hashAlg.
    pub hash: CK_MECHANISM_TYPE,
    /// mgf.
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    /// sLen.
    pub salt_len: CK_ULONG,
}

fn hash_of_mechanism(m: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    match m {
        CKM_SHA_1 => Some(HashAlg::Sha1),
        CKM_SHA256 => Some(HashAlg::Sha256),
        CKM_SHA384 => Some(HashAlg::Sha384),
        CKM_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn mgf_of(h: HashAlg) -> CK_RSA_PKCS_MGF_TYPE {
    match h {
        HashAlg::Sha1 => CKG_MGF1_SHA1,
        HashAlg::Sha256 => CKG_MGF1_SHA256,
        HashAlg::Sha384 => CKG_MGF1_SHA384,
        HashAlg::Sha512 => CKG_MGF1_SHA512,
    }
}

/// What a signing operation does with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    /// The input is a DigestInfo (CKM_RSA_PKCS).
    RsaPkcs,
    /// The input is a message hashed here, then PKCS#1 v1.5.
    HashPkcs1(HashAlg),
    /// The input is a digest (CKM_RSA_PKCS_PSS).
    Pss(HashAlg),
    /// The input is a message hashed here, then PSS.
    HashPss(HashAlg),
}

impl Mech {
    /// The operation for `mechanism` with `pss` parameters (when it is a PSS mechanism) on
    /// a token (`tpm`).
    pub fn new(tpm: bool, mechanism: CK_MECHANISM_TYPE, pss: Option<PssParams>) -> Result<Self> {
        if !list(tpm).contains(&mechanism) {
            return Err(P11Error::MechanismInvalid(mechanism));
        }
        let pss_hash = |expected: Option<HashAlg>| -> Result<HashAlg> {
            let p = pss.ok_or_else(|| {
                P11Error::MechanismParam("a PSS mechanism needs CK_RSA_PKCS_PSS_PARAMS".into())
            })?;
            let hash = hash_of_mechanism(p.hash)
                .filter(|h| *h != HashAlg::Sha1)
                .ok_or_else(|| {
                    P11Error::MechanismParam(format!(
                        "PSS hash 0x{:x} is not SHA-256/384/512",
                        p.hash
                    ))
                })?;
            if expected.is_some_and(|e| e != hash) {
                return Err(P11Error::MechanismParam(
                    "the PSS hash differs from the mechanism's".into(),
                ));
            }
            if p.mgf != mgf_of(hash) {
                return Err(P11Error::MechanismParam(
                    "MGF1 must use the same hash as the signature".into(),
                ));
            }
            if p.salt_len as usize != hash.digest_len() {
                return Err(P11Error::MechanismParam(format!(
                    "the salt must be {} bytes (the hash length), not {}",
                    hash.digest_len(),
                    p.salt_len
                )));
            }
            Ok(hash)
        };
        Ok(match mechanism {
            CKM_RSA_PKCS => Mech::RsaPkcs,
            CKM_SHA256_RSA_PKCS => Mech::HashPkcs1(HashAlg::Sha256),
            CKM_SHA384_RSA_PKCS => Mech::HashPkcs1(HashAlg::Sha384),
            CKM_SHA512_RSA_PKCS => Mech::HashPkcs1(HashAlg::Sha512),
            CKM_RSA_PKCS_PSS => Mech::Pss(pss_hash(None)?),
            CKM_SHA256_RSA_PKCS_PSS => Mech::HashPss(pss_hash(Some(HashAlg::Sha256))?),
            CKM_SHA384_RSA_PKCS_PSS => Mech::HashPss(pss_hash(Some(HashAlg::Sha384))?),
            CKM_SHA512_RSA_PKCS_PSS => Mech::HashPss(pss_hash(Some(HashAlg::Sha512))?),
            other => return Err(P11Error::MechanismInvalid(other)),
        })
    }
}

#[derive(Debug, Clone)]
enum Input {
    Raw(Vec<u8>),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

/// A signing operation between C_SignInit and the end of C_Sign / C_SignFinal.
#[derive(Debug, Clone)]
pub struct SignOp {
    mech: Mech,
    input: Input,
    /// Whether C_SignUpdate was called (C_Sign then refuses).
    pub updated: bool,
}

impl SignOp {
    /// A new operation.
    pub fn new(mech: Mech) -> Self {
        let input = match mech {
            Mech::RsaPkcs | Mech::Pss(_) => Input::Raw(Vec::new()),
            Mech::HashPkcs1(h) | Mech::HashPss(h) => match h {
                HashAlg::Sha384 => Input::Sha384(sha2::Sha384::new()),
                HashAlg::Sha512 => Input::Sha512(sha2::Sha512::new()),
                _ => Input::Sha256(sha2::Sha256::new()),
            },
        };
        SignOp {
            mech,
            input,
            updated: false,
        }
    }

    /// Feeds `data` (bounded for the mechanisms that take a digest).
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.input {
            Input::Raw(buf) => {
                if buf.len() + data.len() > MAX_RAW_INPUT {
                    return Err(P11Error::Data {
                        reason: format!(
                            "more than {MAX_RAW_INPUT} bytes for a mechanism that signs a digest"
                        ),
                        too_long: true,
                    });
                }
                buf.extend_from_slice(data);
            }
            Input::Sha256(h) => h.update(data),
            Input::Sha384(h) => h.update(data),
            Input::Sha512(h) => h.update(data),
        }
        Ok(())
    }

    /// What the signer is asked to sign, from the input so far (the operation is left as
    /// it is).
    pub fn prehashed(&self) -> Result<Prehashed> {
        let digest = match &self.input {
            Input::Raw(buf) => buf.clone(),
            Input::Sha256(h) => h.clone().finalize().to_vec(),
            Input::Sha384(h) => h.clone().finalize().to_vec(),
            Input::Sha512(h) => h.clone().finalize().to_vec(),
        };
        let data_err = |e: latchkey_agent::AgentError| P11Error::Data {
            reason: e.to_string(),
            too_long: false,
        };
        match self.mech {
            Mech::RsaPkcs => Prehashed::from_digest_info(&digest).map_err(data_err),
            Mech::HashPkcs1(h) => Prehashed::new(Padding::Pkcs1, h, &digest).map_err(data_err),
            Mech::Pss(h) | Mech::HashPss(h) => {
                Prehashed::new(Padding::Pss, h, &digest).map_err(data_err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pss_parameters_must_match_exactly() {
        let good = PssParams {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        };
        assert_eq!(
            Mech::new(false, CKM_RSA_PKCS_PSS, Some(good)).unwrap(),
            Mech::Pss(HashAlg::Sha256)
        );
        for bad in [
            PssParams {
                salt_len: 20,
                ..good
            },
            PssParams {
                mgf: CKG_MGF1_SHA1,
                ..good
            },
            PssParams {
                hash: CKM_SHA_1,
                mgf: CKG_MGF1_SHA1,
                salt_len: 20,
            },
        ] {
            let e = Mech::new(false, CKM_RSA_PKCS_PSS, Some(bad)).unwrap_err();
            assert_eq!(e.rv(), CKR_MECHANISM_PARAM_INVALID, "{bad:?}");
        }
        assert_eq!(
            Mech::new(false, CKM_SHA384_RSA_PKCS_PSS, Some(good))
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            Mech::new(false, CKM_RSA_PKCS_PSS, None).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        // A TPM token offers no PSS at all, and nothing it cannot do.
        assert_eq!(
            Mech::new(true, CKM_RSA_PKCS_PSS, Some(good))
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_INVALID
        );
        assert!(info(true, CKM_SHA512_RSA_PKCS).is_none());
        assert_eq!(info(true, CKM_RSA_PKCS).unwrap().flags, CKF_SIGN | CKF_HW);
        assert_eq!(info(false, CKM_RSA_PKCS).unwrap().flags, CKF_SIGN);
    }

    #[test]
    fn raw_input_is_bounded_and_hashed_input_is_not() {
        let mut raw = SignOp::new(Mech::RsaPkcs);
        raw.update(&[0; MAX_RAW_INPUT]).unwrap();
        assert_eq!(raw.update(&[0]).unwrap_err().rv(), CKR_DATA_LEN_RANGE);
        assert_eq!(raw.prehashed().unwrap_err().rv(), CKR_DATA_INVALID);
        let mut hashed = SignOp::new(Mech::HashPkcs1(HashAlg::Sha256));
        for _ in 0..100 {
            hashed.update(&[1; 4096]).unwrap();
        }
        assert_eq!(hashed.prehashed().unwrap().digest().len(), 32);
    }
}
