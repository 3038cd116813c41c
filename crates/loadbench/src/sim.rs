//! A simulated device: a device key (RSA-2048 as the agent makes, or P-256 as devices
//! joined before that have) and an RSA-2048 Hello key, signing the exact proof messages a
//! real agent signs.

use anyhow::{anyhow, Context, Result};
use latchkey_proto::{b64, bcrypt::RsaPublicBlob, proof};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;

/// The kind of device key the simulated devices have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKeyKind {
    /// RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256 (what `latchkey join` makes).
    Rsa,
    /// ECDSA P-256 (devices joined before the agent made RSA device keys).
    P256,
}

/// A device key that signs proofs.
enum DeviceKey {
    Rsa(ring::signature::RsaKeyPair),
    P256(SigningKey),
}

/// Where a simulated device's Hello key lives.
enum HelloKey {
    /// In software (ring): the device signs its own proofs.
    Software(ring::signature::RsaKeyPair),
    /// In the benchmark's swtpm (`--tpm-devices`): the stored blob; proofs are signed by
    /// `crate::tpmdev::BenchTpm`, one at a time.
    Tpm(latchkey_tpm::KeyBlob),
}

/// One simulated device with one user's Hello key.
pub struct SimDevice {
    pub upn: String,
    device_key: DeviceKey,
    /// The device public key, SubjectPublicKeyInfo DER.
    pub device_spki: Vec<u8>,
    hello: HelloKey,
    pub hello_blob: Vec<u8>,
    pub key_id: String,
    /// Set once the device has joined.
    pub device_id: std::sync::OnceLock<String>,
}

/// A new RSA-2048 key: ring's signing key and the public key (the slow part is here).
fn rsa_2048() -> Result<(ring::signature::RsaKeyPair, rsa::RsaPublicKey)> {
    let key =
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).context("RSA key generation")?;
    let der = key.to_pkcs8_der().context("PKCS#8")?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
        .map_err(|e| anyhow!("ring rejected the RSA key: {e}"))?;
    Ok((pair, key.to_public_key()))
}

/// An RSASSA-PKCS1-v1_5/SHA-256 signature by `key` over `msg`.
fn rsa_sign(key: &ring::signature::RsaKeyPair, msg: &[u8]) -> Result<Vec<u8>> {
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        msg,
        &mut sig,
    )
    .map_err(|_| anyhow!("RSA signing failed"))?;
    Ok(sig)
}

impl SimDevice {
    /// Generates the keys (RSA-2048 generation is the slow part).
    pub fn generate(upn: &str, kind: DeviceKeyKind) -> Result<Self> {
        let (hello, hello_public) = rsa_2048()?;
        let blob = RsaPublicBlob::new(
            &hello_public.e().to_bytes_be(),
            &hello_public.n().to_bytes_be(),
        );
        Self::with_hello(upn, kind, HelloKey::Software(hello), blob)
    }

    /// A device whose Hello key is `key`, made in the benchmark's TPM; the device key is
    /// generated in software as by [`SimDevice::generate`].
    pub fn with_tpm_hello(
        upn: &str,
        kind: DeviceKeyKind,
        key: latchkey_tpm::KeyBlob,
    ) -> Result<Self> {
        let public = key
            .rsa_public()
            .context("the TPM Hello key's public part")?;
        let blob = RsaPublicBlob::new(&public.exponent, &public.modulus);
        Self::with_hello(upn, kind, HelloKey::Tpm(key), blob)
    }

    fn with_hello(
        upn: &str,
        kind: DeviceKeyKind,
        hello: HelloKey,
        blob: RsaPublicBlob,
    ) -> Result<Self> {
        let (device_key, device_spki) = match kind {
            DeviceKeyKind::Rsa => {
                let (pair, public) = rsa_2048()?;
                let spki = public.to_public_key_der().context("SPKI")?;
                (DeviceKey::Rsa(pair), spki.as_bytes().to_vec())
            }
            DeviceKeyKind::P256 => {
                let key = SigningKey::random(&mut rand::rngs::OsRng);
                let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(key.verifying_key())
                    .context("SPKI")?;
                (DeviceKey::P256(key), spki.as_bytes().to_vec())
            }
        };
        Ok(SimDevice {
            upn: upn.to_string(),
            device_key,
            device_spki,
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
    pub fn device_spki_b64(&self) -> String {
        b64::encode(&self.device_spki)
    }

    /// A device-key signature over a proof message.
    pub fn device_sign(
        &self,
        purpose: proof::Purpose,
        nonce: &str,
        fields: &[&str],
    ) -> Result<String> {
        let msg = proof::proof_message(purpose, nonce, fields);
        let sig = match &self.device_key {
            DeviceKey::Rsa(pair) => rsa_sign(pair, &msg)?,
            DeviceKey::P256(key) => {
                let sig: Signature = key.sign(&msg);
                sig.to_bytes().to_vec()
            }
        };
        Ok(b64::encode(sig))
    }

    /// The Hello key's TPM blob when it lives in the benchmark's TPM.
    pub fn tpm_key(&self) -> Option<&latchkey_tpm::KeyBlob> {
        match &self.hello {
            HelloKey::Tpm(blob) => Some(blob),
            HelloKey::Software(_) => None,
        }
    }

    /// A Hello-key signature (RSASSA-PKCS1-v1_5, SHA-256) over a proof message, by a
    /// software Hello key (a TPM key signs through `crate::tpmdev::BenchTpm`).
    pub fn hello_sign(
        &self,
        purpose: proof::Purpose,
        nonce: &str,
        fields: &[&str],
    ) -> Result<String> {
        match &self.hello {
            HelloKey::Software(pair) => Ok(b64::encode(rsa_sign(
                pair,
                &proof::proof_message(purpose, nonce, fields),
            )?)),
            HelloKey::Tpm(_) => Err(anyhow!(
                "this device's Hello key is in the TPM: sign through BenchTpm"
            )),
        }
    }
}
