//! The Hello key: the user's RSA-2048 key pair bound to this device.

use latchkey_proto::api::key::{KeyAlgorithm, PublicKey};
use latchkey_proto::{b64, bcrypt::RsaPublicBlob, proof};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::AgentError;

/// The size of new Hello keys.
pub const RSA_BITS: usize = 2048;

/// An unlocked Hello private key.
#[derive(Clone)]
pub struct HelloKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for HelloKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HelloKey({})", self.key_id())
    }
}

impl HelloKey {
    /// Generates a new RSA-2048 key (slow: hundreds of milliseconds, which is why the agent
    /// keeps a pool of them).
    pub fn generate() -> Result<Self, AgentError> {
        RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
            .map(|key| HelloKey { key })
            .map_err(|e| AgentError::Crypto(format!("RSA key generation: {e}")))
    }

    /// Loads a key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, AgentError> {
        RsaPrivateKey::from_pkcs8_der(der)
            .map(|key| HelloKey { key })
            .map_err(|e| AgentError::Crypto(format!("Hello key: {e}")))
    }

    /// The private key as PKCS#8 DER.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        self.key
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|e| AgentError::Crypto(format!("Hello key: {e}")))
    }

    /// The public key as a `BCRYPT_RSAPUBLIC_BLOB`.
    pub fn public_blob(&self) -> RsaPublicBlob {
        RsaPublicBlob::new(&self.key.e().to_bytes_be(), &self.key.n().to_bytes_be())
    }

    /// The key id: lowercase hex of SHA-256 over the public blob (the KeyCredentialLink rule).
    pub fn key_id(&self) -> String {
        hex::encode(self.public_blob().key_id())
    }

    /// The public key as the registration request carries it.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            alg: KeyAlgorithm::Rsa,
            data: b64::encode(self.public_blob().to_bytes()),
        }
    }

    /// Signs the proof message (RSASSA-PKCS1-v1_5 with SHA-256, base64url).
    pub fn prove(&self, purpose: proof::Purpose, nonce: &str, fields: &[&str]) -> String {
        b64::encode(sign_pkcs1_sha256(
            &self.key,
            &proof::proof_message(purpose, nonce, fields),
        ))
    }
}

/// An RSASSA-PKCS1-v1_5 signature with SHA-256 by `key` over `message` (Hello and device
/// keys sign alike).
pub(crate) fn sign_pkcs1_sha256(key: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
    SigningKey::<Sha256>::new(key.clone())
        .sign(message)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn key_id_is_sha256_of_the_bcrypt_blob_and_proofs_verify() {
        let key = HelloKey::generate().unwrap();
        let blob = key.public_blob();
        let parsed = RsaPublicBlob::from_bytes(&blob.to_bytes()).unwrap();
        assert_eq!(parsed.bit_length(), 2048);
        use sha2::Digest;
        assert_eq!(key.key_id(), hex::encode(Sha256::digest(blob.to_bytes())));

        let reloaded = HelloKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let sig = reloaded.prove(proof::Purpose::SignIn, "n", &["a"]);
        let sig = Signature::try_from(b64::decode("sig", &sig).unwrap().as_slice()).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(key.key.to_public_key());
        let msg = proof::proof_message(proof::Purpose::SignIn, "n", &["a"]);
        assert!(verifier.verify(&msg, &sig).is_ok());
        let other = proof::proof_message(proof::Purpose::SignIn, "n", &["b"]);
        assert!(verifier.verify(&other, &sig).is_err());
    }
}
