//! The recovery secret and the recovery wrap of a Hello private key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use latchkey_proto::b64;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::RecoveryError;
use crate::keys::secret_len;

const WRAP_INFO: &[u8] = b"latchkey pin recovery wrap v1";
const WRAP_AAD_DOMAIN: &[u8] = b"latchkey pin recovery wrap aad v1";
const NONCE_LEN: usize = 12;
/// The largest private key a wrap holds (an RSA-4096 PKCS#8 is about 2.4 KB).
const MAX_WRAPPED: usize = 8 * 1024;

/// A recovery secret: 32 random bytes, zeroized on drop, never written in clear.
pub struct RecoverySecret(Zeroizing<Vec<u8>>);

impl RecoverySecret {
    /// A fresh secret from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> RecoverySecret {
        let mut bytes = Zeroizing::new(vec![0u8; secret_len()]);
        rng.fill_bytes(&mut bytes);
        RecoverySecret(bytes)
    }

    /// A secret from its bytes (exactly 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<RecoverySecret, RecoveryError> {
        if bytes.len() != secret_len() {
            return Err(RecoveryError::Malformed {
                field: "recovery secret",
                detail: format!("{} bytes, expected {}", bytes.len(), secret_len()),
            });
        }
        Ok(RecoverySecret(Zeroizing::new(bytes.to_vec())))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn wrap_key(&self) -> Result<Zeroizing<[u8; 32]>, RecoveryError> {
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, &self.0)
            .expand(WRAP_INFO, key.as_mut())
            .map_err(|_| RecoveryError::Seal {
                what: "recovery wrap key",
            })?;
        Ok(key)
    }
}

impl std::fmt::Debug for RecoverySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoverySecret(..)")
    }
}

/// A private key wrapped under a recovery secret (AES-256-GCM), both fields base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The AES-GCM nonce.
    pub nonce: String,
    /// The ciphertext and tag.
    pub ciphertext: String,
}

/// The additional data of a wrap: the user and key id, length-prefixed.
fn aad(upn: &str, key_id: &str) -> Vec<u8> {
    let mut out = WRAP_AAD_DOMAIN.to_vec();
    for part in [upn, key_id] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Wraps `private_key` (PKCS#8 DER) for `upn`'s key `key_id` under `secret`.
pub fn wrap_key(
    secret: &RecoverySecret,
    upn: &str,
    key_id: &str,
    private_key: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<WrappedKey, RecoveryError> {
    let key = secret.wrap_key()?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| RecoveryError::Seal {
        what: "recovery wrap",
    })?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let aad = aad(upn, key_id);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: private_key,
                aad: &aad,
            },
        )
        .map_err(|_| RecoveryError::Seal {
            what: "recovery wrap",
        })?;
    Ok(WrappedKey {
        nonce: b64::encode(nonce),
        ciphertext: b64::encode(ciphertext),
    })
}

/// Opens `wrapped` for `upn`'s key `key_id` with `secret`: the PKCS#8 DER.
pub fn unwrap_key(
    secret: &RecoverySecret,
    upn: &str,
    key_id: &str,
    wrapped: &WrappedKey,
) -> Result<Zeroizing<Vec<u8>>, RecoveryError> {
    let malformed = |field, detail: String| RecoveryError::Malformed { field, detail };
    let nonce = b64::decode("recovery wrap nonce", &wrapped.nonce)
        .map_err(|e| malformed("recovery wrap nonce", e.to_string()))?;
    if nonce.len() != NONCE_LEN {
        return Err(malformed(
            "recovery wrap nonce",
            format!("{} bytes, expected {NONCE_LEN}", nonce.len()),
        ));
    }
    if wrapped.ciphertext.len() > MAX_WRAPPED * 4 / 3 + 4 {
        return Err(malformed(
            "recovery wrap",
            format!("longer than {MAX_WRAPPED} bytes"),
        ));
    }
    let ciphertext = b64::decode("recovery wrap", &wrapped.ciphertext)
        .map_err(|e| malformed("recovery wrap", e.to_string()))?;
    let key = secret.wrap_key()?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| RecoveryError::Seal {
        what: "recovery wrap",
    })?;
    let aad = aad(upn, key_id);
    cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| RecoveryError::DoesNotOpen {
            what: "recovery wrap",
        })
}
