//! Signature verification over SubjectPublicKeyInfo keys (ring), shared by the request,
//! countersignature and chain checks.

use der::asn1::UintRef;
use der::{Decode, Sequence, Tagged};
use ring::signature::{self, UnparsedPublicKey};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::asn1;

/// The kinds of key the PKI accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// RSA with this many modulus bits.
    Rsa(usize),
    /// ECDSA on P-256.
    P256,
}

/// Why a signature check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigFailure {
    /// The key is neither RSA nor P-256 (or malformed).
    UnsupportedKey(String),
    /// RSA outside 2048..=8192 bits.
    KeySize(usize),
    /// The signature algorithm is not one accepted for the key.
    Algorithm(String),
    /// The signature does not verify.
    Invalid,
}

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// Classifies a key: RSA (with its size) or P-256; anything else is refused.
pub(crate) fn key_kind(spki: &SubjectPublicKeyInfoOwned) -> Result<KeyKind, SigFailure> {
    let oid = spki.algorithm.oid;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| SigFailure::UnsupportedKey("key bit string has unused bits".into()))?;
    if oid == asn1::RSA_ENCRYPTION {
        let rsa = RsaPublicKey::from_der(key)
            .map_err(|e| SigFailure::UnsupportedKey(format!("RSA key: {e}")))?;
        let n = rsa.modulus.as_bytes();
        let bits = match n.first() {
            Some(first) => n.len() * 8 - first.leading_zeros() as usize,
            None => 0,
        };
        let _ = rsa.public_exponent;
        Ok(KeyKind::Rsa(bits))
    } else if oid == asn1::EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
        if curve != Some(asn1::PRIME256V1) {
            return Err(SigFailure::UnsupportedKey(
                "EC key on a curve other than P-256".into(),
            ));
        }
        if key.len() != 65 || key.first() != Some(&4) {
            return Err(SigFailure::UnsupportedKey(
                "P-256 key is not an uncompressed point".into(),
            ));
        }
        Ok(KeyKind::P256)
    } else {
        Err(SigFailure::UnsupportedKey(format!("algorithm {oid}")))
    }
}

fn null_or_absent(alg: &AlgorithmIdentifierOwned) -> bool {
    match &alg.parameters {
        None => true,
        Some(p) => p.tag() == der::Tag::Null && p.value().is_empty(),
    }
}

/// Verifies `signature` over `message` with the key `spki` under the algorithm `alg`:
/// RSA 2048..=8192 bits with PKCS#1 v1.5 SHA-256/384/512, or ECDSA P-256 with SHA-256
/// (DER signature).
pub(crate) fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<KeyKind, SigFailure> {
    let kind = key_kind(spki)?;
    let key = spki.subject_public_key.raw_bytes();
    let scheme: &'static dyn signature::VerificationAlgorithm = match kind {
        KeyKind::Rsa(bits) => {
            if !(2048..=8192).contains(&bits) {
                return Err(SigFailure::KeySize(bits));
            }
            if !null_or_absent(alg) {
                return Err(SigFailure::Algorithm("RSA parameters not NULL".into()));
            }
            match alg.oid {
                o if o == asn1::SHA256_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
                o if o == asn1::SHA384_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA384,
                o if o == asn1::SHA512_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA512,
                o => return Err(SigFailure::Algorithm(format!("{o} with an RSA key"))),
            }
        }
        KeyKind::P256 => {
            if alg.oid != asn1::ECDSA_WITH_SHA256 || alg.parameters.is_some() {
                return Err(SigFailure::Algorithm(format!(
                    "{} with a P-256 key",
                    alg.oid
                )));
            }
            &signature::ECDSA_P256_SHA256_ASN1
        }
    };
    UnparsedPublicKey::new(scheme, key)
        .verify(message, signature)
        .map_err(|_| SigFailure::Invalid)?;
    Ok(kind)
}
