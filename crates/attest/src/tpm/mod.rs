//! TPM 2.0 attestation: parsing of TPMS_ATTEST, TPMT_PUBLIC and TPMT_SIGNATURE, the
//! certify checks and the AIK certificate requirements; and the service side of Windows
//! Hello TPM attestation (`docs/tpm.md`): EK certificate verification ([`ek`]),
//! TPM2_MakeCredential for credential activation ([`make_credential`]), AIK acceptance
//! and the Hello key's certify check ([`key_attestation`]).
//!
//! Kept apart from WebAuthn so the same code verifies Windows Hello key attestation: there
//! the service checks the AIK signature over TPMS_ATTEST, `extraData` against the nonce it
//! issued, the certified name against the key being registered, and the key's attributes
//! ([`public::ObjectAttributes::require_tpm_bound`]).

pub mod aik;
pub mod attest;
pub mod ek;
mod kdfa;
pub mod key_attestation;
pub mod make_credential;
pub mod public;
mod reader;
pub mod signature;

use sha2::Digest;

use crate::error::AttestError;
use attest::{Attested, TpmsAttest, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY};

/// TPM_ALG_RSA.
pub const ALG_RSA: u16 = 0x0001;
/// TPM_ALG_SHA1.
pub const ALG_SHA1: u16 = 0x0004;
/// TPM_ALG_SHA256.
pub const ALG_SHA256: u16 = 0x000B;
/// TPM_ALG_SHA384.
pub const ALG_SHA384: u16 = 0x000C;
/// TPM_ALG_SHA512.
pub const ALG_SHA512: u16 = 0x000D;
/// TPM_ALG_NULL.
pub const ALG_NULL: u16 = 0x0010;
/// TPM_ALG_ECC.
pub const ALG_ECC: u16 = 0x0023;

/// The digest length of a TPM hash algorithm, if supported.
pub fn hash_len(alg: u16) -> Option<usize> {
    match alg {
        ALG_SHA1 => Some(20),
        ALG_SHA256 => Some(32),
        ALG_SHA384 => Some(48),
        ALG_SHA512 => Some(64),
        _ => None,
    }
}

/// Hash `data` with TPM hash algorithm `alg`.
pub fn hash(alg: u16, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        ALG_SHA1 => sha1::Sha1::digest(data).to_vec(),
        ALG_SHA256 => sha2::Sha256::digest(data).to_vec(),
        ALG_SHA384 => sha2::Sha384::digest(data).to_vec(),
        ALG_SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// The TPM name of an object: nameAlg (2 bytes, big-endian) || H_nameAlg(marshalled
/// TPMT_PUBLIC).
pub fn object_name(name_alg: u16, public_area: &[u8]) -> Option<Vec<u8>> {
    let mut name = name_alg.to_be_bytes().to_vec();
    name.extend(hash(name_alg, public_area)?);
    Some(name)
}

/// Check a TPMS_ATTEST that certifies the object whose marshalled TPMT_PUBLIC is
/// `public_area`: magic is TPM_GENERATED_VALUE, type is TPM_ST_ATTEST_CERTIFY, extraData
/// equals `expected_extra_data`, and attested.name is the object's name (computed with the
/// nameAlg the name itself announces). The signature over the TPMS_ATTEST is checked by
/// the caller, with the AIK.
pub fn verify_certify(
    attest: &TpmsAttest,
    public_area: &[u8],
    expected_extra_data: &[u8],
) -> Result<(), AttestError> {
    if attest.magic != TPM_GENERATED_VALUE {
        return Err(AttestError::TpmAttestInvalid { field: "magic" });
    }
    if attest.attest_type != TPM_ST_ATTEST_CERTIFY {
        return Err(AttestError::TpmAttestInvalid { field: "type" });
    }
    if attest.extra_data != expected_extra_data {
        return Err(AttestError::TpmAttestInvalid { field: "extraData" });
    }
    let Attested::Certify { name, .. } = &attest.attested else {
        return Err(AttestError::TpmAttestInvalid { field: "type" });
    };
    let name_alg = match name.as_slice() {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => {
            return Err(AttestError::TpmAttestInvalid {
                field: "attested.name",
            })
        }
    };
    let expected = object_name(name_alg, public_area).ok_or(AttestError::TpmAttestInvalid {
        field: "attested.name",
    })?;
    if *name != expected {
        return Err(AttestError::TpmAttestInvalid {
            field: "attested.name",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::attest::tests::certify_bytes;
    use super::*;

    #[test]
    fn certify_checks_each_field() {
        let public_area = b"public area bytes";
        let name = object_name(ALG_SHA256, public_area).unwrap();
        let ok = TpmsAttest::parse(&certify_bytes(b"nonce", &name)).unwrap();
        assert!(verify_certify(&ok, public_area, b"nonce").is_ok());
        assert_eq!(
            verify_certify(&ok, public_area, b"other").unwrap_err(),
            AttestError::TpmAttestInvalid { field: "extraData" }
        );
        assert_eq!(
            verify_certify(&ok, b"another key", b"nonce").unwrap_err(),
            AttestError::TpmAttestInvalid {
                field: "attested.name"
            }
        );
        let mut bad_magic = ok.clone();
        bad_magic.magic = 0;
        assert_eq!(
            verify_certify(&bad_magic, public_area, b"nonce").unwrap_err(),
            AttestError::TpmAttestInvalid { field: "magic" }
        );
    }
}
