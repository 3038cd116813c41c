//! The key-provider interface: where a Hello private key lives and how the PIN guards it.
//!
//! A provider makes its own Hello keys ([`KeyProvider::create`]), unlocks them with the PIN,
//! changes the PIN, and reports what it knows about a TPM (the prerequisite check, the
//! lockout state, attestation). Two providers exist:
//!
//! - [`SoftwareProvider`]: the key wrapped under a PIN-derived key in a file
//!   ([`Container`]); a copy of the file can be attacked offline.
//! - [`crate::tpm_provider::TpmProvider`]: the key made and used inside a TPM 2.0, the
//!   PIN's derived value its authorisation value ([`TpmContainer`]).

use latchkey_policy::provision::TpmState;
use latchkey_proto::api::key::PublicKey;
use latchkey_proto::proof::Purpose;
use latchkey_tpm::{DaState, TpmInfo};

use crate::container::{Container, KdfParams};
use crate::error::AgentError;
use crate::hello_key::HelloKey;
use crate::prehashed::Prehashed;
use crate::status::SOFTWARE_PROVIDER;
use crate::tpm_container::TpmContainer;

/// An unlocked Hello key that can prove possession.
pub trait HelloSigner {
    /// Key id (hex SHA-256 of the public blob).
    fn key_id(&self) -> String;
    /// The public key as registered.
    fn public_key(&self) -> PublicKey;
    /// Signs `message` with the key: RSASSA-PKCS1-v1_5 with SHA-256, the raw signature.
    /// Fails, saying why, when the key's store refuses (a TPM error, a lockout).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AgentError>;
    /// Signs a digest the caller computed ([`crate::prehashed`]): every scheme for a
    /// software key; RSASSA-PKCS1-v1_5 with SHA-256 only for a TPM key (its scheme).
    fn sign_prehashed(&self, prehashed: &Prehashed) -> Result<Vec<u8>, AgentError>;
    /// Whether [`HelloSigner::sign_prehashed`] can make this kind of signature.
    fn can_sign_prehashed(&self, prehashed: &Prehashed) -> bool;
    /// Signs the proof message for `purpose` (base64url).
    fn prove(&self, purpose: Purpose, nonce: &str, fields: &[&str]) -> Result<String, AgentError> {
        let message = latchkey_proto::proof::proof_message(purpose, nonce, fields);
        Ok(latchkey_proto::b64::encode(self.sign(&message)?))
    }
}

impl HelloSigner for HelloKey {
    fn key_id(&self) -> String {
        HelloKey::key_id(self)
    }
    fn public_key(&self) -> PublicKey {
        HelloKey::public_key(self)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AgentError> {
        HelloKey::sign(self, message)
    }
    fn sign_prehashed(&self, prehashed: &Prehashed) -> Result<Vec<u8>, AgentError> {
        HelloKey::sign_prehashed(self, prehashed)
    }
    fn can_sign_prehashed(&self, _prehashed: &Prehashed) -> bool {
        true
    }
}

/// A user's Hello key as stored, by the provider that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredKey {
    /// Wrapped by software under the PIN.
    Software(Container),
    /// Made in a TPM.
    Tpm(TpmContainer),
}

impl StoredKey {
    /// The user.
    pub fn upn(&self) -> &str {
        match self {
            StoredKey::Software(c) => &c.upn,
            StoredKey::Tpm(c) => &c.upn,
        }
    }
    /// The key id.
    pub fn key_id(&self) -> &str {
        match self {
            StoredKey::Software(c) => &c.key_id,
            StoredKey::Tpm(c) => &c.key_id,
        }
    }
    /// When the current PIN was set.
    pub fn pin_set_at(&self) -> i64 {
        match self {
            StoredKey::Software(c) => c.pin_set_at,
            StoredKey::Tpm(c) => c.pin_set_at,
        }
    }
    /// The name of the provider that made it.
    pub fn provider(&self) -> &str {
        match self {
            StoredKey::Software(c) => &c.provider,
            StoredKey::Tpm(c) => &c.provider,
        }
    }
}

/// What a provider says about the TPM behind it, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TpmReport {
    /// The TPM's identity.
    pub info: Option<TpmInfo>,
    /// Its dictionary-attack state, or why it could not be read.
    pub lockout: Option<Result<DaState, String>>,
    /// The family of a TPM found but not used (a TPM 1.2), when the TSS could not read
    /// its identity.
    pub unused_family: Option<String>,
}

/// Keeps Hello keys and unlocks them with the PIN.
pub trait KeyProvider: Send + Sync {
    /// The provider's name, as `status` shows it.
    fn name(&self) -> &'static str;
    /// What the prerequisite check should know about the TPM.
    fn tpm_state(&self) -> TpmState;
    /// Whether keys this provider makes are bound to a TPM.
    fn tpm_protected(&self) -> bool {
        false
    }
    /// Makes a new Hello key for `upn` protected by `pin`: its stored form and a signer
    /// (`progress` receives a line when this takes a while).
    fn create(
        &self,
        upn: &str,
        pin: &str,
        now: i64,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(StoredKey, Box<dyn HelloSigner>), AgentError>;
    /// Unlocks `key` with `pin`. The software provider counts a wrong PIN in the container
    /// (the caller stores it); the TPM provider's TPM counts it.
    fn unlock(
        &self,
        key: &mut StoredKey,
        pin: &str,
        now: i64,
    ) -> Result<Box<dyn HelloSigner>, AgentError>;
    /// Re-protects `key` under `new_pin` (the key stays the same).
    fn change_pin(
        &self,
        key: &mut StoredKey,
        old_pin: &str,
        new_pin: &str,
        now: i64,
    ) -> Result<(), AgentError>;
    /// Fails with the lockout error when the key cannot be tried now, before any PIN is
    /// asked for (the TPM provider reads the TPM's dictionary-attack state).
    fn check_lockout(&self, key: &StoredKey, now: i64) -> Result<(), AgentError>;
    /// The TPM's identity and lockout state, when there is a TPM.
    fn tpm_report(&self) -> TpmReport {
        TpmReport::default()
    }
    /// Argon2id costs for PIN-history entries.
    fn history_kdf(&self) -> KdfParams {
        KdfParams::default()
    }
    /// The TPM provider, when this is it (the device key and the key pool use its TPM).
    fn as_tpm(&self) -> Option<&crate::tpm_provider::TpmProvider> {
        None
    }
    /// The TPM that attests this provider's keys (its EK, the device's AIK), if any.
    fn attestation_tcti(&self) -> Option<&latchkey_tpm::Tcti> {
        self.as_tpm().map(|p| p.tcti())
    }
}

/// The provider mismatch error for `key` used with `active`.
pub(crate) fn mismatch(key: &StoredKey, active: &str) -> AgentError {
    AgentError::ProviderMismatch {
        upn: key.upn().to_owned(),
        stored: key.provider().to_owned(),
        active: active.to_owned(),
        hint: match key {
            StoredKey::Software(_) => "software",
            StoredKey::Tpm(_) => "tpm",
        },
    }
}

/// Keys wrapped by software (AES-256-GCM under Argon2id of the PIN).
#[derive(Debug, Clone, Copy)]
pub struct SoftwareProvider {
    /// Argon2id costs for new containers.
    pub kdf: KdfParams,
    /// The TPM found on the device, which this provider does not use (none, one that
    /// failed, or a TPM 1.2): the prerequisite check and policy judge by it.
    pub found_tpm: TpmState,
}

impl Default for SoftwareProvider {
    fn default() -> Self {
        SoftwareProvider::new(KdfParams::default())
    }
}

impl SoftwareProvider {
    /// The software provider on a device where no TPM was found.
    pub fn new(kdf: KdfParams) -> Self {
        SoftwareProvider {
            kdf,
            found_tpm: TpmState::Absent,
        }
    }

    /// Protects `key` for `upn` under `pin`.
    pub fn seal(
        &self,
        upn: &str,
        key: &HelloKey,
        pin: &str,
        now: i64,
    ) -> Result<Container, AgentError> {
        Container::seal(upn, key, pin, self.kdf, now)
    }
}

impl KeyProvider for SoftwareProvider {
    fn name(&self) -> &'static str {
        SOFTWARE_PROVIDER
    }

    fn tpm_state(&self) -> TpmState {
        self.found_tpm
    }

    fn tpm_report(&self) -> TpmReport {
        TpmReport {
            unused_family: (self.found_tpm == TpmState::UsableTpm12).then(|| "1.2".to_owned()),
            ..TpmReport::default()
        }
    }

    fn create(
        &self,
        upn: &str,
        pin: &str,
        now: i64,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(StoredKey, Box<dyn HelloSigner>), AgentError> {
        // The software provider keeps no pool on disk (an unwrapped key in a file is what
        // a copy of the state directory would take): the key is made now, in memory.
        progress("Generating an RSA-2048 Hello key (this takes a moment)...");
        let key = HelloKey::generate()?;
        let container = self.seal(upn, &key, pin, now)?;
        Ok((StoredKey::Software(container), Box::new(key)))
    }

    fn unlock(
        &self,
        key: &mut StoredKey,
        pin: &str,
        now: i64,
    ) -> Result<Box<dyn HelloSigner>, AgentError> {
        match key {
            StoredKey::Software(container) => Ok(Box::new(container.unlock(pin, now)?)),
            StoredKey::Tpm(_) => Err(mismatch(key, self.name())),
        }
    }

    fn change_pin(
        &self,
        key: &mut StoredKey,
        old_pin: &str,
        new_pin: &str,
        now: i64,
    ) -> Result<(), AgentError> {
        match key {
            StoredKey::Software(container) => {
                let unlocked = container.unlock(old_pin, now)?;
                container.rewrap(&unlocked, new_pin, now)
            }
            StoredKey::Tpm(_) => Err(mismatch(key, self.name())),
        }
    }

    fn check_lockout(&self, key: &StoredKey, now: i64) -> Result<(), AgentError> {
        match key {
            StoredKey::Software(c) => match c.locked_for(now) {
                Some(wait_seconds) => Err(AgentError::PinLocked { wait_seconds }),
                None => Ok(()),
            },
            StoredKey::Tpm(_) => Err(mismatch(key, self.name())),
        }
    }

    fn history_kdf(&self) -> KdfParams {
        self.kdf
    }
}
