//! Time and randomness as handles: the service never reads the system clock or the OS RNG
//! ad hoc, so tests can drive expiry by moving a [`ManualClock`].

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time (UTC).
    fn now(&self) -> OffsetDateTime;

    /// The current time in whole seconds since the Unix epoch.
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to (for tests). Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync + 'static {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), ring::error::Unspecified>;
}

/// The operating system's CSPRNG (through ring).
#[derive(Debug)]
pub struct SystemRandom(ring::rand::SystemRandom);

impl SystemRandom {
    /// The system RNG.
    pub fn new() -> SystemRandom {
        SystemRandom(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandom {
    fn default() -> SystemRandom {
        SystemRandom::new()
    }
}

impl Random for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), ring::error::Unspecified> {
        ring::rand::SecureRandom::fill(&self.0, dest)
    }
}

/// The handles the service runs with.
#[derive(Clone)]
pub struct Env {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Random>,
}

impl Env {
    /// The production environment: system clock, system RNG.
    pub fn system() -> Env {
        Env {
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRandom::new()),
        }
    }

    /// `N` random bytes.
    pub fn random<const N: usize>(&self) -> Result<[u8; N], ring::error::Unspecified> {
        let mut out = [0u8; N];
        self.rng.fill(&mut out)?;
        Ok(out)
    }

    /// `N` bytes that sort by creation time: the clock in nanoseconds since the Unix epoch
    /// (8 bytes, big-endian), then `N - 8` random bytes.
    ///
    /// For keys of rows inserted on every sign-in (used nonces, primary refresh tokens): a
    /// random key lands on a random page of its index, so each sign-in dirtied pages of its
    /// own and the database wrote several pages per sign-in; keys that grow with time are
    /// appended to the same few pages. The random part keeps them unique and unguessable.
    pub fn time_ordered<const N: usize>(&self) -> Result<[u8; N], ring::error::Unspecified> {
        let mut out = self.random::<N>()?;
        let nanos = u64::try_from(self.clock.now().unix_timestamp_nanos()).unwrap_or(0);
        let prefix = nanos.to_be_bytes();
        for (byte, time) in out.iter_mut().zip(prefix) {
            *byte = time;
        }
        Ok(out)
    }

    /// A random (version 4) GUID.
    pub fn guid(&self) -> Result<uuid::Uuid, ring::error::Unspecified> {
        Ok(uuid::Builder::from_random_bytes(self.random::<16>()?).into_uuid())
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("now", &self.clock.now())
            .finish()
    }
}

/// Seconds as a [`Duration`] helper for lifetimes configured in seconds.
pub fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn time_ordered_bytes_sort_by_the_clock_and_stay_unique() -> Result<(), ring::error::Unspecified>
    {
        let clock = ManualClock::new(datetime!(2026-01-01 0:00 UTC));
        let env = Env {
            clock: Arc::new(clock.clone()),
            rng: Arc::new(SystemRandom::new()),
        };
        let first = env.time_ordered::<16>()?;
        let same_instant = env.time_ordered::<16>()?;
        clock.advance(Duration::nanoseconds(1));
        let later = env.time_ordered::<16>()?;
        assert_eq!(first[..8], same_instant[..8]);
        assert_ne!(first, same_instant, "the random part differs");
        assert!(later > first && later > same_instant);
        let nanos = datetime!(2026-01-01 0:00 UTC).unix_timestamp_nanos();
        let prefix: [u8; 8] = first[..8].try_into().unwrap_or_default();
        assert_eq!(Ok(u64::from_be_bytes(prefix)), u64::try_from(nanos));
        Ok(())
    }
}
