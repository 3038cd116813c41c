//! `latchkey pin reset`: a forgotten PIN replaced, keeping the key (non-destructive, through
//! the tenant's PIN-recovery service) or with a new key (destructive). See
//! `docs/pin-reset.md`.

use latchkey_pin_recovery::EphemeralKey;
use latchkey_proto::api::pin_reset::{blob_binding, reset_fields, PinResetRequest, RecoveryBlob};
use latchkey_proto::proof::Purpose;

use crate::agent::Agent;
use crate::client::ServiceClient;
use crate::error::AgentError;
use crate::events::{self, Event};
use crate::ops_setup::{check_pin, enrollment_token, Credentials};
use crate::pin_history::PinHistory;
use crate::provider::StoredKey;
use crate::records::DeviceRecord;
use crate::recovery::{self, KEY_FILE};

/// `CanReset` when only a new key can replace a forgotten PIN.
pub const DESTRUCTIVE_ONLY: &str = "DestructiveOnly";
/// `CanReset` when the PIN can also be reset keeping the key.
pub const DESTRUCTIVE_AND_NON_DESTRUCTIVE: &str = "DestructiveAndNonDestructive";

/// What `pin reset` can do for `stored` when `EnablePinRecovery` is `recovery_enabled`.
pub fn can_reset(stored: Option<&StoredKey>, recovery_enabled: bool) -> &'static str {
    let has_part = match stored {
        Some(StoredKey::Software(c)) => c.recovery.is_some(),
        Some(StoredKey::Tpm(c)) => c.recovery.is_some(),
        None => false,
    };
    if recovery_enabled && has_part {
        DESTRUCTIVE_AND_NON_DESTRUCTIVE
    } else {
        DESTRUCTIVE_ONLY
    }
}

/// Which kind of reset was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// The same key, a new PIN.
    NonDestructive,
    /// A new key with a new PIN; the old key was deleted at the service.
    Destructive,
}

impl ResetKind {
    /// The name in events and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetKind::NonDestructive => "non-destructive",
            ResetKind::Destructive => "destructive",
        }
    }
}

/// The result of a PIN reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinReset {
    /// The user.
    pub upn: String,
    /// The key id now in use (the same as before for a non-destructive reset).
    pub key_id: String,
    /// The kind.
    pub kind: ResetKind,
    /// The key the service deleted (destructive).
    pub replaced_key_id: Option<String>,
}

impl Agent {
    /// Whether `upn`'s PIN can be reset keeping the key: the software container, its
    /// recovery part and `EnablePinRecovery`; the reason it cannot otherwise.
    pub fn non_destructive_reset(&self, upn: &str) -> Result<(), AgentError> {
        self.recoverable(upn).map(|_| ())
    }

    /// `upn`'s key and the blob its recovery part holds, when a non-destructive reset is
    /// possible.
    fn recoverable(&self, upn: &str) -> Result<(StoredKey, RecoveryBlob), AgentError> {
        let unavailable = |reason: String| AgentError::PinRecoveryUnavailable {
            upn: upn.to_owned(),
            reason,
        };
        let stored = self
            .stored_key(upn)?
            .ok_or_else(|| AgentError::NotProvisioned {
                upn: upn.to_owned(),
            })?;
        let rule = self.policy_for(Some(upn))?.enable_pin_recovery;
        if !rule.value {
            return Err(unavailable(format!(
                "EnablePinRecovery is off ({})",
                rule.source.label()
            )));
        }
        let blob = match &stored {
            StoredKey::Software(c) => c.recovery.as_ref().map(|r| r.blob.clone()),
            StoredKey::Tpm(c) => c.recovery.as_ref().map(|r| r.blob.clone()),
        };
        let blob = blob.ok_or_else(|| {
            unavailable("the key was set up before PIN recovery was enabled".to_owned())
        })?;
        Ok((stored, blob))
    }

    /// Resets `upn`'s forgotten PIN to `new_pin`, keeping the key: a fresh MFA
    /// (`credentials`: password and one-time code), the device's proof, and the container's
    /// recovery blob go to the service, whose answer (readable by this request only) opens
    /// the recovery wrap. The key is re-protected under `new_pin` in one write with a new
    /// recovery part; the PIN history is cleared. The key id, its registration and any
    /// certificate stay the same.
    pub fn reset_pin(
        &self,
        upn: &str,
        new_pin: &str,
        credentials: &Credentials,
    ) -> Result<PinReset, AgentError> {
        let done = self.reset_pin_inner(upn, new_pin, credentials);
        self.record_reset(upn, ResetKind::NonDestructive, &done);
        done
    }

    fn reset_pin_inner(
        &self,
        upn: &str,
        new_pin: &str,
        credentials: &Credentials,
    ) -> Result<PinReset, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        let (mut stored, blob) = self.recoverable(upn)?;
        check_pin(new_pin, &self.policy_for(Some(upn))?)?;
        // A TPM in dictionary-attack lockout refuses ObjectChangeAuth even with the right
        // value: say so before the service answers (and spends) the blob. A software
        // container's own delay does not stand in the way: the reset does not try a PIN (it
        // needs the fresh MFA instead), and the new PIN starts a fresh counter.
        if let StoredKey::Tpm(_) = &stored {
            self.provider.check_lockout(&stored, self.now())?;
        }
        let key_id = stored.key_id().to_owned();
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let token = enrollment_token(&client, upn, credentials)?;
        let answer_key = EphemeralKey::generate(&mut rand::rngs::OsRng);
        let mut req = PinResetRequest {
            device_id: device.device_id.clone(),
            upn: upn.to_owned(),
            key_id: key_id.clone(),
            nonce: client.nonce(Purpose::PinReset)?,
            blob,
            response_key: answer_key.public_b64(),
            device_signature: String::new(),
        };
        let binding = blob_binding(&req.blob);
        let fields = reset_fields(&device.tenant_id, &req, &binding);
        req.device_signature =
            self.device_key(&device)?
                .prove(Purpose::PinReset, &req.nonce, &fields)?;
        let answer = client.pin_reset(&req, &token)?;
        let secret = answer_key.open_answer(&answer, &req.nonce).map_err(|e| {
            AgentError::PinRecoveryFailed {
                detail: e.to_string(),
            }
        })?;
        self.state.write_json(KEY_FILE, &answer.recovery_key)?;
        let now = self.now();
        let software = match &mut stored {
            StoredKey::Software(c) => {
                let part = c
                    .recovery
                    .clone()
                    .ok_or_else(|| AgentError::PinRecoveryFailed {
                        detail: "the recovery part went missing".to_owned(),
                    })?;
                let key = recovery::open_part(&part, &secret, upn, &key_id)?;
                c.rewrap(&key, new_pin, now)?;
                Some(key)
            }
            StoredKey::Tpm(_) => {
                // The answered secret is the key's authorisation value: the TPM changes it to
                // the new PIN's (TPM2_ObjectChangeAuth); the key never leaves the TPM.
                let tpm = self
                    .provider
                    .as_tpm()
                    .ok_or_else(|| AgentError::PinRecoveryFailed {
                        detail: "this TPM key needs the TPM key provider".to_owned(),
                    })?;
                tpm.change_auth_from(&mut stored, secret.as_bytes(), new_pin, now)?;
                None
            }
        };
        drop(secret);
        self.attach_recovery(
            &device,
            upn,
            &mut stored,
            software.as_ref(),
            Some(new_pin),
            None,
        )?;
        self.save_stored(&stored)?;
        // "PIN history is not preserved through a PIN reset."
        PinHistory::forget(&self.state, upn)?;
        Ok(PinReset {
            upn: upn.to_owned(),
            key_id,
            kind: ResetKind::NonDestructive,
            replaced_key_id: None,
        })
    }

    /// Resets `upn`'s PIN by making a new key: the prerequisite check, a fresh MFA, a new
    /// key registered with `new_pin` replacing the old one at the service in one transaction
    /// (which revokes the old key's certificates), and the new container stored in place of
    /// the old. Refused anywhere before the service answers, nothing changes.
    pub fn reset_pin_destructive(
        &self,
        upn: &str,
        new_pin: &str,
        credentials: &Credentials,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PinReset, AgentError> {
        let done = self
            .check_prerequisites(upn)
            .and_then(|()| self.provision_as(upn, new_pin, credentials, progress, true))
            .map(|p| PinReset {
                upn: p.upn,
                key_id: p.key_id,
                kind: ResetKind::Destructive,
                replaced_key_id: p.replaced_key_id,
            });
        self.record_reset(upn, ResetKind::Destructive, &done);
        done
    }

    fn record_reset(&self, upn: &str, kind: ResetKind, done: &Result<PinReset, AgentError>) {
        let mut data = vec![
            ("UPN".to_owned(), upn.to_owned()),
            ("Kind".to_owned(), kind.as_str().to_owned()),
        ];
        let (id, level, message) = match done {
            Ok(reset) => {
                data.push(("KeyId".to_owned(), reset.key_id.clone()));
                (events::id::PIN_RESET, "Information", "The PIN was reset")
            }
            Err(e) => {
                data.push(("Code".to_owned(), e.code().to_owned()));
                data.push(("Error".to_owned(), e.to_string()));
                (
                    events::id::PIN_RESET_FAILED,
                    "Warning",
                    "The PIN reset failed",
                )
            }
        };
        let _ = events::record(
            &self.state,
            Event {
                id,
                time: self.now(),
                level: level.to_owned(),
                message: message.to_owned(),
                data,
            },
        );
    }
}
