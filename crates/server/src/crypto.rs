//! Signature verification (ring) and the acceptance rules for device and Hello public keys.
//!
//! Device keys are SubjectPublicKeyInfo DER of an RSA key (2048 to 4096 bits, signatures
//! RSASSA-PKCS1-v1_5/SHA-256; what the agent makes, as Windows devices do) or of a P-256
//! key (signatures ECDSA/SHA-256, fixed 64-byte r||s; devices joined before RSA device keys).
//! Hello keys are RSA (BCRYPT_RSAPUBLIC_BLOB, 2048 to 4096 bits, signatures
//! RSASSA-PKCS1-v1_5/SHA-256) or P-256 (uncompressed point). Verification works on the
//! stored bytes: a P-256 key and an RSA-2048 key with a three-byte exponent (65537) are
//! sliced out of their fixed DER prefixes; any other RSA key's modulus and exponent are read
//! from its SubjectPublicKeyInfo by the X.509 parser.

use latchkey_attest::PublicKey;
use latchkey_proto::api::key::KeyAlgorithm;
use latchkey_proto::bcrypt::RsaPublicBlob;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether two secrets (codes, token hashes, verifiers) are equal, in time that does not
/// depend on where they differ (`subtle`). Unequal lengths are unequal at once: lengths
/// are not secret here.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The DER prefix of every P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, BIT
/// STRING of 66 bytes), followed by the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The DER prefix of every RSA-2048 SubjectPublicKeyInfo (rsaEncryption with NULL
/// parameters, BIT STRING of 271 bytes), followed by the 270-byte RSAPublicKey (modulus
/// and a three-byte exponent such as 65537). Proofs by such a device key hand those bytes
/// to ring, which parses them strictly; any other SubjectPublicKeyInfo is read by the X.509
/// parser.
const RSA_2048_SPKI_PREFIX: [u8; 24] = [
    0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
    0x01, 0x05, 0x00, 0x03, 0x82, 0x01, 0x0f, 0x00,
];

/// Smallest accepted RSA key (device or Hello).
pub const RSA_MIN_BITS: u32 = 2048;
/// Largest accepted RSA key (device or Hello).
pub const RSA_MAX_BITS: u32 = 4096;

/// The uncompressed point of a P-256 SubjectPublicKeyInfo, if it is one (not validated).
pub fn p256_point_of_spki(spki: &[u8]) -> Option<&[u8]> {
    spki.strip_prefix(&P256_SPKI_PREFIX[..])
        .filter(|point| point.len() == 65)
}

/// Applies the acceptance rules to a device's SubjectPublicKeyInfo: an RSA key of 2048 to
/// 4096 bits with a usable exponent, or a point on P-256.
pub fn accept_device_key(spki: &[u8]) -> Result<(), KeyRejection> {
    if let Some(point) = p256_point_of_spki(spki) {
        return match is_valid_p256_point(point) {
            true => Ok(()),
            false => Err(KeyRejection::NotOnCurve),
        };
    }
    match PublicKey::from_spki_der(spki).map_err(KeyRejection::Malformed)? {
        PublicKey::Rsa { n, e } => check_rsa(&RsaPublicBlob::new(&e, &n)),
        other => Err(KeyRejection::Malformed(format!(
            "a {} device key; RSA or P-256 are accepted",
            other.kind()
        ))),
    }
}

/// The size and exponent rules shared by RSA device and Hello keys.
fn check_rsa(key: &RsaPublicBlob) -> Result<(), KeyRejection> {
    let bits = key.bit_length();
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(KeyRejection::Size(bits));
    }
    if key.exponent.len() > 4 || key.exponent.last().is_none_or(|b| b & 1 == 0) {
        return Err(KeyRejection::Malformed("unusable public exponent".into()));
    }
    Ok(())
}

/// Whether `point` is an uncompressed SEC1 point on P-256.
pub fn is_valid_p256_point(point: &[u8]) -> bool {
    point.len() == 65
        && point.first() == Some(&0x04)
        && p256::PublicKey::from_sec1_bytes(point).is_ok()
}

/// Verifies a device-key signature over `message`: RSASSA-PKCS1-v1_5/SHA-256 for an RSA
/// key, fixed r||s ECDSA/SHA-256 for a P-256 key.
pub fn verify_device(spki: &[u8], message: &[u8], sig: &[u8]) -> bool {
    if let Some(point) = p256_point_of_spki(spki) {
        return verify_p256(point, message, sig);
    }
    if let Some(rsa_public_key) = spki.strip_prefix(&RSA_2048_SPKI_PREFIX[..]) {
        return UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, rsa_public_key)
            .verify(message, sig)
            .is_ok();
    }
    match PublicKey::from_spki_der(spki) {
        Ok(PublicKey::Rsa { n, e }) => verify_rsa(&n, &e, message, sig),
        _ => false,
    }
}

fn verify_rsa(n: &[u8], e: &[u8], message: &[u8], sig: &[u8]) -> bool {
    RsaPublicKeyComponents { n, e }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
        .is_ok()
}

fn verify_p256(point: &[u8], message: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(message, sig)
        .is_ok()
}

/// A Hello public key that passed the acceptance rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedKey {
    /// Lowercase hex SHA-256 key id.
    pub key_id: String,
    /// The stored form (canonical blob, or point).
    pub public_key: Vec<u8>,
    /// Algorithm.
    pub alg: KeyAlgorithm,
}

/// Why a Hello public key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRejection {
    /// The blob does not decode.
    #[error("{0}")]
    Malformed(String),
    /// The RSA key size is outside 2048..=4096.
    #[error("RSA key of {0} bits; 2048 to 4096 are accepted")]
    Size(u32),
    /// The point is not on P-256.
    #[error("not an uncompressed P-256 point")]
    NotOnCurve,
}

/// Applies the acceptance rules to a Hello public key and computes its key id.
pub fn accept_hello_key(alg: KeyAlgorithm, data: &[u8]) -> Result<AcceptedKey, KeyRejection> {
    match alg {
        KeyAlgorithm::Rsa => {
            let blob = RsaPublicBlob::from_bytes(data)
                .map_err(|e| KeyRejection::Malformed(e.to_string()))?;
            check_rsa(&blob)?;
            Ok(AcceptedKey {
                key_id: hex::encode(blob.key_id()),
                public_key: blob.to_bytes(),
                alg,
            })
        }
        KeyAlgorithm::P256 => {
            if !is_valid_p256_point(data) {
                return Err(KeyRejection::NotOnCurve);
            }
            Ok(AcceptedKey {
                key_id: hex::encode(Sha256::digest(data)),
                public_key: data.to_vec(),
                alg,
            })
        }
    }
}

/// Verifies a Hello-key signature over `message` with a stored key.
pub fn verify_hello(alg: &str, public_key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    match alg {
        "RSA" => match RsaPublicBlob::from_bytes(public_key) {
            Ok(blob) => verify_rsa(&blob.modulus, &blob.exponent, message, sig),
            Err(_) => false,
        },
        "P-256" => verify_p256(public_key, message, sig),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"ab"));
        assert!(!secrets_equal(b"", b"a"));
        assert!(secrets_equal(b"", b""));
    }

    #[test]
    fn refuses_garbage_keys() {
        assert!(accept_hello_key(KeyAlgorithm::Rsa, b"nope").is_err());
        assert_eq!(
            accept_hello_key(KeyAlgorithm::P256, &[4u8; 65]),
            Err(KeyRejection::NotOnCurve)
        );
        let small = RsaPublicBlob::new(&[1, 0, 1], &[0xffu8; 128]).to_bytes();
        assert_eq!(
            accept_hello_key(KeyAlgorithm::Rsa, &small),
            Err(KeyRejection::Size(1024))
        );
        assert!(accept_device_key(b"\x30\x00").is_err());
        assert!(!verify_device(b"", b"m", b"s"));
        assert!(!verify_hello("DSA", b"", b"m", b"s"));
    }

    /// An RSA key's SubjectPublicKeyInfo DER and a signature by it over `message`.
    fn rsa_device(bits: usize, message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use rsa::pkcs8::EncodePublicKey;
        use rsa::signature::{SignatureEncoding, Signer};
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        let spki = key.to_public_key().to_public_key_der().unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
        (spki.as_bytes().to_vec(), signer.sign(message).to_vec())
    }

    #[test]
    fn rsa_device_proofs_verify_through_the_prefix_and_through_the_parser() {
        let (message, other) = (b"proof".as_slice(), b"other".as_slice());
        // 2048 bits: the fixed-prefix path; 3072 bits: the X.509 parser's path.
        for bits in [2048, 3072] {
            let (spki, sig) = rsa_device(bits, message);
            assert_eq!(spki.starts_with(&RSA_2048_SPKI_PREFIX), bits == 2048);
            assert_eq!(accept_device_key(&spki), Ok(()), "{bits}");
            assert!(verify_device(&spki, message, &sig), "{bits}");
            assert!(!verify_device(&spki, other, &sig), "{bits}");
            let mut trailing = spki.clone();
            trailing.push(0);
            assert!(!verify_device(&trailing, message, &sig), "{bits}");
            assert!(accept_device_key(&trailing).is_err(), "{bits}");
        }
    }
}
