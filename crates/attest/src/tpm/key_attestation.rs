//! Windows Hello key attestation, verified by the service at key registration: the
//! device's AIK certified the Hello key with TPM2_Certify, binding the registration
//! nonce in qualifyingData.
//!
//! [`check_aik_public`] decides whether a TPMT_PUBLIC may serve as an AIK (at join, before
//! credential activation); [`verify_key_attestation`] checks one certification. Each
//! refusal has its own code (`LK-ATT-049` .. `LK-ATT-067`, and `LK-ATT-028` for bytes
//! that do not parse).
//!
//! What a success proves: a TPM object with the AIK's private key signed a statement that
//! the key with this exact public area (name = nameAlg || H(TPMT_PUBLIC)) is loaded in the
//! same TPM, after the nonce was issued; the public area says the key was generated in
//! that TPM and cannot leave it. It proves nothing about the AIK itself: the caller must
//! pass an AIK it trusts for this device (recorded after credential activation).

use super::attest::{Attested, TpmsAttest, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY};
use super::object_name;
use super::public::{TpmKey, TpmtPublic};
use super::signature::{TpmtSignature, ALG_ECDSA, ALG_RSAPSS, ALG_RSASSA};
use super::{ALG_SHA1, ALG_SHA256};
use crate::crypto::PublicKey;
use crate::error::AttestError;

/// TPM_ECC_NIST_P256.
const ECC_NIST_P256: u16 = 0x0003;
/// TPMA_OBJECT bits TPM 2.0 Part 2 (TPMA_OBJECT) reserves: 0, 3, 8, 9, 12 .. 15, 20 .. 31. A TPM
/// refuses to create or load an object with any of them set.
const RESERVED_ATTRIBUTES: u32 = 0xFFF0_F309;

/// A TPMT_PUBLIC accepted as an AIK: a restricted signing key, generated in and bound
/// to its TPM, of a supported type and scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AikPublic {
    public: TpmtPublic,
    key: PublicKey,
    name: Vec<u8>,
}

impl AikPublic {
    /// The parsed public area.
    pub fn public(&self) -> &TpmtPublic {
        &self.public
    }

    /// The AIK's name (nameAlg || H(TPMT_PUBLIC)): what TPM2_MakeCredential binds the
    /// credential to ([`super::make_credential::make_credential`]).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The AIK's public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

/// Check that `aik_public` (a marshalled TPMT_PUBLIC) is acceptable as an AIK:
/// restricted (`LK-ATT-049`), sign (`LK-ATT-050`), not decrypt (`LK-ATT-051`), fixedTPM
/// (`LK-ATT-052`), fixedParent (`LK-ATT-053`), sensitiveDataOrigin (`LK-ATT-054`), and
/// no reserved attribute bit, a nameAlg other than SHA-1, and RSA of 2048 .. 8192 bits with scheme RSASSA or RSAPSS
/// and SHA-256, or ECC P-256 with ECDSA and SHA-256 (`LK-ATT-055`).
pub fn check_aik_public(aik_public: &[u8]) -> Result<AikPublic, AttestError> {
    let public = TpmtPublic::parse(aik_public)?;
    let a = public.attributes;
    if !a.restricted() {
        return Err(AttestError::AikNotRestricted);
    }
    if !a.sign() {
        return Err(AttestError::AikNotSigning);
    }
    if a.decrypt() {
        return Err(AttestError::AikDecrypt);
    }
    if !a.fixed_tpm() {
        return Err(AttestError::AikNotFixedTpm);
    }
    if !a.fixed_parent() {
        return Err(AttestError::AikNotFixedParent);
    }
    if !a.sensitive_data_origin() {
        return Err(AttestError::AikNotSensitiveDataOrigin);
    }
    let unsupported = |detail| AttestError::AikUnsupported { detail };
    if a.0 & RESERVED_ATTRIBUTES != 0 {
        return Err(unsupported("reserved attribute bits set"));
    }
    let scheme = (public.scheme.scheme, public.scheme.hash_alg);
    match &public.key {
        TpmKey::Rsa {
            key_bits, modulus, ..
        } => {
            if !(2048..=8192).contains(key_bits) || modulus.len() * 8 != usize::from(*key_bits) {
                return Err(unsupported("RSA key size not 2048 .. 8192 bits"));
            }
            if scheme != (ALG_RSASSA, ALG_SHA256) && scheme != (ALG_RSAPSS, ALG_SHA256) {
                return Err(unsupported(
                    "RSA scheme is not RSASSA or RSAPSS with SHA-256",
                ));
            }
        }
        TpmKey::Ecc { curve_id, .. } => {
            if *curve_id != ECC_NIST_P256 {
                return Err(unsupported("ECC curve is not P-256"));
            }
            if scheme != (ALG_ECDSA, ALG_SHA256) {
                return Err(unsupported("ECC scheme is not ECDSA with SHA-256"));
            }
        }
    }
    if public.name_alg == ALG_SHA1 {
        // The AIK's name is what the credential is made for; a SHA-1 name could collide.
        return Err(unsupported("nameAlg SHA-1 is too weak for an AIK's name"));
    }
    let key = public.public_key()?;
    let name =
        object_name(public.name_alg, aik_public).ok_or(unsupported("nameAlg not supported"))?;
    Ok(AikPublic { public, key, name })
}

/// A Hello key whose TPM attestation verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    /// The key's name (nameAlg || H(TPMT_PUBLIC)).
    pub name: Vec<u8>,
    /// The key's parsed public area.
    pub public: TpmtPublic,
    /// The certifying TPMS_ATTEST (clock and firmware version, for the record).
    pub attest: TpmsAttest,
}

/// Verify the TPM2_Certify of a Hello key at registration.
///
/// - `aik`: the AIK trusted for this device ([`check_aik_public`] on the stored public
///   area);
/// - `attest`, `signature`: the marshalled TPMS_ATTEST and TPMT_SIGNATURE that
///   TPM2_Certify returned;
/// - `key_public`: the Hello key's marshalled TPMT_PUBLIC;
/// - `expected_extra_data`: the exact qualifyingData the registration binds (the nonce);
/// - `modulus`, `exponent`: the RSA key being registered (big-endian; leading zeros are
///   ignored), as in the device's BCRYPT_RSAKEY_BLOB.
///
/// Checked in this order, each refusal with its code: the signature parses (`LK-ATT-028`,
/// `LK-ATT-056`), fits the AIK's scheme (`LK-ATT-056`) and verifies (`LK-ATT-057`); the
/// TPMS_ATTEST parses (`LK-ATT-028`); magic (`LK-ATT-058`); type (`LK-ATT-059`);
/// extraData (`LK-ATT-060`); the key public area parses (`LK-ATT-028`) and its name is the
/// certified name (`LK-ATT-061`); the key is sensitiveDataOrigin (`LK-ATT-064`), fixedTPM
/// (`LK-ATT-062`), fixedParent (`LK-ATT-063`), sign (`LK-ATT-065`), not decrypt
/// (`LK-ATT-066`); the public area's key is the registered key (`LK-ATT-067`).
pub fn verify_key_attestation(
    aik: &AikPublic,
    attest: &[u8],
    signature: &[u8],
    key_public: &[u8],
    expected_extra_data: &[u8],
    modulus: &[u8],
    exponent: &[u8],
) -> Result<CertifiedKey, AttestError> {
    let sig = TpmtSignature::parse(signature)?;
    let (sig_alg, hash_alg) = sig.scheme();
    if (sig_alg, hash_alg) != (aik.public.scheme.scheme, aik.public.scheme.hash_alg) {
        return Err(AttestError::TpmSignatureScheme { sig_alg, hash_alg });
    }
    if !sig.verify(&aik.key, attest)? {
        return Err(AttestError::TpmAttestSignatureInvalid);
    }
    let parsed = TpmsAttest::parse(attest)?;
    if parsed.magic != TPM_GENERATED_VALUE {
        return Err(AttestError::TpmAttestMagic {
            found: parsed.magic,
        });
    }
    if parsed.attest_type != TPM_ST_ATTEST_CERTIFY {
        return Err(AttestError::TpmAttestType {
            found: parsed.attest_type,
        });
    }
    if parsed.extra_data != expected_extra_data {
        return Err(AttestError::TpmAttestExtraData);
    }
    let Attested::Certify {
        name: certified, ..
    } = &parsed.attested
    else {
        return Err(AttestError::TpmAttestType {
            found: parsed.attest_type,
        });
    };
    let public = TpmtPublic::parse(key_public)?;
    let name =
        object_name(public.name_alg, key_public).ok_or(AttestError::TpmCertifiedNameMismatch)?;
    if *certified != name {
        return Err(AttestError::TpmCertifiedNameMismatch);
    }
    let a = public.attributes;
    if !a.sensitive_data_origin() {
        return Err(AttestError::KeyNotSensitiveDataOrigin);
    }
    if !a.fixed_tpm() {
        return Err(AttestError::KeyNotFixedTpm);
    }
    if !a.fixed_parent() {
        return Err(AttestError::KeyNotFixedParent);
    }
    if !a.sign() {
        return Err(AttestError::KeyNotSigning);
    }
    if a.decrypt() {
        return Err(AttestError::KeyDecrypt);
    }
    let registered = PublicKey::rsa(modulus, exponent);
    if !matches!(public.key, TpmKey::Rsa { .. }) || public.public_key()? != registered {
        return Err(AttestError::RegisteredKeyMismatch);
    }
    Ok(CertifiedKey {
        name,
        public,
        attest: parsed,
    })
}
