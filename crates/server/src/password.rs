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
