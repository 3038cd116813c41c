//! The tenant's PIN-recovery key pair and the device's ephemeral answer key.

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, Serializable};
use latchkey_proto::api::pin_reset::{
    recovery_key_id, PinRecoveryKey, PinResetResponse, ANSWER_INFO, HPKE_SUITE, SECRET_LEN,
    X25519_LEN,
};
use latchkey_proto::b64;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::error::RecoveryError;
use crate::hpke_suite::{open, public_from};
use crate::wrap::RecoverySecret;

type Kem = X25519HkdfSha256;

/// The tenant's PIN-recovery key pair (X25519).
pub struct RecoveryKeyPair {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: <Kem as hpke::Kem>::PublicKey,
}

impl std::fmt::Debug for RecoveryKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryKeyPair")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl RecoveryKeyPair {
    /// A new key pair from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> RecoveryKeyPair {
        let (private, public) = Kem::gen_keypair(rng);
        RecoveryKeyPair { private, public }
    }

    /// The key pair whose private key is `private` (32 bytes, as [`Self::private_bytes`]).
    pub fn from_private(private: &[u8]) -> Result<RecoveryKeyPair, RecoveryError> {
        let private = <Kem as hpke::Kem>::PrivateKey::from_bytes(private).map_err(|e| {
            RecoveryError::Malformed {
                field: "PIN-recovery private key",
                detail: e.to_string(),
            }
        })?;
        let public = <Kem as hpke::Kem>::sk_to_pk(&private);
        Ok(RecoveryKeyPair { private, public })
    }

    /// The private key's bytes, for sealing at rest.
    pub fn private_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.private.to_bytes().to_vec())
    }

    /// The public key's bytes.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.to_bytes().to_vec()
    }

    /// The key id ([`recovery_key_id`]).
    pub fn key_id(&self) -> String {
        recovery_key_id(&self.public_bytes())
    }

    /// The public key as devices receive it.
    pub fn public_key(&self) -> PinRecoveryKey {
        PinRecoveryKey {
            key_id: self.key_id(),
            suite: HPKE_SUITE.to_owned(),
            public_key: b64::encode(self.public_bytes()),
        }
    }

    pub(crate) fn private(&self) -> &<Kem as hpke::Kem>::PrivateKey {
        &self.private
    }
}

/// A device's one-request X25519 key: the service seals its answer to it.
pub struct EphemeralKey {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: <Kem as hpke::Kem>::PublicKey,
}

impl EphemeralKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> EphemeralKey {
        let (private, public) = Kem::gen_keypair(rng);
        EphemeralKey { private, public }
    }

    /// The public key as the request carries it (base64url).
    pub fn public_b64(&self) -> String {
        b64::encode(self.public.to_bytes())
    }

    /// Opens the service's answer to the request whose nonce was `nonce`.
    pub fn open_answer(
        &self,
        answer: &PinResetResponse,
        nonce: &str,
    ) -> Result<RecoverySecret, RecoveryError> {
        let secret = open(
            &self.private,
            &answer.enc,
            &answer.ciphertext,
            ANSWER_INFO,
            nonce.as_bytes(),
            "PIN-reset answer",
        )?;
        RecoverySecret::from_bytes(&secret)
    }
}

/// Checks that `key` names this version's suite and holds a valid X25519 public key.
pub(crate) fn check_public(key: &PinRecoveryKey) -> Result<(), RecoveryError> {
    if key.suite != HPKE_SUITE {
        return Err(RecoveryError::UnknownSuite {
            suite: key.suite.clone(),
        });
    }
    let bytes = public_from("PIN-recovery public key", &key.public_key)?.to_bytes();
    if bytes.len() != X25519_LEN || recovery_key_id(&bytes) != key.key_id {
        return Err(RecoveryError::Malformed {
            field: "PIN-recovery public key",
            detail: "its key id does not match the key".to_owned(),
        });
    }
    Ok(())
}

/// The length every recovery secret has.
pub(crate) const fn secret_len() -> usize {
    SECRET_LEN
}
