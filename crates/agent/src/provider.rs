//! The key-provider interface: where a Hello private key lives and how the PIN guards it.
//!
//! The software provider keeps the key wrapped under a PIN-derived key in a file. A TPM
//! provider (its own issue) will keep it in the TPM with the PIN as its authorisation value:
//! it implements the same trait, reports a usable TPM to the prerequisite check, and its
//! signer signs inside the TPM.

use latchkey_policy::provision::TpmState;
use latchkey_proto::api::key::PublicKey;
use latchkey_proto::proof::Purpose;

use crate::container::{Container, KdfParams};
use crate::error::AgentError;
use crate::hello_key::HelloKey;
use crate::status::SOFTWARE_PROVIDER;

/// An unlocked Hello key that can prove possession.
pub trait HelloSigner {
    /// Key id (hex SHA-256 of the public blob).
    fn key_id(&self) -> String;
    /// The public key as registered.
    fn public_key(&self) -> PublicKey;
    /// Signs the proof message for `purpose` (base64url).
    fn prove(&self, purpose: Purpose, nonce: &str, fields: &[&str]) -> Result<String, AgentError>;
}

impl HelloSigner for HelloKey {
    fn key_id(&self) -> String {
        HelloKey::key_id(self)
    }
    fn public_key(&self) -> PublicKey {
        HelloKey::public_key(self)
    }
    fn prove(&self, purpose: Purpose, nonce: &str, fields: &[&str]) -> Result<String, AgentError> {
        HelloKey::prove(self, purpose, nonce, fields)
    }
}

/// Keeps Hello keys and unlocks them with the PIN.
pub trait KeyProvider: Send + Sync {
    /// The provider's name, as `status` shows it.
    fn name(&self) -> &'static str;
    /// What the prerequisite check should know about the TPM.
    fn tpm_state(&self) -> TpmState;
    /// Protects `key` for `upn` under `pin`.
    fn seal(&self, upn: &str, key: &HelloKey, pin: &str, now: i64)
        -> Result<Container, AgentError>;
    /// Unlocks `container` with `pin`, counting a wrong PIN in `container` (the caller
    /// stores it).
    fn unlock(
        &self,
        container: &mut Container,
        pin: &str,
        now: i64,
    ) -> Result<Box<dyn HelloSigner>, AgentError>;
    /// Re-protects the unlocked key of `container` under `new_pin`.
    fn change_pin(
        &self,
        container: &mut Container,
        old_pin: &str,
        new_pin: &str,
        now: i64,
    ) -> Result<(), AgentError>;
}

/// Keys wrapped by software (AES-256-GCM under Argon2id of the PIN).
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftwareProvider {
    /// Argon2id costs for new containers.
    pub kdf: KdfParams,
}

impl KeyProvider for SoftwareProvider {
    fn name(&self) -> &'static str {
        SOFTWARE_PROVIDER
    }

    fn tpm_state(&self) -> TpmState {
        TpmState::Absent
    }

    fn seal(
        &self,
        upn: &str,
        key: &HelloKey,
        pin: &str,
        now: i64,
    ) -> Result<Container, AgentError> {
        Container::seal(upn, key, pin, self.kdf, now)
    }

    fn unlock(
        &self,
        container: &mut Container,
        pin: &str,
        now: i64,
    ) -> Result<Box<dyn HelloSigner>, AgentError> {
        Ok(Box::new(container.unlock(pin, now)?))
    }

    fn change_pin(
        &self,
        container: &mut Container,
        old_pin: &str,
        new_pin: &str,
        now: i64,
    ) -> Result<(), AgentError> {
        let key = container.unlock(old_pin, now)?;
        container.rewrap(&key, new_pin, now)
    }
}
