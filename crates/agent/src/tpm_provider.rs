//! The TPM key provider: Hello keys made inside a TPM 2.0 and used only there.
//!
//! A Hello key is an RSA-2048 signing key under the TPM's storage primary key
//! (`fixedTPM`, `fixedParent`, `sensitiveDataOrigin`, `userWithAuth`, dictionary-attack
//! protected; see `latchkey-tpm`). Its authorisation value is derived from the PIN and a
//! per-key salt ([`derive_auth`]); the TPM checks it and counts every wrong one. On disk
//! is only a [`TpmContainer`]. Every signature is made by the TPM.
//!
//! The TPM is opened for each operation and closed again: a TPM without a resource
//! manager (swtpm) serves one connection at a time.

use latchkey_policy::provision::TpmState;
use latchkey_proto::api::key::PublicKey;
use latchkey_tpm::{KeyBlob, Tcti, Tpm, TpmError, TpmInfo};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::container::KdfParams;
use crate::error::AgentError;
use crate::provider::{mismatch, HelloSigner, KeyProvider, SoftwareProvider, StoredKey, TpmReport};
use crate::tpm_container::{self, derive_auth, TpmContainer, AUTH_SALT_LEN};

/// The name of the TPM key provider, as `status` shows it.
pub const TPM_PROVIDER: &str = "Latchkey Platform Crypto Provider (TPM 2.0)";

/// What the PIN check at unlock signs: a fixed, domain-separated message that no proof
/// message can equal (proof messages start with the proof domain).
const PIN_CHECK_MESSAGE: &[u8] = b"latchkey-tpm-pin-check-v1";

/// Hello keys in the TPM at `tcti`. Software keys made before (on this device before it
/// had a usable TPM) keep working: they are unlocked by the software provider.
#[derive(Debug, Clone)]
pub struct TpmProvider {
    tcti: Tcti,
    info: TpmInfo,
    software: SoftwareProvider,
}

impl TpmProvider {
    /// A provider on the TPM at `tcti`, whose identity `info` the probe read; `kdf` is
    /// for software keys made before and for PIN-history entries.
    pub fn new(tcti: Tcti, info: TpmInfo, kdf: KdfParams) -> Self {
        TpmProvider {
            tcti,
            info,
            software: SoftwareProvider::new(kdf),
        }
    }

    /// The TPM in use.
    pub fn tcti(&self) -> &Tcti {
        &self.tcti
    }

    fn open(&self) -> Result<Tpm, AgentError> {
        Tpm::open(&self.tcti).map_err(AgentError::Tpm)
    }

    /// Maps a TPM error of an operation on `upn`'s key to the agent's error, reading the
    /// dictionary-attack state for the tries left and the wait.
    fn error(&self, tpm: &mut Tpm, upn: &str, e: TpmError) -> AgentError {
        match e {
            TpmError::WrongAuth => AgentError::TpmWrongPin {
                tries_left: tpm.dictionary_attack_state().ok().map(|s| s.tries_left()),
            },
            TpmError::LockedOut { .. } => match tpm.dictionary_attack_state() {
                Ok(s) => locked_out(&s),
                Err(_) => AgentError::TpmLockedOut {
                    counter: 0,
                    max_tries: 0,
                    wait: "the wait could not be read".to_owned(),
                },
            },
            TpmError::NotThisTpm { detail } => AgentError::TpmKeyNotHere {
                upn: upn.to_owned(),
                tcti: self.tcti.to_string(),
                detail,
            },
            other => AgentError::Tpm(other),
        }
    }

    fn parts(
        &self,
        key: &StoredKey,
    ) -> Result<(TpmContainer, KeyBlob, Vec<u8>, String), AgentError> {
        match key {
            StoredKey::Tpm(c) => {
                let path = format!("the TPM container of {}", c.upn);
                c.validate(&path)?;
                Ok((c.clone(), c.blob(&path)?, c.salt(&path)?, path))
            }
            StoredKey::Software(_) => Err(mismatch(key, self.name())),
        }
    }
}

impl TpmProvider {
    /// Takes a key the TPM made ahead of time (`blob`, authorised by `pool_auth`) as
    /// `upn`'s Hello key: TPM2_ObjectChangeAuth sets its authorisation value to the one
    /// derived from `pin` and a new salt. The TPM returns a new blob; the old one (and
    /// `pool_auth`) still works on this TPM, so the caller deletes every copy of it.
    pub fn adopt_pool_key(
        &self,
        upn: &str,
        blob: &KeyBlob,
        pool_auth: &[u8],
        pin: &str,
        now: i64,
    ) -> Result<(StoredKey, Box<dyn HelloSigner>), AgentError> {
        let mut salt = [0u8; AUTH_SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let auth = derive_auth(&salt, pin);
        let mut tpm = self.open()?;
        let changed = tpm
            .change_auth(blob, pool_auth, &auth)
            .map_err(|e| self.error(&mut tpm, upn, e))?;
        drop(tpm);
        let container = TpmContainer::new(upn, self.name(), &changed, &salt, now)?;
        let signer = TpmSigner::new(self, upn, changed, auth)?;
        Ok((StoredKey::Tpm(container), Box::new(signer)))
    }
}

/// The lockout error for a TPM in lockout.
pub fn locked_out(s: &latchkey_tpm::DaState) -> AgentError {
    AgentError::TpmLockedOut {
        counter: s.counter,
        max_tries: s.max_tries,
        wait: lockout_wait(s),
    }
}

/// How long a TPM in lockout makes the user wait, in words.
pub fn lockout_wait(s: &latchkey_tpm::DaState) -> String {
    match s.recovery_seconds() {
        Some(0) => "no wait".to_owned(),
        Some(secs) => format!("try again in about {secs} s (at most)"),
        None => "the TPM does not recover by itself: an administrator must reset its lockout with the lockout authorisation".to_owned(),
    }
}

impl KeyProvider for TpmProvider {
    fn name(&self) -> &'static str {
        TPM_PROVIDER
    }

    fn tpm_state(&self) -> TpmState {
        TpmState::UsableTpm20
    }

    fn tpm_protected(&self) -> bool {
        true
    }

    fn create(
        &self,
        upn: &str,
        pin: &str,
        now: i64,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(StoredKey, Box<dyn HelloSigner>), AgentError> {
        let mut salt = [0u8; AUTH_SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let auth = derive_auth(&salt, pin);
        progress("Creating an RSA-2048 Hello key in the TPM (this takes a moment)...");
        let mut tpm = self.open()?;
        let blob = tpm
            .create_hello_key(&auth)
            .map_err(|e| self.error(&mut tpm, upn, e))?;
        drop(tpm);
        let container = TpmContainer::new(upn, self.name(), &blob, &salt, now)?;
        let signer = TpmSigner::new(self, upn, blob, auth)?;
        Ok((StoredKey::Tpm(container), Box::new(signer)))
    }

    fn unlock(
        &self,
        key: &mut StoredKey,
        pin: &str,
        now: i64,
    ) -> Result<Box<dyn HelloSigner>, AgentError> {
        if let StoredKey::Software(_) = key {
            return self.software.unlock(key, pin, now);
        }
        let (c, blob, salt, _) = self.parts(key)?;
        let auth = derive_auth(&salt, pin);
        let mut tpm = self.open()?;
        let da = tpm.dictionary_attack_state().map_err(AgentError::Tpm)?;
        if da.in_lockout {
            return Err(locked_out(&da));
        }
        // The PIN is checked by the TPM now, before the service is contacted: a wrong one
        // is counted by the TPM's dictionary-attack protection.
        tpm.sign_message(&blob, &auth, PIN_CHECK_MESSAGE)
            .map_err(|e| self.error(&mut tpm, &c.upn, e))?;
        drop(tpm);
        Ok(Box::new(TpmSigner::new(self, &c.upn, blob, auth)?))
    }

    fn change_pin(
        &self,
        key: &mut StoredKey,
        old_pin: &str,
        new_pin: &str,
        now: i64,
    ) -> Result<(), AgentError> {
        if let StoredKey::Software(_) = key {
            return self.software.change_pin(key, old_pin, new_pin, now);
        }
        let (mut c, blob, salt, _) = self.parts(key)?;
        let old_auth = derive_auth(&salt, old_pin);
        let mut new_salt = [0u8; AUTH_SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut new_salt);
        let new_auth = derive_auth(&new_salt, new_pin);
        let mut tpm = self.open()?;
        let changed = tpm
            .change_auth(&blob, &old_auth, &new_auth)
            .map_err(|e| self.error(&mut tpm, &c.upn, e))?;
        c.set_blob(&changed, &new_salt, now)?;
        *key = StoredKey::Tpm(c);
        Ok(())
    }

    fn check_lockout(&self, key: &StoredKey, now: i64) -> Result<(), AgentError> {
        if let StoredKey::Software(_) = key {
            return self.software.check_lockout(key, now);
        }
        self.parts(key)?;
        let da = self
            .open()?
            .dictionary_attack_state()
            .map_err(AgentError::Tpm)?;
        if da.in_lockout {
            return Err(locked_out(&da));
        }
        Ok(())
    }

    fn history_kdf(&self) -> KdfParams {
        self.software.kdf
    }

    fn as_tpm(&self) -> Option<&TpmProvider> {
        Some(self)
    }

    fn tpm_report(&self) -> TpmReport {
        let lockout = self
            .open()
            .and_then(|mut t| t.dictionary_attack_state().map_err(AgentError::Tpm))
            .map_err(|e| e.to_string());
        TpmReport {
            info: Some(self.info.clone()),
            lockout: Some(lockout),
            unused_family: None,
        }
    }
}

/// An unlocked TPM Hello key: the blob and the authorisation value; each proof is signed
/// by the TPM.
pub struct TpmSigner {
    provider: TpmProvider,
    upn: String,
    blob: KeyBlob,
    auth: Zeroizing<Vec<u8>>,
    key_id: String,
    public_key: PublicKey,
}

impl TpmSigner {
    fn new(
        provider: &TpmProvider,
        upn: &str,
        blob: KeyBlob,
        auth: Zeroizing<Vec<u8>>,
    ) -> Result<Self, AgentError> {
        Ok(TpmSigner {
            provider: provider.clone(),
            upn: upn.to_owned(),
            key_id: tpm_container::key_id(&blob)?,
            public_key: tpm_container::public_key(&blob)?,
            blob,
            auth,
        })
    }
}

impl HelloSigner for TpmSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    fn public_key(&self) -> PublicKey {
        self.public_key.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AgentError> {
        let mut tpm = self.provider.open()?;
        tpm.sign_message(&self.blob, &self.auth, message)
            .map_err(|e| self.provider.error(&mut tpm, &self.upn, e))
    }

    fn sign_prehashed(
        &self,
        prehashed: &crate::prehashed::Prehashed,
    ) -> Result<Vec<u8>, AgentError> {
        // The key's scheme is RSASSA-PKCS1-v1_5 with SHA-256 (latchkey-tpm's template):
        // the TPM refuses any other scheme for it, so nothing else is offered.
        let digest: [u8; 32] = match (prehashed.tpm_can_sign(), prehashed.digest().try_into()) {
            (true, Ok(d)) => d,
            _ => {
                return Err(AgentError::PrehashedRefused {
                    reason: format!(
                        "a Hello key in the TPM signs RSASSA-PKCS1-v1_5 with SHA-256 only, not {:?} with {}",
                        prehashed.padding(),
                        prehashed.hash().name()
                    ),
                })
            }
        };
        let mut tpm = self.provider.open()?;
        tpm.sign_digest(&self.blob, &self.auth, &digest)
            .map_err(|e| self.provider.error(&mut tpm, &self.upn, e))
    }

    fn can_sign_prehashed(&self, prehashed: &crate::prehashed::Prehashed) -> bool {
        prehashed.tpm_can_sign()
    }
}
