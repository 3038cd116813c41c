//! Keys and signers for the unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use p256::ecdsa::signature::Signer;
use p256::pkcs8::EncodePublicKey;
use rsa::pkcs8::EncodePrivateKey;

/// A software RSA key (the `rsa` crate) signing through ring, like the agent's Hello key.
pub(crate) struct RsaKey {
    pub(crate) pair: ring::signature::RsaKeyPair,
    pub(crate) spki: Vec<u8>,
}

impl RsaKey {
    pub(crate) fn generate(bits: usize) -> RsaKey {
        let mut rng = rand::thread_rng();
        let key = rsa::RsaPrivateKey::new(&mut rng, bits).unwrap();
        let spki = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.to_public_key())
            .unwrap()
            .as_bytes()
            .to_vec();
        let pkcs8 = key.to_pkcs8_der().unwrap();
        let pair = if bits >= 2048 {
            ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).unwrap()
        } else {
            // ring refuses to sign with short keys; tests of the size limit use `sign_small`.
            ring::signature::RsaKeyPair::from_pkcs8(
                rsa::RsaPrivateKey::new(&mut rng, 2048)
                    .unwrap()
                    .to_pkcs8_der()
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap()
        };
        RsaKey { pair, spki }
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                msg,
                &mut sig,
            )
            .map_err(|e| e.to_string())?;
        Ok(sig)
    }
}

/// One shared RSA-2048 key (generation is slow).
pub(crate) fn rsa2048() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate(2048))
}

/// A second RSA-2048 key.
pub(crate) fn other_rsa2048() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate(2048))
}

/// A P-256 key (the `p256` crate) returning fixed 64-byte r||s signatures, like a TPM.
pub(crate) struct P256Key {
    pub(crate) key: p256::ecdsa::SigningKey,
    pub(crate) spki: Vec<u8>,
}

impl P256Key {
    pub(crate) fn generate() -> P256Key {
        let key = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
        let spki = key
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec();
        P256Key { key, spki }
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        let sig: p256::ecdsa::Signature = self.key.sign(msg);
        Ok(sig.to_bytes().to_vec())
    }
}
