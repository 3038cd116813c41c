//! The device side of PIN recovery (`EnablePinRecovery`, `docs/pin-reset.md`).
//!
//! A software container carries a [`RecoveryPart`]: the private key wrapped under a random
//! recovery secret, and that secret sealed (HPKE) to the tenant's PIN-recovery public key,
//! bound to the tenant, device, user and key. The secret is made, used and zeroized in
//! memory; it is never written in clear. The public key is fetched from the service at setup
//! and kept in `pin-recovery-key.json`, so a PIN change made offline can make a new part.

use latchkey_pin_recovery::{unwrap_key, wrap_key, RecoverySecret, WrappedKey};
use latchkey_proto::api::pin_reset::{blob_aad, PinRecoveryKey, RecoveryBlob};
use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::client::ServiceClient;
use crate::error::AgentError;
use crate::hello_key::HelloKey;
use crate::records::DeviceRecord;
use crate::store::StateDir;

/// The state file holding the tenant's PIN-recovery public key.
pub const KEY_FILE: &str = "pin-recovery-key.json";

/// What a container keeps for a reset without the PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryPart {
    /// The recovery secret, sealed to the tenant's PIN-recovery key.
    pub blob: RecoveryBlob,
    /// The AES-GCM nonce of the recovery wrap (base64url).
    pub wrap_nonce: String,
    /// The PKCS#8 private key wrapped under the recovery secret (base64url).
    pub wrapped_key: String,
    /// When it was made (seconds since the epoch).
    pub made_at: i64,
}

/// What a TPM container keeps for a reset without the PIN: the key's current authorisation
/// value, sealed to the tenant's PIN-recovery key (the key itself never leaves the TPM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmRecoveryPart {
    /// The authorisation value, sealed to the tenant's PIN-recovery key.
    pub blob: RecoveryBlob,
    /// When it was made (seconds since the epoch).
    pub made_at: i64,
}

/// A new TPM recovery part for `upn`'s key `key_id` whose authorisation value is `auth`.
pub fn make_tpm_part(
    device: &DeviceRecord,
    upn: &str,
    key_id: &str,
    auth: &[u8],
    tenant_key: &PinRecoveryKey,
    now: i64,
) -> Result<TpmRecoveryPart, AgentError> {
    let secret = RecoverySecret::from_bytes(auth).map_err(failed)?;
    let aad = blob_aad(&device.tenant_id, &device.device_id, upn, key_id);
    let blob =
        latchkey_pin_recovery::seal_secret(tenant_key, &aad, &secret, &mut rand::rngs::OsRng)
            .map_err(failed)?;
    Ok(TpmRecoveryPart { blob, made_at: now })
}

fn failed(e: latchkey_pin_recovery::RecoveryError) -> AgentError {
    AgentError::PinRecoveryFailed {
        detail: e.to_string(),
    }
}

/// The cached PIN-recovery public key, if the device has one.
pub fn cached_key(state: &StateDir) -> Result<Option<PinRecoveryKey>, AgentError> {
    state.read_json(KEY_FILE)
}

/// A new recovery part for `upn`'s key `key` on `device`, under the tenant key `tenant_key`.
pub fn make_part(
    device: &DeviceRecord,
    upn: &str,
    key: &HelloKey,
    tenant_key: &PinRecoveryKey,
    now: i64,
) -> Result<RecoveryPart, AgentError> {
    let key_id = key.key_id();
    let mut rng = rand::rngs::OsRng;
    let secret = RecoverySecret::generate(&mut rng);
    let pkcs8 = key.to_pkcs8()?;
    let wrapped = wrap_key(&secret, upn, &key_id, &pkcs8, &mut rng).map_err(failed)?;
    let aad = blob_aad(&device.tenant_id, &device.device_id, upn, &key_id);
    let blob =
        latchkey_pin_recovery::seal_secret(tenant_key, &aad, &secret, &mut rng).map_err(failed)?;
    Ok(RecoveryPart {
        blob,
        wrap_nonce: wrapped.nonce,
        wrapped_key: wrapped.ciphertext,
        made_at: now,
    })
}

/// Opens `part`'s wrap with the recovery `secret` the service answered: the Hello key,
/// checked to be the key `key_id` names.
pub fn open_part(
    part: &RecoveryPart,
    secret: &RecoverySecret,
    upn: &str,
    key_id: &str,
) -> Result<HelloKey, AgentError> {
    let wrapped = WrappedKey {
        nonce: part.wrap_nonce.clone(),
        ciphertext: part.wrapped_key.clone(),
    };
    let pkcs8 = unwrap_key(secret, upn, key_id, &wrapped).map_err(failed)?;
    let key = HelloKey::from_pkcs8(&pkcs8)?;
    if key.key_id() != key_id {
        return Err(AgentError::PinRecoveryFailed {
            detail: "the recovered key is not the key of this container".to_owned(),
        });
    }
    Ok(key)
}

impl Agent {
    /// After a sign-in with `pin`: a key under EnablePinRecovery whose recovery part was
    /// made under an older PIN-recovery key (the tenant rotated it), or that has none yet,
    /// gets a new part under the current key. Best effort: a failure keeps the old part,
    /// which opens until the old key's grace period ends.
    pub(crate) fn renew_recovery_at_signin(
        &self,
        device: &DeviceRecord,
        client: &ServiceClient,
        upn: &str,
        pin: &str,
        mut stored: crate::provider::StoredKey,
        hello: &dyn crate::provider::HelloSigner,
    ) {
        let Ok(policy) = self.policy_for(Some(upn)) else {
            return;
        };
        if !policy.enable_pin_recovery.value {
            return;
        }
        let Ok(Some(current)) = self.refresh_recovery_key(client) else {
            return;
        };
        let made_under = match &stored {
            crate::provider::StoredKey::Software(c) => {
                c.recovery.as_ref().map(|r| r.blob.recovery_key_id.clone())
            }
            crate::provider::StoredKey::Tpm(c) => {
                c.recovery.as_ref().map(|r| r.blob.recovery_key_id.clone())
            }
        };
        if made_under.as_deref() == Some(current.key_id.as_str()) {
            return;
        }
        if self
            .attach_recovery(
                device,
                upn,
                &mut stored,
                hello.software_key(),
                Some(pin),
                None,
            )
            .is_ok()
        {
            let _ = self.save_stored(&stored);
        }
    }

    /// Fetches the tenant's PIN-recovery public key and caches it; `None` (and the cache
    /// kept) from a service without PIN recovery.
    pub(crate) fn refresh_recovery_key(
        &self,
        client: &ServiceClient,
    ) -> Result<Option<PinRecoveryKey>, AgentError> {
        match client.pin_recovery_key() {
            Ok(key) => {
                if cached_key(&self.state)?.as_ref() != Some(&key) {
                    self.state.write_json(KEY_FILE, &key)?;
                }
                Ok(Some(key))
            }
            Err(e) if e.code() == "LK-REQ-004" => cached_key(&self.state),
            Err(e) => Err(e),
        }
    }

    /// Gives `stored` (a new or re-protected key of `upn`) its recovery part under the
    /// policy in force, or clears it when `EnablePinRecovery` is off or no PIN-recovery key is
    /// known: a software key needs the key itself (`software`), a TPM key the PIN just set
    /// (`pin`, for its authorisation value). `client` refreshes the tenant key first when
    /// given (setup, reset, sign-in); without it (a PIN change) the cached key is used.
    pub(crate) fn attach_recovery(
        &self,
        device: &DeviceRecord,
        upn: &str,
        stored: &mut crate::provider::StoredKey,
        software: Option<&HelloKey>,
        pin: Option<&str>,
        client: Option<&ServiceClient>,
    ) -> Result<(), AgentError> {
        let tenant_key = if self.policy_for(Some(upn))?.enable_pin_recovery.value {
            match client {
                Some(client) => self.refresh_recovery_key(client)?,
                None => cached_key(&self.state)?,
            }
        } else {
            None
        };
        let now = self.now();
        match stored {
            crate::provider::StoredKey::Software(c) => {
                let part = match (&tenant_key, software) {
                    (Some(k), Some(key)) => Some(make_part(device, upn, key, k, now)?),
                    _ => None,
                };
                c.set_recovery(part);
            }
            crate::provider::StoredKey::Tpm(c) => {
                c.recovery = match (&tenant_key, pin) {
                    (Some(k), Some(pin)) => Some(make_tpm_part(
                        device,
                        upn,
                        &c.key_id,
                        &c.auth_for(pin)?,
                        k,
                        now,
                    )?),
                    _ => None,
                };
            }
        }
        Ok(())
    }
}
