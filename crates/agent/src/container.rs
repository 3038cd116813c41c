//! The Hello container: a user's private key on this device, protected by the PIN.
//!
//! The software provider wraps the PKCS#8 private key with AES-256-GCM under a protector key
//! derived from the PIN with Argon2id; the salt and cost parameters are stored beside the
//! ciphertext so they can be raised later without breaking old containers. The additional
//! authenticated data binds the ciphertext to the user and key id, so a container cannot be
//! relabelled. Wrong PINs are counted in the container itself; after [`MAX_TRIES`] failures
//! tries are refused for a delay that doubles with every further failure.
//!
//! A stolen software container can be attacked offline (copying the file also copies the
//! counter): only a TPM, whose lockout the attacker cannot reset, resists that.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use latchkey_proto::b64;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::AgentError;
use crate::hello_key::HelloKey;

/// Wrong PINs accepted before the lockout delay begins.
pub const MAX_TRIES: u32 = 5;
/// The first lockout delay in seconds; it doubles with every further failure.
pub const FIRST_LOCKOUT_SECS: i64 = 60;
/// The longest lockout delay.
pub const MAX_LOCKOUT_SECS: i64 = 24 * 3600;

const AAD_DOMAIN: &str = "latchkey-container-v1";

/// Argon2id cost parameters, stored with each container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about a quarter of a second per guess on a laptop core.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

/// The wrong-PIN counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    /// Consecutive wrong PINs.
    pub failures: u32,
    /// No try is accepted before this time (seconds since the epoch); 0 when not locked.
    pub locked_until: i64,
}

/// A PIN-protected Hello key, as stored in `hello/<upn>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Format version (1).
    pub version: u32,
    /// The user.
    pub upn: String,
    /// Key id (hex SHA-256 of the public blob).
    pub key_id: String,
    /// Which key provider made it (`software`).
    pub provider: String,
    /// When the key was registered (seconds since the epoch).
    pub created_at: i64,
    /// When the current PIN was set.
    pub pin_set_at: i64,
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// Argon2id salt (base64url).
    pub salt: String,
    /// AES-GCM nonce (base64url).
    pub nonce: String,
    /// The wrapped PKCS#8 private key (base64url).
    pub wrapped_key: String,
    /// The wrong-PIN counter.
    pub lockout: Lockout,
}

pub(crate) fn derive(
    pin: &str,
    salt: &[u8],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, AgentError> {
    let params = Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32))
        .map_err(|e| AgentError::Crypto(format!("Argon2 parameters: {e}")))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, out.as_mut())
        .map_err(|e| AgentError::Crypto(format!("Argon2: {e}")))?;
    Ok(out)
}

fn aad(upn: &str, key_id: &str) -> Vec<u8> {
    format!("{AAD_DOMAIN}\0{upn}\0{key_id}").into_bytes()
}

impl Container {
    /// Wraps `key` for `upn` under `pin`.
    pub fn seal(
        upn: &str,
        key: &HelloKey,
        pin: &str,
        kdf: KdfParams,
        now: i64,
    ) -> Result<Container, AgentError> {
        let key_id = key.key_id();
        let (salt, nonce, wrapped) = wrap(upn, &key_id, key, pin, kdf)?;
        Ok(Container {
            version: 1,
            upn: upn.to_owned(),
            key_id,
            provider: "software".to_owned(),
            created_at: now,
            pin_set_at: now,
            kdf,
            salt,
            nonce,
            wrapped_key: wrapped,
            lockout: Lockout::default(),
        })
    }

    /// Whether tries are refused at `now`, and for how many more seconds.
    pub fn locked_for(&self, now: i64) -> Option<i64> {
        (self.lockout.failures >= MAX_TRIES && now < self.lockout.locked_until)
            .then(|| self.lockout.locked_until - now)
    }

    /// Tries `pin`. On a wrong PIN the counter in `self` is updated (the caller stores the
    /// container) and [`AgentError::WrongPin`] returned; while locked, the PIN is not even
    /// tried and [`AgentError::PinLocked`] is returned. A right PIN resets the counter.
    pub fn unlock(&mut self, pin: &str, now: i64) -> Result<HelloKey, AgentError> {
        if let Some(wait_seconds) = self.locked_for(now) {
            return Err(AgentError::PinLocked { wait_seconds });
        }
        match self.open(pin)? {
            Some(key) => {
                self.lockout = Lockout::default();
                Ok(key)
            }
            None => {
                self.lockout.failures = self.lockout.failures.saturating_add(1);
                if self.lockout.failures >= MAX_TRIES {
                    let doublings = (self.lockout.failures - MAX_TRIES).min(20);
                    let delay = (FIRST_LOCKOUT_SECS << doublings).min(MAX_LOCKOUT_SECS);
                    self.lockout.locked_until = now.saturating_add(delay);
                }
                Err(AgentError::WrongPin {
                    remaining: MAX_TRIES.saturating_sub(self.lockout.failures),
                })
            }
        }
    }

    /// Decrypts with `pin`: `Ok(None)` when the PIN is wrong, `Err` when the container is
    /// damaged.
    fn open(&self, pin: &str) -> Result<Option<HelloKey>, AgentError> {
        let corrupt = |reason: &str| AgentError::CorruptState {
            path: format!("the container of {}", self.upn),
            reason: reason.to_owned(),
        };
        let salt = b64::decode("salt", &self.salt).map_err(|_| corrupt("bad salt"))?;
        let nonce = b64::decode("nonce", &self.nonce).map_err(|_| corrupt("bad nonce"))?;
        let wrapped =
            b64::decode("wrapped_key", &self.wrapped_key).map_err(|_| corrupt("bad key"))?;
        if nonce.len() != 12 {
            return Err(corrupt("bad nonce length"));
        }
        let protector = derive(pin, &salt, self.kdf)?;
        let cipher = Aes256Gcm::new_from_slice(protector.as_ref())
            .map_err(|e| AgentError::Crypto(e.to_string()))?;
        let aad = aad(&self.upn, &self.key_id);
        let Ok(plain) = cipher.decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &wrapped,
                aad: &aad,
            },
        ) else {
            return Ok(None);
        };
        let plain = Zeroizing::new(plain);
        let key = HelloKey::from_pkcs8(&plain)?;
        if key.key_id() != self.key_id {
            return Err(corrupt("the key does not match its key id"));
        }
        Ok(Some(key))
    }

    /// Re-wraps the same key under `new_pin` (PIN change): the key, and so the registration,
    /// is unchanged.
    pub fn rewrap(&mut self, key: &HelloKey, new_pin: &str, now: i64) -> Result<(), AgentError> {
        let (salt, nonce, wrapped) = wrap(&self.upn, &self.key_id, key, new_pin, self.kdf)?;
        self.salt = salt;
        self.nonce = nonce;
        self.wrapped_key = wrapped;
        self.pin_set_at = now;
        self.lockout = Lockout::default();
        Ok(())
    }
}

fn wrap(
    upn: &str,
    key_id: &str,
    key: &HelloKey,
    pin: &str,
    kdf: KdfParams,
) -> Result<(String, String, String), AgentError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let protector = derive(pin, &salt, kdf)?;
    let cipher = Aes256Gcm::new_from_slice(protector.as_ref())
        .map_err(|e| AgentError::Crypto(e.to_string()))?;
    let der = key.to_pkcs8()?;
    let aad = aad(upn, key_id);
    let wrapped = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: der.as_slice(),
                aad: &aad,
            },
        )
        .map_err(|e| AgentError::Crypto(format!("AES-GCM: {e}")))?;
    Ok((b64::encode(salt), b64::encode(nonce), b64::encode(wrapped)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        m_cost_kib: 1024,
        t_cost: 1,
        p_cost: 1,
    };

    fn sealed() -> (HelloKey, Container) {
        let key = HelloKey::generate().unwrap();
        let c = Container::seal("a@example.com", &key, "123456", FAST, 1000).unwrap();
        (key, c)
    }

    #[test]
    fn the_right_pin_unlocks_and_a_wrong_one_counts_to_a_growing_lockout() {
        let (key, mut c) = sealed();
        assert_eq!(c.unlock("123456", 1000).unwrap().key_id(), key.key_id());
        for i in 1..=MAX_TRIES {
            let err = c.unlock("000000", 1000).unwrap_err();
            assert_eq!(err.code(), "LK-PIN-001", "try {i}");
        }
        // Locked: even the right PIN is refused, without being tried.
        let err = c.unlock("123456", 1001).unwrap_err();
        assert_eq!(err.code(), "LK-PIN-002");
        assert!(matches!(err, AgentError::PinLocked { wait_seconds: 59 }));
        // After the delay one more try is allowed; failing it doubles the delay.
        assert_eq!(c.unlock("000000", 1060).unwrap_err().code(), "LK-PIN-001");
        assert_eq!(c.lockout.locked_until, 1060 + 120);
        assert_eq!(c.unlock("123456", 1179).unwrap_err().code(), "LK-PIN-002");
        assert!(c.unlock("123456", 1180).is_ok());
        assert_eq!(
            c.lockout,
            Lockout::default(),
            "a right PIN resets the counter"
        );
    }

    #[test]
    fn the_container_is_bound_to_its_user_and_survives_json() {
        let (_, c) = sealed();
        let json = serde_json::to_string(&c).unwrap();
        let mut back: Container = serde_json::from_str(&json).unwrap();
        assert!(back.unlock("123456", 0).is_ok());
        let mut relabelled = c.clone();
        relabelled.upn = "mallory@example.com".into();
        assert_eq!(
            relabelled.unlock("123456", 0).unwrap_err().code(),
            "LK-PIN-001",
            "the AAD binds the user: the right PIN no longer opens it"
        );
        let mut damaged = c;
        damaged.nonce = "!!".into();
        assert_eq!(
            damaged.unlock("123456", 0).unwrap_err().code(),
            "LK-AGENT-003"
        );
    }

    #[test]
    fn a_pin_change_keeps_the_key_and_retires_the_old_pin() {
        let (key, mut c) = sealed();
        let unlocked = c.unlock("123456", 0).unwrap();
        c.rewrap(&unlocked, "654321", 50).unwrap();
        assert_eq!(c.pin_set_at, 50);
        assert_eq!(c.unlock("654321", 60).unwrap().key_id(), key.key_id());
        assert_eq!(c.unlock("123456", 60).unwrap_err().code(), "LK-PIN-001");
    }
}
