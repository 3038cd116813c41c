//! The device key: an ECDSA P-256 key that proves the device's identity to the service.

use latchkey_proto::{b64, proof};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::error::AgentError;

/// The device's own key pair.
#[derive(Clone)]
pub struct DeviceKey {
    key: SigningKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(..)")
    }
}

impl DeviceKey {
    /// Generates a new key.
    pub fn generate() -> Self {
        DeviceKey {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// Loads a key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, AgentError> {
        SigningKey::from_pkcs8_der(der)
            .map(|key| DeviceKey { key })
            .map_err(|e| AgentError::Crypto(format!("device key: {e}")))
    }

    /// The private key as PKCS#8 DER.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        self.key
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|e| AgentError::Crypto(format!("device key: {e}")))
    }

    /// The public key as base64url SubjectPublicKeyInfo DER, as the join request carries it.
    pub fn spki_b64(&self) -> Result<String, AgentError> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|der| b64::encode(der.as_bytes()))
            .map_err(|e| AgentError::Crypto(format!("device key: {e}")))
    }

    /// Signs the proof message for `purpose` (fixed 64-byte r||s, base64url).
    pub fn prove(&self, purpose: proof::Purpose, nonce: &str, fields: &[&str]) -> String {
        let sig: Signature = self.key.sign(&proof::proof_message(purpose, nonce, fields));
        b64::encode(sig.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::{signature::Verifier, VerifyingKey};
    use p256::pkcs8::DecodePublicKey;

    #[test]
    fn proofs_verify_under_the_published_key_and_survive_a_reload() {
        let key = DeviceKey::generate();
        let again = DeviceKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let spki = b64::decode("spki", &key.spki_b64().unwrap()).unwrap();
        let public = VerifyingKey::from_public_key_der(&spki).unwrap();
        let sig = again.prove(proof::Purpose::Leave, "n", &["t", "d"]);
        let sig = Signature::from_slice(&b64::decode("sig", &sig).unwrap()).unwrap();
        let msg = proof::proof_message(proof::Purpose::Leave, "n", &["t", "d"]);
        assert!(public.verify(&msg, &sig).is_ok());
        let other = proof::proof_message(proof::Purpose::Leave, "m", &["t", "d"]);
        assert!(public.verify(&other, &sig).is_err());
        assert!(DeviceKey::from_pkcs8(b"not a key").is_err());
    }
}
