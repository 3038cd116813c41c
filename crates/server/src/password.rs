//! Password hashing with Argon2id (the argon2 crate's defaults: 19 MiB, 2 passes), and the
//! [`PasswordGate`] every verification runs through: a bound on how many run at once, so
//! that a burst of guesses cannot take the memory of the host (each holds 19 MiB).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Memory one Argon2id verification holds (the argon2 crate's default `m_cost`).
pub const MIB_PER_VERIFICATION: usize = 19;
/// The memory budget the default concurrency is derived from, MiB.
pub const DEFAULT_MEMORY_BUDGET_MIB: usize = 256;
/// At most this many verifications per core by default.
pub const PER_CORE: usize = 2;
/// How long a request waits for a verification slot before LK-AUTH-008, by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Hashes `password` with a 16-byte `salt`; returns the PHC string.
pub fn hash(password: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `stored`. Callers in the service go through
/// [`PasswordGate::verify`]; this is the bare computation.
pub fn verify(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The most memory an imported hash may ask for, KiB (64 MiB: what RFC 9106's second
/// recommended option and most exporting systems use). Higher would let one sign-in take
/// the memory budget of several (see [`PasswordGate`]).
pub const IMPORT_MAX_M_COST_KIB: u32 = 64 * 1024;
/// The most passes an imported hash may ask for.
pub const IMPORT_MAX_T_COST: u32 = 10;
/// The most lanes an imported hash may ask for.
pub const IMPORT_MAX_P_COST: u32 = 4;

/// Checks a password hash exported from another system (`latchkeyd user import`): a PHC
/// string of Argon2id version 19 with a salt of at least 8 bytes, an output of 16 to 64
/// bytes, and costs within the `IMPORT_MAX_*` bounds, so that a sign-in against it costs
/// no more than the service can bear. The message says what is wrong.
pub fn check_imported_hash(phc: &str) -> Result<(), String> {
    let parsed =
        PasswordHash::new(phc).map_err(|e| format!("not a PHC password hash string ({e})"))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "the hash is {}, not argon2id",
            parsed.algorithm.as_str()
        ));
    }
    if parsed.version != Some(0x13) {
        return Err("the hash is not Argon2 version 19 (v=19)".to_owned());
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|e| format!("the hash's parameters are not usable ({e})"))?;
    if params.m_cost() > IMPORT_MAX_M_COST_KIB {
        return Err(format!(
            "the hash asks for m={} KiB of memory (at most {IMPORT_MAX_M_COST_KIB})",
            params.m_cost()
        ));
    }
    if params.t_cost() > IMPORT_MAX_T_COST {
        return Err(format!(
            "the hash asks for t={} passes (at most {IMPORT_MAX_T_COST})",
            params.t_cost()
        ));
    }
    if params.p_cost() > IMPORT_MAX_P_COST {
        return Err(format!(
            "the hash asks for p={} lanes (at most {IMPORT_MAX_P_COST})",
            params.p_cost()
        ));
    }
    let salt_len = parsed
        .salt
        .map(|salt| {
            let mut buf = [0u8; 64];
            salt.decode_b64(&mut buf).map(<[u8]>::len).unwrap_or(0)
        })
        .unwrap_or(0);
    if salt_len < 8 {
        return Err("the hash's salt is missing or shorter than 8 bytes".to_owned());
    }
    match parsed.hash.map(|h| h.len()) {
        Some(16..=64) => Ok(()),
        _ => Err("the hash's output is missing or not 16 to 64 bytes".to_owned()),
    }
}

/// Spends the same work as a real verification, for unknown users, so that response time
/// does not reveal whether a UPN exists.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("dummy password", &[7u8; 16]).unwrap_or_default());
    let _ = verify(stored, password);
}

/// The default number of verifications that may run at once: the memory budget divided
/// by the memory of one, and never more than [`PER_CORE`] per core (at least 1).
pub fn default_concurrency(cores: usize) -> usize {
    (DEFAULT_MEMORY_BUDGET_MIB / MIB_PER_VERIFICATION)
        .min(cores.max(1) * PER_CORE)
        .max(1)
}

/// Why a verification did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// No slot became free within the wait bound (LK-AUTH-008).
    #[error("password verification is busy; retry in {retry_after_secs} s")]
    Busy {
        /// What to send in `Retry-After`.
        retry_after_secs: u64,
    },
    /// The blocking task failed.
    #[error("the password verification task failed")]
    TaskFailed,
}

/// Gauges of the gate (read by tests and diagnostics).
#[derive(Debug, Default)]
struct Gauges {
    running: AtomicUsize,
    peak: AtomicUsize,
    started: AtomicU64,
}

/// The one gate every password check of the service runs through (the API's
/// `/v1/auth/password`, the web sign-in form): a semaphore of `slots` permits, waited on at
/// most `wait`, and the Argon2 work on the blocking pool.
#[derive(Debug, Clone)]
pub struct PasswordGate {
    slots: Arc<Semaphore>,
    size: usize,
    wait: Duration,
    gauges: Arc<Gauges>,
}

impl PasswordGate {
    /// A gate of `slots` permits (at least 1), waiting at most `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> PasswordGate {
        let size = slots.max(1);
        PasswordGate {
            slots: Arc::new(Semaphore::new(size)),
            size,
            wait,
            gauges: Arc::default(),
        }
    }

    /// How many verifications may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Verifications running now.
    pub fn running(&self) -> usize {
        self.gauges.running.load(Ordering::SeqCst)
    }

    /// The most verifications that ever ran at once.
    pub fn peak(&self) -> usize {
        self.gauges.peak.load(Ordering::SeqCst)
    }

    /// Verifications started since the service started (real and dummy).
    pub fn started(&self) -> u64 {
        self.gauges.started.load(Ordering::SeqCst)
    }

    /// Checks `password` against `stored` (`None`: an unknown user, for whom the same work
    /// is spent on a dummy hash) once a slot is free.
    pub async fn verify(
        &self,
        stored: Option<String>,
        password: Zeroizing<String>,
    ) -> Result<bool, GateError> {
        let busy = GateError::Busy {
            retry_after_secs: self.wait.as_secs().max(1),
        };
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| busy)?
            .map_err(|_| busy)?;
        let gauges = self.gauges.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = gauges.running.fetch_add(1, Ordering::SeqCst) + 1;
            gauges.peak.fetch_max(now, Ordering::SeqCst);
            gauges.started.fetch_add(1, Ordering::SeqCst);
            let ok = match stored {
                Some(stored) => verify(&stored, &password),
                None => {
                    verify_dummy(&password);
                    false
                }
            };
            gauges.running.fetch_sub(1, Ordering::SeqCst);
            ok
        })
        .await
        .map_err(|_| GateError::TaskFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_with(alg: argon2::Algorithm, m: u32, t: u32, p: u32, salt: &[u8]) -> String {
        let params = argon2::Params::new(m, t, p, None).unwrap();
        let salt = SaltString::encode_b64(salt).unwrap();
        Argon2::new(alg, argon2::Version::V0x13, params)
            .hash_password(b"exported secret", &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_exported_hash_with_its_own_costs_is_accepted_and_verifies() {
        let other = hash_with(argon2::Algorithm::Argon2id, 8 * 1024, 3, 2, &[9u8; 16]);
        assert_eq!(check_imported_hash(&other), Ok(()));
        assert!(verify(&other, "exported secret"));
        assert!(!verify(&other, "exported secreT"));
        let ours = hash("x", &[1u8; 16]).unwrap();
        assert_eq!(check_imported_hash(&ours), Ok(()));
    }

    #[test]
    fn an_exported_hash_that_would_cost_too_much_or_is_not_argon2id_is_refused() {
        let big = format!(
            "$argon2id$v=19$m={},t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            IMPORT_MAX_M_COST_KIB + 1
        );
        assert!(check_imported_hash(&big).unwrap_err().contains("m="));
        let slow = "$argon2id$v=19$m=1024,t=11,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(check_imported_hash(slow).unwrap_err().contains("t=11"));
        let wide = "$argon2id$v=19$m=1024,t=1,p=5$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(check_imported_hash(wide).unwrap_err().contains("p=5"));
        let argon2i = hash_with(argon2::Algorithm::Argon2i, 1024, 1, 1, &[9u8; 16]);
        assert!(check_imported_hash(&argon2i)
            .unwrap_err()
            .contains("argon2i"));
        let old = "$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(check_imported_hash(old).unwrap_err().contains("v=19"));
        let salty = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(check_imported_hash(salty).unwrap_err().contains("salt"));
        let short = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA";
        assert!(check_imported_hash(short).is_err());
        for junk in [
            "",
            "plaintext",
            "$2b$12$abcdefghijklmnopqrstuu",
            "$argon2id$",
        ] {
            assert!(check_imported_hash(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn round_trip() -> Result<(), String> {
        let stored = hash("correct horse", &[1u8; 16])?;
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong"));
        assert!(!verify("not a hash", "x"));
        Ok(())
    }

    #[test]
    fn default_concurrency_follows_memory_and_cores() {
        assert_eq!(default_concurrency(1), 2);
        assert_eq!(default_concurrency(2), 4);
        assert_eq!(default_concurrency(64), 256 / 19);
        assert_eq!(default_concurrency(0), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_gate_answers_busy_after_the_wait() {
        let gate = PasswordGate::new(1, Duration::from_millis(1));
        let held = gate.slots.clone().acquire_owned().await;
        assert!(held.is_ok());
        let err = gate.verify(None, Zeroizing::new("x".into())).await;
        assert_eq!(
            err,
            Err(GateError::Busy {
                retry_after_secs: 1
            })
        );
        assert_eq!(gate.started(), 0, "nothing ran");
    }
}
