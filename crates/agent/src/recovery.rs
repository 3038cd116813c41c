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
    /// After a sign-in: a software key under EnablePinRecovery whose recovery part was made
    /// under an older PIN-recovery key (the tenant rotated it), or that has none yet, gets a
    /// new part under the current key. Best effort: a failure keeps the old part, which
    /// opens until the old key's grace period ends.
    pub(crate) fn renew_recovery_at_signin(
        &self,
        device: &DeviceRecord,
        client: &ServiceClient,
        upn: &str,
        stored: crate::provider::StoredKey,
        hello: &dyn crate::provider::HelloSigner,
    ) {
        let (crate::provider::StoredKey::Software(mut container), Some(key)) =
            (stored, hello.software_key())
        else {
            return;
        };
        let Ok(policy) = self.policy_for(Some(upn)) else {
            return;
        };
        if !policy.enable_pin_recovery.value {
            return;
        }
        let Ok(Some(current)) = self.refresh_recovery_key(client) else {
            return;
        };
        if container
            .recovery
            .as_ref()
            .is_some_and(|r| r.blob.recovery_key_id == current.key_id)
        {
            return;
        }
        if let Ok(part) = make_part(device, upn, key, &current, self.now()) {
            container.set_recovery(Some(part));
            let _ = self.save_stored(&crate::provider::StoredKey::Software(container));
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

    /// The recovery part a new or re-protected software key of `upn` gets under the policy
    /// in force: `None` when `EnablePinRecovery` is off or no PIN-recovery key is known.
    /// `client` refreshes the key first when given (setup, reset); without it (a PIN
    /// change) the cached key is used.
    pub(crate) fn recovery_part_for(
        &self,
        device: &DeviceRecord,
        upn: &str,
        key: &HelloKey,
        client: Option<&ServiceClient>,
    ) -> Result<Option<RecoveryPart>, AgentError> {
        if !self.policy_for(Some(upn))?.enable_pin_recovery.value {
            return Ok(None);
        }
        let tenant_key = match client {
            Some(client) => self.refresh_recovery_key(client)?,
            None => cached_key(&self.state)?,
        };
        tenant_key
            .map(|k| make_part(device, upn, key, &k, self.now()))
            .transpose()
    }
}
