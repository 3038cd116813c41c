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
//!
//! Read defensively: the Argon2id parameters must lie within [`KdfParams::check`]'s fixed
//! bounds (a file asking for 4 GiB or a million passes is refused before any work), the
//! format version must be known (1, or 2 which adds the header check), and version 2 carries
//! `integrity`, a SHA-256 over every field but the counter. The check is not derived from the
//! PIN, so a damaged user, key id, parameter, salt, nonce or ciphertext is reported as
//! damage (LK-STATE-007) and does not count as a wrong PIN. It is a checksum, not a MAC: it
//! tells damage from a wrong PIN; it cannot stop someone who can rewrite the file (they can
//! also reset the counter; the AES-GCM tag still keeps them from a working key without the
//! PIN).

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
const INTEGRITY_DOMAIN: &str = "latchkey-container-header-v2";

/// The format version of new containers (2: with the header integrity check).
pub const CONTAINER_VERSION: u32 = 2;

/// Argon2id memory bounds in KiB (64 KiB to 256 MiB).
pub const KDF_MEMORY_KIB: std::ops::RangeInclusive<u32> = 64..=256 * 1024;
/// Argon2id pass bounds.
pub const KDF_PASSES: std::ops::RangeInclusive<u32> = 1..=10;
/// Argon2id lane bounds.
pub const KDF_LANES: std::ops::RangeInclusive<u32> = 1..=4;

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

impl KdfParams {
    /// Checks the parameters against the fixed bounds ([`KDF_MEMORY_KIB`], [`KDF_PASSES`],
    /// [`KDF_LANES`]) before any work is done; `what` names the file for the error.
    pub fn check(&self, what: &str) -> Result<(), AgentError> {
        let out = |detail: String| {
            Err(AgentError::KdfOutOfBounds {
                what: what.to_owned(),
                detail,
            })
        };
        if !KDF_MEMORY_KIB.contains(&self.m_cost_kib) {
            return out(format!(
                "memory {} KiB, accepted {} to {} KiB",
                self.m_cost_kib,
                KDF_MEMORY_KIB.start(),
                KDF_MEMORY_KIB.end()
            ));
        }
        if !KDF_PASSES.contains(&self.t_cost) {
            return out(format!(
                "{} passes, accepted {} to {}",
                self.t_cost,
                KDF_PASSES.start(),
                KDF_PASSES.end()
            ));
        }
        if !KDF_LANES.contains(&self.p_cost) {
            return out(format!(
                "{} lanes, accepted {} to {}",
                self.p_cost,
                KDF_LANES.start(),
                KDF_LANES.end()
            ));
        }
        Ok(())
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
    /// Format version: 2 (1: before the header check; still read, upgraded on unlock).
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
    /// Version 2: hex SHA-256 over every field but `lockout` (not derived from the PIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
    /// The PIN-recovery part (`EnablePinRecovery`): the key wrapped under a recovery secret
    /// and that secret sealed to the tenant's PIN-recovery key (`docs/pin-reset.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<crate::recovery::RecoveryPart>,
}

pub(crate) fn derive(
    pin: &str,
    salt: &[u8],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, AgentError> {
    kdf.check("the stored Argon2id parameters")?;
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
        let mut container = Container {
            version: CONTAINER_VERSION,
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
            integrity: None,
            recovery: None,
        };
        container.integrity = Some(container.header_digest());
        Ok(container)
    }

    /// Sets (or clears) the recovery part and renews the header check over it.
    pub fn set_recovery(&mut self, recovery: Option<crate::recovery::RecoveryPart>) {
        self.recovery = recovery;
        if self.version == CONTAINER_VERSION {
            self.integrity = Some(self.header_digest());
        }
    }

    /// The header check: hex SHA-256 over every field but the counter and the check itself.
    fn header_digest(&self) -> String {
        use sha2::Digest;
        let mut header = serde_json::json!([
            INTEGRITY_DOMAIN,
            self.version,
            self.upn,
            self.key_id,
            self.provider,
            self.created_at,
            self.pin_set_at,
            [self.kdf.m_cost_kib, self.kdf.t_cost, self.kdf.p_cost],
            self.salt,
            self.nonce,
            self.wrapped_key,
        ]);
        // A container without a recovery part keeps the digest it had before the part
        // existed.
        if let (Some(r), Some(items)) = (&self.recovery, header.as_array_mut()) {
            items.push(serde_json::json!([
                r.blob.recovery_key_id,
                r.blob.enc,
                r.blob.ciphertext,
                r.wrap_nonce,
                r.wrapped_key,
                r.made_at,
            ]));
        }
        hex::encode(sha2::Sha256::digest(header.to_string().as_bytes()))
    }

    /// Checks what can be checked without the PIN: a known version, the header check
    /// (version 2) and the Argon2id bounds. `path` names the file for errors.
    pub fn validate(&self, path: &str) -> Result<(), AgentError> {
        match (self.version, &self.integrity) {
            (1, None) => {}
            (1, Some(_)) => {
                return Err(AgentError::ContainerDamaged {
                    upn: self.upn.clone(),
                    reason: "a version 1 container carries a version 2 header check".into(),
                })
            }
            (CONTAINER_VERSION, Some(stored)) => {
                // A checksum of public fields, not a secret: a plain comparison is fine.
                if *stored != self.header_digest() {
                    return Err(AgentError::ContainerDamaged {
                        upn: self.upn.clone(),
                        reason: "the header check does not match its user, key id, parameters or ciphertext".into(),
                    });
                }
            }
            (CONTAINER_VERSION, None) => {
                return Err(AgentError::ContainerDamaged {
                    upn: self.upn.clone(),
                    reason: "the header check is missing".into(),
                })
            }
            (version, _) => {
                return Err(AgentError::UnknownVersion {
                    path: path.to_owned(),
                    version,
                    known: "1 and 2",
                })
            }
        }
        self.kdf.check(&format!("the container of {}", self.upn))
    }
    /// Whether tries are refused at `now`, and for how many more seconds.
    pub fn locked_for(&self, now: i64) -> Option<i64> {
        (self.lockout.failures >= MAX_TRIES && now < self.lockout.locked_until)
            .then(|| self.lockout.locked_until - now)
    }

    /// Tries `pin`. On a wrong PIN the counter in `self` is updated (the caller stores the
    /// container) and [`AgentError::WrongPin`] returned; while locked, the PIN is not even
    /// tried and [`AgentError::PinLocked`] is returned. A right PIN resets the counter.
    ///
    /// A container that fails [`Container::validate`] is refused before the PIN is tried,
    /// and nothing is counted. A version 1 container is upgraded to version 2 when the right
    /// PIN opens it (the AES-GCM tag has then vouched for its user and key id).
    pub fn unlock(&mut self, pin: &str, now: i64) -> Result<HelloKey, AgentError> {
        self.validate(&format!("the container of {}", self.upn))?;
        if let Some(wait_seconds) = self.locked_for(now) {
            return Err(AgentError::PinLocked { wait_seconds });
        }
        match self.open(pin)? {
            Some(key) => {
                self.lockout = Lockout::default();
                if self.version == 1 {
                    self.version = CONTAINER_VERSION;
                    self.integrity = Some(self.header_digest());
                }
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
        self.version = CONTAINER_VERSION;
        self.integrity = Some(self.header_digest());
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
            "LK-STATE-007",
            "a relabelled container is damage, told apart from a wrong PIN"
        );
        assert_eq!(relabelled.lockout, Lockout::default(), "no try counted");
        // Relabelled with a matching header check (someone who can rewrite the file): the
        // AAD still binds the user, the right PIN no longer opens it.
        relabelled.integrity = Some(relabelled.header_digest());
        assert_eq!(
            relabelled.unlock("123456", 0).unwrap_err().code(),
            "LK-PIN-001"
        );
        let mut damaged = c;
        damaged.nonce = "!!".into();
        assert_eq!(
            damaged.unlock("123456", 0).unwrap_err().code(),
            "LK-STATE-007"
        );
        damaged.integrity = Some(damaged.header_digest());
        assert_eq!(
            damaged.unlock("123456", 0).unwrap_err().code(),
            "LK-AGENT-003",
            "past the header check, an undecodable nonce is still corrupt state"
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

    #[test]
    fn kdf_parameters_outside_the_bounds_are_refused_before_any_work() {
        let (_, c) = sealed();
        for (kdf, what) in [
            (
                KdfParams {
                    m_cost_kib: 4 * 1024 * 1024,
                    ..FAST
                },
                "memory 4194304 KiB",
            ),
            (
                KdfParams {
                    t_cost: 1_000_000,
                    ..FAST
                },
                "1000000 passes",
            ),
            (KdfParams { p_cost: 64, ..FAST }, "64 lanes"),
            (
                KdfParams {
                    m_cost_kib: 0,
                    ..FAST
                },
                "memory 0 KiB",
            ),
        ] {
            let mut hostile = c.clone();
            hostile.kdf = kdf;
            // Even with a matching header check (a crafted file), nothing is derived.
            hostile.integrity = Some(hostile.header_digest());
            let started = std::time::Instant::now();
            let err = hostile.unlock("123456", 0).unwrap_err();
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
            assert_eq!(err.code(), "LK-STATE-005", "{what}");
            assert!(err.to_string().contains(what), "{err}");
            assert_eq!(hostile.lockout, Lockout::default(), "no try counted");
            // A PIN history with such parameters is refused alike (derive checks too).
            assert_eq!(
                derive("123456", b"salt-salt-salt", kdf).unwrap_err().code(),
                "LK-STATE-005"
            );
        }
    }

    #[test]
    fn an_unknown_version_is_refused() {
        let (_, c) = sealed();
        for version in [0, 3, 99] {
            let mut future = c.clone();
            future.version = version;
            let err = future.unlock("123456", 0).unwrap_err();
            assert_eq!(err.code(), "LK-STATE-006", "version {version}");
            assert_eq!(future.lockout, Lockout::default());
        }
    }

    #[test]
    fn a_damaged_key_id_upn_or_ciphertext_is_damage_not_a_wrong_pin() {
        let (_, c) = sealed();
        let mut damaged = Vec::new();
        let mut k = c.clone();
        // Another first byte than the key's own (a random key id starts with 00 once in 256).
        let prefix = if k.key_id.starts_with("00") {
            "ff"
        } else {
            "00"
        };
        k.key_id.replace_range(0..2, prefix);
        damaged.push(k);
        let mut u = c.clone();
        u.upn = "b@example.com".into();
        damaged.push(u);
        let mut w = c.clone();
        let other = if w.wrapped_key.get(4..5) == Some("A") {
            "B"
        } else {
            "A"
        };
        w.wrapped_key.replace_range(4..5, other);
        damaged.push(w);
        let mut n = c.clone();
        n.integrity = None;
        damaged.push(n);
        for mut d in damaged {
            for _ in 0..(MAX_TRIES + 2) {
                assert_eq!(d.unlock("123456", 0).unwrap_err().code(), "LK-STATE-007");
            }
            assert_eq!(d.lockout, Lockout::default(), "no try counted");
            assert!(d.locked_for(0).is_none());
        }
        // A wrong PIN on an intact container still counts.
        let mut intact = c;
        assert_eq!(intact.unlock("000000", 0).unwrap_err().code(), "LK-PIN-001");
        assert_eq!(intact.lockout.failures, 1);
    }

    #[test]
    fn a_version_1_container_still_opens_and_is_upgraded() {
        let (key, c) = sealed();
        let mut old = c.clone();
        old.version = 1;
        old.integrity = None;
        assert_eq!(old.unlock("000000", 0).unwrap_err().code(), "LK-PIN-001");
        assert_eq!(old.version, 1, "not upgraded on a wrong PIN");
        assert_eq!(old.unlock("123456", 0).unwrap().key_id(), key.key_id());
        assert_eq!(old.version, CONTAINER_VERSION);
        assert!(old.validate("x").is_ok());
        let mut forged = c;
        forged.version = 1;
        assert_eq!(
            forged.unlock("123456", 0).unwrap_err().code(),
            "LK-STATE-007"
        );
    }
}
