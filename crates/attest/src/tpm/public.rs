//! TPMT_PUBLIC (TPM 2.0 Part 2, 12.2.4): the public area of a TPM object.
//!
//! ```text
//! typedef struct {
//!     TPMI_ALG_PUBLIC    type;              // TPM_ALG_RSA 0x0001 | TPM_ALG_ECC 0x0023
//!     TPMI_ALG_HASH      nameAlg;
//!     TPMA_OBJECT        objectAttributes;  // UINT32
//!     TPM2B_DIGEST       authPolicy;
//!     TPMU_PUBLIC_PARMS  parameters;        // TPMS_RSA_PARMS | TPMS_ECC_PARMS
//!     TPMU_PUBLIC_ID     unique;            // TPM2B_PUBLIC_KEY_RSA | TPMS_ECC_POINT
//! } TPMT_PUBLIC;
//! TPMS_RSA_PARMS { TPMT_SYM_DEF_OBJECT symmetric; TPMT_RSA_SCHEME scheme; UINT16 keyBits; UINT32 exponent; }
//! TPMS_ECC_PARMS { TPMT_SYM_DEF_OBJECT symmetric; TPMT_ECC_SCHEME scheme; UINT16 curveID; TPMT_KDF_SCHEME kdf; }
//! TPMS_ECC_POINT { TPM2B_ECC_PARAMETER x; TPM2B_ECC_PARAMETER y; }
//! ```

use crate::crypto::{strip_zeros, Curve, PublicKey};
use crate::error::AttestError;

use super::reader::Reader;
use super::{hash_len, ALG_ECC, ALG_NULL, ALG_RSA};

/// TPM_ALG_RSAES: an RSA scheme without hash details.
const ALG_RSAES: u16 = 0x0015;
/// TPM_ALG_ECDAA: an ECC scheme with a hash and a count.
const ALG_ECDAA: u16 = 0x001A;
/// TPM_ECC_NIST_P256.
const ECC_NIST_P256: u16 = 0x0003;
/// TPM_ECC_NIST_P384.
const ECC_NIST_P384: u16 = 0x0004;

/// TPMA_OBJECT (TPM 2.0 Part 2, 8.3): object attribute bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// fixedTPM (bit 1): the object cannot be duplicated out of this TPM.
    pub fn fixed_tpm(self) -> bool {
        self.0 & (1 << 1) != 0
    }
    /// fixedParent (bit 4): the object cannot be moved to another parent.
    pub fn fixed_parent(self) -> bool {
        self.0 & (1 << 4) != 0
    }
    /// sensitiveDataOrigin (bit 5): the TPM generated the private part.
    pub fn sensitive_data_origin(self) -> bool {
        self.0 & (1 << 5) != 0
    }
    /// userWithAuth (bit 6).
    pub fn user_with_auth(self) -> bool {
        self.0 & (1 << 6) != 0
    }
    /// noDA (bit 10): exempt from dictionary-attack protection.
    pub fn no_da(self) -> bool {
        self.0 & (1 << 10) != 0
    }
    /// restricted (bit 16).
    pub fn restricted(self) -> bool {
        self.0 & (1 << 16) != 0
    }
    /// decrypt (bit 17).
    pub fn decrypt(self) -> bool {
        self.0 & (1 << 17) != 0
    }
    /// sign (bit 18).
    pub fn sign(self) -> bool {
        self.0 & (1 << 18) != 0
    }

    /// Require fixedTPM, fixedParent and sensitiveDataOrigin: a key generated inside and
    /// bound to one TPM (the Windows Hello key attestation rule).
    pub fn require_tpm_bound(self) -> Result<(), AttestError> {
        let missing = |attribute| Err(AttestError::TpmKeyAttributes { attribute });
        if !self.fixed_tpm() {
            return missing("fixedTPM");
        }
        if !self.fixed_parent() {
            return missing("fixedParent");
        }
        if !self.sensitive_data_origin() {
            return missing("sensitiveDataOrigin");
        }
        Ok(())
    }
}

/// The public key and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmKey {
    /// TPM_ALG_RSA.
    Rsa {
        /// keyBits.
        key_bits: u16,
        /// exponent (0 means the default 65537).
        exponent: u32,
        /// unique: the modulus.
        modulus: Vec<u8>,
    },
    /// TPM_ALG_ECC.
    Ecc {
        /// curveID (TPM_ECC_CURVE).
        curve_id: u16,
        /// unique.x.
        x: Vec<u8>,
        /// unique.y.
        y: Vec<u8>,
    },
}

/// TPMT_SYM_DEF_OBJECT: the symmetric algorithm of a storage (or EK) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymDefObject {
    /// algorithm (TPM_ALG_AES 0x0006 ..); TPM_ALG_NULL for none.
    pub algorithm: u16,
    /// keyBits (0 when the algorithm is TPM_ALG_NULL).
    pub key_bits: u16,
    /// mode (TPM_ALG_CFB 0x0043 ..; 0 when the algorithm is TPM_ALG_NULL).
    pub mode: u16,
}

/// TPMT_RSA_SCHEME / TPMT_ECC_SCHEME: the key's scheme and the hash of its details
/// (TPM_ALG_NULL when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyScheme {
    /// scheme (TPM_ALG_RSASSA 0x0014, TPM_ALG_RSAPSS 0x0016, TPM_ALG_ECDSA 0x0018 ..,
    /// TPM_ALG_NULL).
    pub scheme: u16,
    /// details.hashAlg, or TPM_ALG_NULL for schemes without details.
    pub hash_alg: u16,
}

/// A parsed TPMT_PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmtPublic {
    /// nameAlg (TPM_ALG_ID of a hash).
    pub name_alg: u16,
    /// objectAttributes.
    pub attributes: ObjectAttributes,
    /// authPolicy.
    pub auth_policy: Vec<u8>,
    /// parameters.symmetric.
    pub symmetric: SymDefObject,
    /// parameters.scheme.
    pub scheme: KeyScheme,
    /// The key.
    pub key: TpmKey,
}

/// TPMT_SYM_DEF_OBJECT: algorithm, then keyBits and mode unless TPM_ALG_NULL.
fn read_symmetric(r: &mut Reader<'_>) -> Result<SymDefObject, AttestError> {
    let algorithm = r.u16()?;
    if algorithm == ALG_NULL {
        return Ok(SymDefObject {
            algorithm,
            key_bits: 0,
            mode: 0,
        });
    }
    Ok(SymDefObject {
        algorithm,
        key_bits: r.u16()?,
        mode: r.u16()?,
    })
}

/// TPMT_*_SCHEME / TPMT_KDF_SCHEME: scheme, then its details (a hash, plus a count for
/// ECDAA); TPM_ALG_NULL and RSAES have none.
fn read_scheme(r: &mut Reader<'_>) -> Result<KeyScheme, AttestError> {
    let scheme = r.u16()?;
    let hash_alg = match scheme {
        ALG_NULL | ALG_RSAES => ALG_NULL,
        ALG_ECDAA => {
            let h = r.u16()?;
            r.u16()?;
            h
        }
        _ => r.u16()?,
    };
    Ok(KeyScheme { scheme, hash_alg })
}

impl TpmtPublic {
    /// Parse a marshalled TPMT_PUBLIC (the `pubArea` of a tpm attestation statement);
    /// every byte must be used.
    pub fn parse(data: &[u8]) -> Result<Self, AttestError> {
        let mut r = Reader::new("TPMT_PUBLIC", data);
        let kind = r.u16()?;
        let name_alg = r.u16()?;
        if hash_len(name_alg).is_none() {
            return Err(r.error("nameAlg is not a supported hash"));
        }
        let attributes = ObjectAttributes(r.u32()?);
        let auth_policy = r.sized()?.to_vec();
        let symmetric = read_symmetric(&mut r)?;
        let scheme = read_scheme(&mut r)?;
        let key = match kind {
            ALG_RSA => {
                let key_bits = r.u16()?;
                let exponent = r.u32()?;
                let modulus = r.sized()?.to_vec();
                TpmKey::Rsa {
                    key_bits,
                    exponent,
                    modulus,
                }
            }
            ALG_ECC => {
                let curve_id = r.u16()?;
                read_scheme(&mut r)?; // kdf
                let x = r.sized()?.to_vec();
                let y = r.sized()?.to_vec();
                TpmKey::Ecc { curve_id, x, y }
            }
            _ => return Err(r.error("type is neither TPM_ALG_RSA nor TPM_ALG_ECC")),
        };
        r.finish()?;
        Ok(Self {
            name_alg,
            attributes,
            auth_policy,
            symmetric,
            scheme,
            key,
        })
    }

    /// The key as a [`PublicKey`], for comparison with the credential public key.
    pub fn public_key(&self) -> Result<PublicKey, AttestError> {
        match &self.key {
            TpmKey::Rsa {
                exponent, modulus, ..
            } => {
                let e = if *exponent == 0 { 65537 } else { *exponent };
                Ok(PublicKey::rsa(modulus, &e.to_be_bytes()))
            }
            TpmKey::Ecc { curve_id, x, y } => {
                let (curve, len) = match *curve_id {
                    ECC_NIST_P256 => (Curve::P256, 32),
                    ECC_NIST_P384 => (Curve::P384, 48),
                    _ => {
                        return Err(AttestError::TpmStructureMalformed {
                            structure: "TPMT_PUBLIC",
                            offset: 0,
                            detail: "unsupported ECC curve",
                        })
                    }
                };
                let mut point = vec![0x04];
                for c in [x, y] {
                    let c = strip_zeros(c);
                    if c.len() > len {
                        return Err(AttestError::TpmStructureMalformed {
                            structure: "TPMT_PUBLIC",
                            offset: 0,
                            detail: "ECC coordinate too long",
                        });
                    }
                    point.extend(std::iter::repeat_n(0u8, len - c.len()));
                    point.extend_from_slice(&c);
                }
                Ok(PublicKey::Ec { curve, point })
            }
        }
    }
}

/// The contents of a TPM2B_* buffer that must be the whole of `data` (for example a
/// TPM2B_PUBLIC as `tpm2_readpublic` writes it, whose contents are the TPMT_PUBLIC).
pub fn tpm2b_contents(data: &[u8]) -> Result<&[u8], AttestError> {
    let mut r = Reader::new("TPM2B", data);
    let inner = r.sized()?;
    r.finish()?;
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RSA-2048 signing key as Windows Hello marshals it (exponent 0 = 65537).
    fn rsa_public(modulus: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&ALG_RSA.to_be_bytes());
        b.extend_from_slice(&0x000Bu16.to_be_bytes()); // SHA-256
        b.extend_from_slice(&0x0006_0472u32.to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes()); // empty authPolicy
        b.extend_from_slice(&ALG_NULL.to_be_bytes()); // symmetric
        b.extend_from_slice(&ALG_NULL.to_be_bytes()); // scheme
        b.extend_from_slice(&2048u16.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&u16::try_from(modulus.len()).unwrap().to_be_bytes());
        b.extend_from_slice(modulus);
        b
    }

    #[test]
    fn parses_rsa_and_maps_default_exponent() {
        let p = TpmtPublic::parse(&rsa_public(&[0xC1; 256])).unwrap();
        assert!(p.attributes.fixed_tpm() && p.attributes.fixed_parent());
        assert!(p.attributes.sensitive_data_origin() && p.attributes.sign());
        assert!(p.attributes.require_tpm_bound().is_ok());
        assert_eq!(
            p.public_key().unwrap(),
            PublicKey::rsa(&[0xC1; 256], &[1, 0, 1])
        );
    }

    #[test]
    fn refuses_trailing_bytes_and_truncation() {
        let mut b = rsa_public(&[0xC1; 256]);
        b.push(0);
        assert_eq!(TpmtPublic::parse(&b).unwrap_err().code(), "LK-ATT-028");
        assert!(TpmtPublic::parse(&b[..100]).is_err());
    }

    #[test]
    fn attribute_requirement_names_missing_bit() {
        let e = ObjectAttributes(0x0000_0012)
            .require_tpm_bound()
            .unwrap_err();
        assert_eq!(
            e,
            AttestError::TpmKeyAttributes {
                attribute: "sensitiveDataOrigin"
            }
        );
    }
}
