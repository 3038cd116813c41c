//! The Hello key: the user's RSA-2048 key pair bound to this device.

use latchkey_proto::api::key::{KeyAlgorithm, PublicKey};
use latchkey_proto::{b64, bcrypt::RsaPublicBlob, proof};
use zeroize::Zeroizing;

use crate::error::AgentError;
use crate::rsa_sign::RsaSigner;

/// The size of new Hello keys.
pub const RSA_BITS: usize = 2048;

/// An unlocked Hello private key; it signs through `ring` ([`crate::rsa_sign`]).
#[derive(Clone)]
pub struct HelloKey {
    key: RsaSigner,
}

impl std::fmt::Debug for HelloKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HelloKey({})", self.key_id())
    }
}

impl HelloKey {
    /// Generates a new RSA-2048 key (slow: hundreds of milliseconds).
    pub fn generate() -> Result<Self, AgentError> {
        RsaSigner::generate(RSA_BITS, "Hello key").map(|key| HelloKey { key })
    }

    /// Loads a key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, AgentError> {
        RsaSigner::from_pkcs8(der, "Hello key").map(|key| HelloKey { key })
    }

    /// The private key as PKCS#8 DER.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        Ok(self.key.pkcs8())
    }

    /// The public key as a `BCRYPT_RSAPUBLIC_BLOB`.
    pub fn public_blob(&self) -> RsaPublicBlob {
        RsaPublicBlob::new(&self.key.exponent(), &self.key.modulus())
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

    /// Signs `message` (RSASSA-PKCS1-v1_5 with SHA-256 by `ring`), the raw signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AgentError> {
        self.key.sign(message)
    }

    /// Signs a caller-supplied digest (PKCS#1 v1.5 or PSS, by OpenSSL 3).
    pub fn sign_prehashed(
        &self,
        prehashed: &crate::prehashed::Prehashed,
    ) -> Result<Vec<u8>, AgentError> {
        self.key.sign_prehashed(prehashed)
    }

    /// Signs the proof message (RSASSA-PKCS1-v1_5 with SHA-256 by `ring`, base64url).
    pub fn prove(
        &self,
        purpose: proof::Purpose,
        nonce: &str,
        fields: &[&str],
    ) -> Result<String, AgentError> {
        Ok(b64::encode(
            self.key
                .sign(&proof::proof_message(purpose, nonce, fields))?,
        ))
    }
}

/// The SubjectPublicKeyInfo DER of a Hello public key as registered (an RSA
/// `BCRYPT_RSAPUBLIC_BLOB`): what a certificate for the key certifies.
pub fn spki_of(public: &PublicKey) -> Result<Vec<u8>, AgentError> {
    use rsa::pkcs8::EncodePublicKey;
    let bad = |e: String| AgentError::Crypto(format!("Hello public key: {e}"));
    if public.alg != KeyAlgorithm::Rsa {
        return Err(bad(format!(
            "a certificate is made for RSA Hello keys only, not {}",
            public.alg.as_str()
        )));
    }
    let bytes = b64::decode("public key", &public.data).map_err(|e| bad(e.to_string()))?;
    let blob = RsaPublicBlob::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&blob.modulus),
        rsa::BigUint::from_bytes_be(&blob.exponent),
    )
    .map_err(|e| bad(e.to_string()))?;
    let der = key.to_public_key_der().map_err(|e| bad(e.to_string()))?;
    Ok(der.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    use sha2::Sha256;

    #[test]
    fn key_id_is_sha256_of_the_bcrypt_blob_and_proofs_verify() {
        let key = HelloKey::generate().unwrap();
        let blob = key.public_blob();
        let parsed = RsaPublicBlob::from_bytes(&blob.to_bytes()).unwrap();
        assert_eq!(parsed.bit_length(), 2048);
        use sha2::Digest;
        assert_eq!(key.key_id(), hex::encode(Sha256::digest(blob.to_bytes())));

        let reloaded = HelloKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let sig = reloaded.prove(proof::Purpose::SignIn, "n", &["a"]).unwrap();
        let sig = Signature::try_from(b64::decode("sig", &sig).unwrap().as_slice()).unwrap();
        // The published key: the registered BCRYPT blob's modulus and exponent.
        let published = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&parsed.modulus),
            rsa::BigUint::from_bytes_be(&parsed.exponent),
        )
        .unwrap();
        let verifier = VerifyingKey::<Sha256>::new(published);
        let msg = proof::proof_message(proof::Purpose::SignIn, "n", &["a"]);
        assert!(verifier.verify(&msg, &sig).is_ok());
        let other = proof::proof_message(proof::Purpose::SignIn, "n", &["b"]);
        assert!(verifier.verify(&other, &sig).is_err());
    }
}
