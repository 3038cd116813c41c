//! `latchkey hello pin change` and PIN expiration (PINComplexity/History and Expiration).

use latchkey_policy::EffectivePolicy;

use crate::agent::Agent;
use crate::container::Container;
use crate::error::AgentError;
use crate::ops_setup::check_pin;
use crate::pin_history::PinHistory;
use crate::provider::StoredKey;
use crate::records::DeviceRecord;
use crate::status::rfc3339;

/// The result of a PIN change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChanged {
    /// The user.
    pub upn: String,
    /// The key id, unchanged by the change.
    pub key_id: String,
}

/// Fails with [`AgentError::PinExpired`] when `container`'s PIN is older than the policy's
/// PINComplexity/Expiration at `now`.
pub fn check_expiry(
    container: &Container,
    policy: &EffectivePolicy,
    now: i64,
) -> Result<(), AgentError> {
    check_expiry_at(&container.upn, container.pin_set_at, policy, now)
}

/// [`check_expiry`] for `upn`'s PIN set at `pin_set_at` (any provider).
pub fn check_expiry_at(
    upn: &str,
    pin_set_at: i64,
    policy: &EffectivePolicy,
    now: i64,
) -> Result<(), AgentError> {
    let rules = &policy.pin;
    match rules.max_age_seconds() {
        Some(age) if rules.is_expired(pin_set_at, now) => Err(AgentError::PinExpired {
            upn: upn.to_owned(),
            days: rules.expiration_days.value,
            expired_on: rfc3339(pin_set_at.saturating_add(age)),
        }),
        _ => Ok(()),
    }
}

impl Agent {
    /// Changes `upn`'s PIN from `old_pin` to `new_pin`: the new PIN must follow the PIN
    /// rules in force and not be one of the last PINs the history policy remembers; the
    /// private key is re-protected under the new PIN and keeps its key id (the registration
    /// is unchanged). A wrong old PIN counts toward the lockout like a wrong sign-in.
    /// Recorded: event 330, or 331 when it failed.
    pub fn change_pin(
        &self,
        upn: &str,
        old_pin: &str,
        new_pin: &str,
    ) -> Result<PinChanged, AgentError> {
        let done = self.change_pin_unrecorded(upn, old_pin, new_pin);
        let mut data = vec![("UPN".to_owned(), upn.to_owned())];
        match &done {
            Ok(changed) => {
                data.push(("KeyId".to_owned(), changed.key_id.clone()));
                self.note(
                    crate::events::id::PIN_CHANGED,
                    "Information",
                    "The PIN was changed",
                    data,
                );
            }
            Err(AgentError::NotJoined) => {}
            Err(e) => {
                data.extend(crate::events::failure_data(e));
                self.note(
                    crate::events::id::PIN_CHANGE_FAILED,
                    "Warning",
                    "The PIN change failed",
                    data,
                );
            }
        }
        done
    }

    fn change_pin_unrecorded(
        &self,
        upn: &str,
        old_pin: &str,
        new_pin: &str,
    ) -> Result<PinChanged, AgentError> {
        DeviceRecord::require(&self.state)?;
        let mut stored = self
            .stored_key(upn)?
            .ok_or_else(|| AgentError::NotProvisioned {
                upn: upn.to_owned(),
            })?;
        let policy = self.policy_for(Some(upn))?;
        check_pin(new_pin, &policy)?;
        let before = stored.clone();
        let unlocked = self.provider.unlock(&mut stored, old_pin, self.now());
        if stored != before {
            self.save_stored(&stored)?;
        }
        unlocked?;
        let history_depth = policy.pin.history.value;
        let mut history = PinHistory::load(&self.state, upn)?;
        history.check(history_depth, old_pin, new_pin)?;
        let key_id = stored.key_id().to_owned();
        self.provider
            .change_pin(&mut stored, old_pin, new_pin, self.now())?;
        if stored.key_id() != key_id {
            return Err(AgentError::Crypto(
                "the key provider changed the key during a PIN change".to_owned(),
            ));
        }
        // Under EnablePinRecovery every PIN change makes a new recovery part (with the tenant
        // key cached at setup: this works offline). A software key is unlocked once more for
        // its wrap; a TPM key's part seals its new authorisation value.
        let device = DeviceRecord::require(&self.state)?;
        let software = match &stored {
            StoredKey::Software(c) if policy.enable_pin_recovery.value => {
                Some(c.clone().unlock(new_pin, self.now())?)
            }
            _ => None,
        };
        self.attach_recovery(
            &device,
            upn,
            &mut stored,
            software.as_ref(),
            Some(new_pin),
            None,
        )?;
        // The new form replaces the old one atomically (written to a temporary file and
        // renamed): for a TPM key the old blob, which still opens with the old PIN on
        // this TPM, is no longer in the state directory.
        self.save_stored(&stored)?;
        let kdf = match &stored {
            StoredKey::Software(c) => c.kdf,
            StoredKey::Tpm(_) => self.provider.history_kdf(),
        };
        history.upn = upn.to_owned();
        history.retire(history_depth, old_pin, kdf, self.now())?;
        history.save(&self.state)?;
        Ok(PinChanged {
            upn: upn.to_owned(),
            key_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock};
    use crate::container::KdfParams;
    use crate::hello_key::HelloKey;

    fn policy_expiring(days: u32) -> EffectivePolicy {
        let mut p = EffectivePolicy::default();
        p.pin.expiration_days.value = days;
        p.pin.expiration_days.source = latchkey_policy::Source::DeviceCsp;
        p
    }

    #[test]
    fn a_pin_expires_after_the_policy_lifetime_on_the_agent_clock() {
        let clock = FixedClock::at(1_000_000);
        let key = HelloKey::generate().unwrap();
        let kdf = KdfParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
        };
        let c = Container::seal("a@x", &key, "1234", kdf, clock.now()).unwrap();
        let p = policy_expiring(30);
        check_expiry(&c, &p, clock.now()).unwrap();
        clock.advance(30 * 86_400 - 1);
        check_expiry(&c, &p, clock.now()).unwrap();
        clock.advance(1);
        let err = check_expiry(&c, &p, clock.now()).unwrap_err();
        assert_eq!(err.code(), "LK-PIN-006");
        assert!(
            err.to_string().contains("latchkey hello pin change"),
            "{err}"
        );
        assert!(err.to_string().contains("30 days"));
        // Expiration 0: never.
        clock.advance(10_000 * 86_400);
        check_expiry(&c, &EffectivePolicy::default(), clock.now()).unwrap();
    }
}
