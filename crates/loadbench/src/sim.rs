//! A simulated device: a P-256 device key and an RSA-2048 Hello key, signing the exact
//! proof messages a real agent signs.

use anyhow::{anyhow, Context, Result};
use latchkey_proto::{b64, bcrypt::RsaPublicBlob, proof};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::PublicKeyParts;

/// One simulated device with one user's Hello key.
pub struct SimDevice {
    pub upn: String,
    pub device_key: SigningKey,
    pub hello: ring::signature::RsaKeyPair,
    pub hello_blob: Vec<u8>,
    pub key_id: String,
    /// Set once the device has joined.
    pub device_id: std::sync::OnceLock<String>,
}

impl SimDevice {
    /// Generates the keys (RSA-2048 generation is the slow part).
    pub fn generate(upn: &str) -> Result<Self> {
        let mut rng = rand::thread_rng();
        let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).context("RSA key generation")?;
        let blob = RsaPublicBlob::new(&rsa_key.e().to_bytes_be(), &rsa_key.n().to_bytes_be());
        let der = rsa_key.to_pkcs8_der().context("PKCS#8")?;
        let hello = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| anyhow!("ring rejected the RSA key: {e}"))?;
        Ok(SimDevice {
            upn: upn.to_string(),
            device_key: SigningKey::random(&mut rand::rngs::OsRng),
            hello,
            key_id: hex::encode(blob.key_id()),
            hello_blob: blob.to_bytes(),
            device_id: std::sync::OnceLock::new(),
        })
    }

    /// The device id (empty before the join).
    pub fn id(&self) -> &str {
        self.device_id.get().map(String::as_str).unwrap_or("")
    }

    /// The device public key as base64url SubjectPublicKeyInfo DER.
    pub fn device_spki_b64(&self) -> Result<String> {
        let der = self
            .device_key
            .verifying_key()
            .to_public_key_der()
            .context("SPKI")?;
        Ok(b64::encode(der.as_bytes()))
    }

    /// A device-key signature (fixed r||s) over a proof message.
    pub fn device_sign(&self, purpose: proof::Purpose, nonce: &str, fields: &[&str]) -> String {
        let sig: Signature = self
            .device_key
            .sign(&proof::proof_message(purpose, nonce, fields));
        b64::encode(sig.to_bytes())
    }

    /// A Hello-key signature (RSASSA-PKCS1-v1_5, SHA-256) over a proof message.
    pub fn hello_sign(
        &self,
        purpose: proof::Purpose,
        nonce: &str,
        fields: &[&str],
    ) -> Result<String> {
        let msg = proof::proof_message(purpose, nonce, fields);
        let mut sig = vec![0u8; self.hello.public().modulus_len()];
        self.hello
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                &msg,
                &mut sig,
            )
            .map_err(|_| anyhow!("RSA signing failed"))?;
        Ok(b64::encode(sig))
    }
}
