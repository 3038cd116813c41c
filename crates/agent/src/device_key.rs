//! The device key: the key pair that proves the device's identity to the service.
//!
//! New devices get an RSA-2048 key, signing with RSASSA-PKCS1-v1_5 and SHA-256, as Windows
//! devices do: an RSA verification costs the service a third of a P-256 one, and the
//! service checks a device proof on every sign-in, renewal and policy sync. Devices joined
//! before kept their ECDSA P-256 key, which still loads and signs (fixed 64-byte r||s).
//!
//! With the TPM key provider the device key is made inside the TPM
//! ([`DeviceKey::create_in_tpm`]): RSA-2048, `fixedTPM`, empty authorisation, `noDA`; only
//! its TPM-wrapped blob is stored, and every proof is signed by the TPM. The service sees
//! the same RSA-2048 SubjectPublicKeyInfo and the same RSASSA-PKCS1-v1_5 SHA-256 signature.

use latchkey_proto::{b64, proof};
use latchkey_tpm::{KeyBlob, Tcti, Tpm, TpmError};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::Signature as P256Signature;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::error::AgentError;
use crate::rsa_sign::RsaSigner;

/// The size of new RSA device keys.
pub const DEVICE_RSA_BITS: usize = 2048;

/// The device's own key pair.
#[derive(Clone)]
pub struct DeviceKey {
    key: Key,
}

#[derive(Clone)]
enum Key {
    /// Signs through `ring` ([`crate::rsa_sign`]).
    Rsa(Box<RsaSigner>),
    P256(p256::ecdsa::SigningKey),
    /// In a TPM: the blob and the TPM that can load it.
    Tpm(Box<InTpm>),
}

#[derive(Clone)]
struct InTpm {
    tcti: Tcti,
    blob: KeyBlob,
    spki: Vec<u8>,
    bits: usize,
}

/// The SubjectPublicKeyInfo DER of the RSA key in `blob`.
fn tpm_spki(blob: &KeyBlob) -> Result<(Vec<u8>, usize), AgentError> {
    let rsa = blob.rsa_public().map_err(AgentError::Tpm)?;
    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&rsa.modulus),
        rsa::BigUint::from_bytes_be(&rsa.exponent),
    )
    .map_err(crypto_error)?;
    let der = public.to_public_key_der().map_err(crypto_error)?;
    Ok((der.as_bytes().to_vec(), rsa.modulus.len() * 8))
}

/// Maps a TPM failure of a device-key operation on the TPM at `tcti`.
fn tpm_error(tcti: &Tcti, e: TpmError) -> AgentError {
    match e {
        TpmError::NotThisTpm { detail } => AgentError::DeviceKeyNotThisTpm {
            tcti: tcti.to_string(),
            detail,
        },
        TpmError::Unavailable { .. } => AgentError::DeviceKeyTpmUnreachable {
            reason: format!("the TPM at {tcti} does not answer: {e}"),
        },
        other => AgentError::Tpm(other),
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.algorithm())
    }
}

fn crypto_error(e: impl std::fmt::Display) -> AgentError {
    AgentError::Crypto(format!("device key: {e}"))
}

impl DeviceKey {
    /// Generates a new RSA-2048 device key (a fraction of a second to a few seconds).
    pub fn generate() -> Result<Self, AgentError> {
        RsaSigner::generate(DEVICE_RSA_BITS, "device key").map(|key| DeviceKey {
            key: Key::Rsa(Box::new(key)),
        })
    }

    /// A new P-256 device key, the kind devices joined before RSA device keys have (for
    /// tests of those devices).
    pub fn generate_p256() -> Self {
        DeviceKey {
            key: Key::P256(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng)),
        }
    }

    /// Makes a new RSA-2048 device key inside the TPM at `tcti` (`noDA`, empty
    /// authorisation; see `latchkey-tpm`).
    pub fn create_in_tpm(tcti: &Tcti) -> Result<Self, AgentError> {
        let mut tpm = Tpm::open(tcti).map_err(|e| tpm_error(tcti, e))?;
        let blob = tpm.create_device_key().map_err(|e| tpm_error(tcti, e))?;
        Self::from_tpm_blob(tcti, blob)
    }

    /// A device key the TPM at `tcti` made earlier (whether that TPM can load it is known
    /// at the first signature: [`AgentError::DeviceKeyNotThisTpm`]).
    pub fn from_tpm_blob(tcti: &Tcti, blob: KeyBlob) -> Result<Self, AgentError> {
        let (spki, bits) = tpm_spki(&blob)?;
        Ok(DeviceKey {
            key: Key::Tpm(Box::new(InTpm {
                tcti: tcti.clone(),
                blob,
                spki,
                bits,
            })),
        })
    }

    /// The TPM-wrapped blob, when the key is in a TPM.
    pub fn tpm_blob(&self) -> Option<&KeyBlob> {
        match &self.key {
            Key::Tpm(k) => Some(&k.blob),
            _ => None,
        }
    }

    /// Loads a key from PKCS#8 DER (RSA, or P-256 from an earlier join).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, AgentError> {
        if let Ok(key) = RsaSigner::from_pkcs8(der, "device key") {
            return Ok(DeviceKey {
                key: Key::Rsa(Box::new(key)),
            });
        }
        p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(|key| DeviceKey {
                key: Key::P256(key),
            })
            .map_err(crypto_error)
    }

    /// The private key as PKCS#8 DER (a key in a TPM has none to give:
    /// [`AgentError::Crypto`]).
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        match &self.key {
            Key::Tpm(_) => Err(crypto_error(
                "the key is in the TPM; its private part cannot be exported",
            )),
            Key::Rsa(key) => Ok(key.pkcs8()),
            Key::P256(key) => {
                let doc = key.to_pkcs8_der().map_err(crypto_error)?;
                Ok(Zeroizing::new(doc.as_bytes().to_vec()))
            }
        }
    }

    /// The algorithm, as `status` shows it (`RSA-2048`, `P-256`).
    pub fn algorithm(&self) -> String {
        match &self.key {
            Key::Rsa(key) => format!("RSA-{}", key.bits()),
            Key::P256(_) => "P-256".to_owned(),
            Key::Tpm(k) => format!("RSA-{}", k.bits),
        }
    }

    /// The public key as base64url SubjectPublicKeyInfo DER, as the join request carries it.
    pub fn spki_b64(&self) -> Result<String, AgentError> {
        let der = match &self.key {
            Key::Rsa(key) => key.spki_der()?,
            Key::Tpm(k) => k.spki.clone(),
            Key::P256(key) => key
                .verifying_key()
                .to_public_key_der()
                .map_err(crypto_error)?
                .as_bytes()
                .to_vec(),
        };
        Ok(b64::encode(der))
    }

    /// Signs the proof message for `purpose` (base64url): RSASSA-PKCS1-v1_5 with SHA-256
    /// for an RSA key (by `ring`, constant time), fixed r||s ECDSA with SHA-256 for a
    /// P-256 key, RSASSA-PKCS1-v1_5 with SHA-256 by TPM2_Sign for a key in a TPM.
    pub fn prove(
        &self,
        purpose: proof::Purpose,
        nonce: &str,
        fields: &[&str],
    ) -> Result<String, AgentError> {
        let message = proof::proof_message(purpose, nonce, fields);
        match &self.key {
            Key::Rsa(key) => Ok(b64::encode(key.sign(&message)?)),
            Key::P256(key) => {
                let sig: P256Signature = key.sign(&message);
                Ok(b64::encode(sig.to_bytes()))
            }
            Key::Tpm(k) => {
                let mut tpm = Tpm::open(&k.tcti).map_err(|e| tpm_error(&k.tcti, e))?;
                let sig = tpm
                    .sign_message(&k.blob, &[], &message)
                    .map_err(|e| tpm_error(&k.tcti, e))?;
                Ok(b64::encode(sig))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use sha2::Sha256;

    fn message(nonce: &str) -> Vec<u8> {
        proof::proof_message(proof::Purpose::Leave, nonce, &["t", "d"])
    }

    fn spki(key: &DeviceKey) -> Vec<u8> {
        b64::decode("spki", &key.spki_b64().unwrap()).unwrap()
    }

    fn signature(key: &DeviceKey) -> Vec<u8> {
        b64::decode(
            "sig",
            &key.prove(proof::Purpose::Leave, "n", &["t", "d"]).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn rsa_proofs_verify_under_the_published_key_and_survive_a_reload() {
        let key = DeviceKey::generate().unwrap();
        assert_eq!(key.algorithm(), "RSA-2048");
        let again = DeviceKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let public = rsa::RsaPublicKey::from_public_key_der(&spki(&key)).unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
        let sig = rsa::pkcs1v15::Signature::try_from(signature(&again).as_slice()).unwrap();
        assert!(verifier.verify(&message("n"), &sig).is_ok());
        assert!(verifier.verify(&message("m"), &sig).is_err());
    }

    #[test]
    fn p256_keys_of_earlier_joins_still_load_and_prove() {
        let key = DeviceKey::generate_p256();
        let again = DeviceKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        assert_eq!(again.algorithm(), "P-256");
        let public = p256::ecdsa::VerifyingKey::from_public_key_der(&spki(&key)).unwrap();
        let sig = P256Signature::from_slice(&signature(&again)).unwrap();
        assert!(public.verify(&message("n"), &sig).is_ok());
        assert!(public.verify(&message("m"), &sig).is_err());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(
            DeviceKey::from_pkcs8(b"not a key"),
            Err(AgentError::Crypto(_))
        ));
    }
}
