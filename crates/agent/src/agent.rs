//! The device agent: one state directory, a clock, the key provider and the session. The
//! policy in force is read from the state directory at each operation ([`crate::policy_store`]).

use latchkey_policy::EffectivePolicy;

use crate::clock::Clock;
use crate::container::{Container, KdfParams};
use crate::device_key::DeviceKey;
use crate::device_seal::MachineBinding;
use crate::error::AgentError;
use crate::events;
use crate::policy_store::{self, PolicyInForce};
use crate::prereq;
use crate::provider::{KeyProvider, SoftwareProvider, StoredKey};
use crate::provider_choice::ProviderChoice;
use crate::records::{user_file, DeviceRecord, SsoRecord};
use crate::status::{self, StatusReport};
use crate::store::StateDir;
use crate::tpm_container::{TpmContainer, TPM_HELLO_DIR};

/// The agent's handle on the device.
pub struct Agent {
    pub(crate) state: StateDir,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) remote_session: bool,
    pub(crate) provider: Box<dyn KeyProvider>,
    pub(crate) provider_reason: String,
    pub(crate) machine: MachineBinding,
}

/// The subdirectory of Hello containers.
pub const HELLO_DIR: &str = "hello";
/// The subdirectory of primary refresh tokens.
pub const SSO_DIR: &str = "sso";

impl Agent {
    /// An agent over `state`. The policy in force is what the device last received from the
    /// service, the seed's defaults until then.
    pub fn new(state: StateDir, clock: Box<dyn Clock>, remote_session: bool) -> Self {
        Agent {
            state,
            clock,
            remote_session,
            provider: Box::new(SoftwareProvider::default()),
            provider_reason: "the default software provider (no provider was chosen)".to_owned(),
            machine: MachineBinding::system(),
        }
    }

    /// Seals the device key to another machine identity (tests; [`MachineBinding::none`]
    /// for file permissions only).
    pub fn with_machine_binding(mut self, machine: MachineBinding) -> Self {
        self.machine = machine;
        self
    }

    /// The device key of `record`. A key stored in plaintext (joined before sealing) is
    /// sealed to the machine and the record rewritten, when the machine has an identity.
    /// A key in the TPM is used in the TPM of the key provider in use.
    pub fn device_key(&self, record: &DeviceRecord) -> Result<DeviceKey, AgentError> {
        let key = self.load_device_key(record)?;
        if record.device_key_sealed.is_none()
            && record.device_key_tpm.is_none()
            && self.machine.available()
        {
            let mut sealed = record.clone();
            sealed.set_key(&key, &self.machine)?;
            self.state
                .write_json(crate::records::DEVICE_FILE, &sealed)?;
        }
        Ok(key)
    }

    /// The device key of `record`, as stored (nothing is rewritten).
    pub(crate) fn load_device_key(&self, record: &DeviceRecord) -> Result<DeviceKey, AgentError> {
        let tcti = self.provider.as_tpm().map(|p| p.tcti().clone());
        record.key_with(&self.machine, tcti.as_ref())
    }

    /// Uses the software provider with other Argon2id costs (tests use cheap ones).
    pub fn with_kdf(mut self, kdf: KdfParams) -> Self {
        self.provider = Box::new(SoftwareProvider::new(kdf));
        self
    }

    /// Uses another key provider.
    pub fn with_provider(mut self, provider: Box<dyn KeyProvider>) -> Self {
        self.provider = provider;
        self
    }

    /// Uses the provider [`crate::provider_choice::choose`] chose, remembering why.
    pub fn with_choice(mut self, choice: ProviderChoice) -> Self {
        self.provider = choice.provider;
        self.provider_reason = choice.reason;
        self
    }

    /// Why the key provider in use was chosen.
    pub fn provider_reason(&self) -> &str {
        &self.provider_reason
    }

    /// Records the key provider in use and why in the event log (event
    /// [`events::id::KEY_PROVIDER`]).
    pub(crate) fn record_provider(&self, upn: &str) -> Result<(), AgentError> {
        events::record(
            &self.state,
            events::Event {
                id: events::id::KEY_PROVIDER,
                time: self.now(),
                level: "Information".to_owned(),
                message: format!("Key provider: {}", self.provider.name()),
                data: vec![
                    ("UPN".to_owned(), upn.to_owned()),
                    ("KeyProvider".to_owned(), self.provider.name().to_owned()),
                    (
                        "TpmProtected".to_owned(),
                        if self.provider.tpm_protected() {
                            "YES"
                        } else {
                            "NO"
                        }
                        .to_owned(),
                    ),
                    ("Reason".to_owned(), self.provider_reason.clone()),
                ],
            },
        )
    }

    /// The key provider.
    pub fn provider(&self) -> &dyn KeyProvider {
        self.provider.as_ref()
    }

    /// The state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// Now, from the agent's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The join, if any.
    pub fn device(&self) -> Result<Option<DeviceRecord>, AgentError> {
        DeviceRecord::load(&self.state)
    }

    /// `upn`, or the device's registered owner when `None`.
    pub fn user_or_owner(&self, upn: Option<&str>) -> Result<String, AgentError> {
        match upn {
            Some(u) => Ok(u.trim().to_owned()),
            None => Ok(DeviceRecord::require(&self.state)?.owner_upn),
        }
    }

    /// The user's Hello container, if any; one that fails [`Container::validate`]
    /// (unknown version, damaged header, Argon2id parameters out of bounds) is an error.
    pub fn container(&self, upn: &str) -> Result<Option<Container>, AgentError> {
        let name = user_file(HELLO_DIR, upn);
        let container: Option<Container> = self.state.read_json(&name)?;
        if let Some(c) = &container {
            c.validate(&self.state.path(&name).display().to_string())?;
        }
        Ok(container)
    }

    pub(crate) fn save_container(&self, c: &Container) -> Result<(), AgentError> {
        self.state.write_json(&user_file(HELLO_DIR, &c.upn), c)
    }

    /// The user's TPM Hello container, if any, validated.
    pub fn tpm_container(&self, upn: &str) -> Result<Option<TpmContainer>, AgentError> {
        let name = user_file(TPM_HELLO_DIR, upn);
        let container: Option<TpmContainer> = self.state.read_json(&name)?;
        if let Some(c) = &container {
            c.validate(&self.state.path(&name).display().to_string())?;
        }
        Ok(container)
    }

    /// The user's Hello key, whichever provider made it (a TPM key first).
    pub fn stored_key(&self, upn: &str) -> Result<Option<StoredKey>, AgentError> {
        if let Some(c) = self.tpm_container(upn)? {
            return Ok(Some(StoredKey::Tpm(c)));
        }
        Ok(self.container(upn)?.map(StoredKey::Software))
    }

    /// Stores `key` (atomically) and then removes the user's key of the other provider,
    /// if any (a new key replaces the old one).
    pub(crate) fn save_stored(&self, key: &StoredKey) -> Result<(), AgentError> {
        match key {
            StoredKey::Software(c) => {
                self.save_container(c)?;
                self.state.remove(&user_file(TPM_HELLO_DIR, &c.upn))
            }
            StoredKey::Tpm(c) => {
                self.state
                    .write_json(&user_file(TPM_HELLO_DIR, &c.upn), c)?;
                self.state.remove(&user_file(HELLO_DIR, &c.upn))
            }
        }
    }

    /// Unlocks `upn`'s Hello key with `pin`: the key as stored (a changed wrong-PIN
    /// counter is saved first, so a wrong PIN is counted before anything else happens) and
    /// its signer.
    pub(crate) fn unlock_hello(
        &self,
        upn: &str,
        pin: &str,
    ) -> Result<(StoredKey, Box<dyn crate::provider::HelloSigner>), AgentError> {
        let mut stored = self
            .stored_key(upn)?
            .ok_or_else(|| AgentError::NotProvisioned {
                upn: upn.to_owned(),
            })?;
        let before = stored.clone();
        let unlocked = self.provider.unlock(&mut stored, pin, self.now());
        // A changed counter, or a version 1 container upgraded by the right PIN (the TPM
        // provider changes nothing on disk: the TPM counts).
        if stored != before {
            self.save_stored(&stored)?;
        }
        Ok((stored, unlocked?))
    }

    /// Before a PIN is asked for: fails when `upn`'s key cannot be tried now (the TPM is in
    /// dictionary-attack lockout, or the software container's delay runs), saying how long
    /// to wait; fails too when the user has no key.
    pub fn check_pin_lockout(&self, upn: &str) -> Result<(), AgentError> {
        let key = self
            .stored_key(upn)?
            .ok_or_else(|| AgentError::NotProvisioned {
                upn: upn.to_owned(),
            })?;
        let checked = self.provider.check_lockout(&key, self.now());
        if let Err(e) = &checked {
            self.note_signin_failure(upn, e);
        }
        checked
    }

    /// Records a failed sign-in: event 311 (wrong PIN), 312 (locked out) or 313.
    pub(crate) fn note_signin_failure(&self, upn: &str, e: &AgentError) {
        let (id, level, message) = match e {
            AgentError::WrongPin { .. } | AgentError::TpmWrongPin { .. } => (
                events::id::SIGNIN_WRONG_PIN,
                "Warning",
                "Sign-in failed: the PIN is incorrect",
            ),
            AgentError::PinLocked { .. } | AgentError::TpmLockedOut { .. } => (
                events::id::SIGNIN_LOCKED_OUT,
                "Warning",
                "Sign-in refused: the PIN is locked out",
            ),
            _ => (events::id::SIGNIN_FAILED, "Error", "Sign-in failed"),
        };
        let mut data = vec![("UPN".to_owned(), upn.to_owned())];
        data.extend(events::failure_data(e));
        self.note(id, level, message, data);
    }

    /// Before a password or code is asked for: the service this device joined answers over
    /// TLS pinned to the tenant CA, and is the tenant of the join.
    pub fn check_service(&self) -> Result<(), AgentError> {
        let device = crate::records::DeviceRecord::require(&self.state)?;
        let tenant = crate::trust::check_service(&device.server_url, &device.ca_pem)?;
        if tenant.tenant_id != device.tenant_id {
            return Err(AgentError::NotTrusted {
                url: device.server_url,
                reason: format!(
                    "it serves tenant {}, not tenant {} this device joined",
                    tenant.tenant_id, device.tenant_id
                ),
            });
        }
        Ok(())
    }

    /// The user's primary refresh token, if any.
    pub fn sso(&self, upn: &str) -> Result<Option<SsoRecord>, AgentError> {
        let name = user_file(SSO_DIR, upn);
        let sso: Option<SsoRecord> = self.state.read_json(&name)?;
        if let Some(s) = &sso {
            s.check_version(&self.state.path(&name).display().to_string())?;
        }
        Ok(sso)
    }

    pub(crate) fn save_sso(&self, s: &SsoRecord) -> Result<(), AgentError> {
        self.state.write_json(&user_file(SSO_DIR, &s.upn), s)
    }

    /// The policy in force for `upn` (default: the registered owner) and where it came from:
    /// the user's received policy, else the owner's, else the seed's defaults.
    pub fn policy_in_force(&self, upn: Option<&str>) -> Result<PolicyInForce, AgentError> {
        let owner = self.device()?.map(|d| d.owner_upn);
        let user = upn.map(str::to_owned).or_else(|| owner.clone());
        policy_store::in_force(&self.state, user.as_deref(), owner.as_deref())
    }

    /// The effective policy in force for `upn` (default: the registered owner).
    pub fn policy_for(&self, upn: Option<&str>) -> Result<EffectivePolicy, AgentError> {
        Ok(self.policy_in_force(upn)?.policy())
    }

    /// The prerequisite check as it stands for the registered owner.
    pub fn prerequisites(
        &self,
    ) -> Result<latchkey_policy::provision::ProvisioningDecision, AgentError> {
        self.prerequisites_for(None)
    }

    /// The prerequisite check as it stands for `upn` (default: the registered owner).
    pub fn prerequisites_for(
        &self,
        upn: Option<&str>,
    ) -> Result<latchkey_policy::provision::ProvisioningDecision, AgentError> {
        let device = self.device()?;
        let policy = self.policy_for(upn)?;
        let user = match upn {
            Some(u) => Some(u.to_owned()),
            None => device.as_ref().map(|d| d.owner_upn.clone()),
        };
        Ok(prereq::check(
            device.as_ref(),
            &policy,
            self.remote_session,
            prereq::tpm_as_judged(self.provider.tpm_state(), &policy),
            user.is_some_and(|u| self.certificate_received(&u)),
        ))
    }

    /// `latchkey status` for `upn` (default: the registered owner).
    pub fn status(&self, upn: Option<&str>) -> Result<StatusReport, AgentError> {
        let device = self.device()?;
        let user = match upn {
            Some(u) => Some(u.to_owned()),
            None => device.as_ref().map(|d| d.owner_upn.clone()),
        };
        let stored = match &user {
            Some(u) => self.stored_key(u)?,
            None => None,
        };
        let sso = match &user {
            Some(u) => self.sso(u)?,
            None => None,
        };
        let certificate = match &user {
            Some(u) => self.certificate(u).transpose(),
            None => None,
        };
        let decision = self.prerequisites_for(user.as_deref())?;
        let policy = self.policy_in_force(user.as_deref())?;
        let device_key = device.as_ref().map(|d| self.load_device_key(d));
        let tpm = self.provider.tpm_report();
        let log = events::read(&self.state).unwrap_or_default();
        let attestation = self
            .tpm_attestation()
            .map_or_else(|e| format!("NOT ATTESTED: {e}"), |a| a.describe());
        Ok(status::report(
            self.provider.name(),
            &status::Observed {
                provider: status::ProviderFacts {
                    tpm_protected: self.provider.tpm_protected(),
                    reason: &self.provider_reason,
                    tpm: &tpm,
                    attestation: &attestation,
                },
                device: device.as_ref(),
                device_key: device_key.as_ref(),
                upn: user.as_deref(),
                stored: stored.as_ref(),
                sso: sso.as_ref(),
                certificate: certificate.as_ref(),
                device_auth: events::last_device_auth(&log),
                decision: &decision,
                policy: &policy,
            },
            self.now(),
        ))
    }

    /// Records an event; a log that cannot be written does not undo or fail the operation
    /// it describes (that operation is done, at the service too). Nothing is written on a
    /// device that never joined (no state directory is made for a refused command).
    pub(crate) fn note(&self, id: u32, level: &str, message: &str, data: Vec<(String, String)>) {
        let joined = self.state.path(crate::records::DEVICE_FILE).exists();
        if !joined && !self.state.path(events::EVENTS_FILE).exists() {
            return;
        }
        let _ = events::record(
            &self.state,
            events::Event {
                id,
                time: self.now(),
                level: level.to_owned(),
                message: message.to_owned(),
                data,
            },
        );
    }

    /// The event log, oldest first.
    pub fn events(&self) -> Result<Vec<events::Event>, AgentError> {
        events::read(&self.state)
    }
}
