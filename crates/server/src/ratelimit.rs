//! Failed sign-in throttling ("smart lockout"), in memory and driven by the service clock.
//!
//! An attempt (a password, a password and a one-time code) first takes a [`Reservation`]:
//! it counts at once, while it runs, so a burst of parallel guesses is limited as it
//! arrives. A failed attempt turns its reservation into a failure; a successful one
//! releases it (and makes the source familiar for the user); an attempt that ends
//! otherwise (an internal error, a client that went away) releases it too.
//!
//! Budgets, each over a sliding [`WINDOW_SECS`] window, reservations included:
//! - [`PER_PAIR`] per (user, source address);
//! - [`PER_SOURCE`] per source address, whatever the user;
//! - [`PER_USER_UNFAMILIAR`] per user, over all sources where the user has not signed in
//!   successfully in the last [`FAMILIAR_SECS`]. A familiar source is not counted there and
//!   not refused by it, so strangers' failures cannot lock a user out of where they
//!   usually sign in.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] counters (stale ones are swept; when full,
//! attempts that would need a new counter are refused unless the source is familiar) and
//! [`FAMILIAR_PER_USER`] familiar sources for at most [`MAX_FAMILIAR_USERS`] users.
//! Everything here is lost on restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Failures (and attempts in flight) allowed per (user, source address) in the window.
pub const PER_PAIR: usize = 5;
/// Failures (and attempts in flight) allowed per source address in the window.
pub const PER_SOURCE: usize = 20;
/// Failures (and attempts in flight) allowed per user from unfamiliar sources in the window.
pub const PER_USER_UNFAMILIAR: usize = 25;
/// The window, in seconds (15 minutes).
pub const WINDOW_SECS: i64 = 15 * 60;
/// A source stays familiar this long after the user's last successful sign-in from it.
pub const FAMILIAR_SECS: i64 = 30 * 24 * 3600;
/// Familiar sources remembered per user (the most recent ones).
pub const FAMILIAR_PER_USER: usize = 8;
/// Users whose familiar sources are remembered.
pub const MAX_FAMILIAR_USERS: usize = 50_000;
/// Counters tracked at most.
pub const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, String),
    Source(String),
    User(String),
}

impl Key {
    fn limit(&self) -> usize {
        match self {
            Key::Pair(..) => PER_PAIR,
            Key::Source(_) => PER_SOURCE,
            Key::User(_) => PER_USER_UNFAMILIAR,
        }
    }
}

#[derive(Debug, Default)]
struct Counter {
    failures: VecDeque<i64>,
    in_flight: usize,
}

impl Counter {
    fn load(&mut self, now: i64) -> usize {
        while self
            .failures
            .front()
            .is_some_and(|t| *t <= now - WINDOW_SECS)
        {
            self.failures.pop_front();
        }
        self.failures.len() + self.in_flight
    }

    fn live(&self, now: i64) -> bool {
        self.in_flight > 0 || self.failures.back().is_some_and(|t| *t > now - WINDOW_SECS)
    }
}

#[derive(Debug, Default)]
struct Inner {
    counters: HashMap<Key, Counter>,
    /// Per user: (source, last successful sign-in), most recent last.
    familiar: HashMap<String, VecDeque<(String, i64)>>,
    /// When the counters were last swept.
    last_sweep: i64,
}

impl Inner {
    fn is_familiar(&self, upn: &str, source: &str, now: i64) -> bool {
        self.familiar.get(upn).is_some_and(|sources| {
            sources
                .iter()
                .any(|(s, at)| s == source && *at > now - FAMILIAR_SECS)
        })
    }

    fn remember(&mut self, upn: &str, source: &str, now: i64) {
        if !self.familiar.contains_key(upn) && self.familiar.len() >= MAX_FAMILIAR_USERS {
            self.familiar.retain(|_, sources| {
                sources
                    .back()
                    .is_some_and(|(_, at)| *at > now - FAMILIAR_SECS)
            });
            if self.familiar.len() >= MAX_FAMILIAR_USERS {
                let oldest = self
                    .familiar
                    .iter()
                    .min_by_key(|(_, sources)| sources.back().map_or(i64::MIN, |(_, at)| *at))
                    .map(|(upn, _)| upn.clone());
                if let Some(oldest) = oldest {
                    self.familiar.remove(&oldest);
                }
            }
        }
        let sources = self.familiar.entry(upn.to_owned()).or_default();
        sources.retain(|(s, _)| s != source);
        sources.push_back((source.to_owned(), now));
        while sources.len() > FAMILIAR_PER_USER {
            sources.pop_front();
        }
    }

    fn release(&mut self, keys: &[Key], failed_at: Option<i64>) {
        for key in keys {
            if let Some(counter) = self.counters.get_mut(key) {
                counter.in_flight = counter.in_flight.saturating_sub(1);
                if let Some(at) = failed_at {
                    counter.failures.push_back(at);
                }
            }
        }
    }
}

/// The attempt was refused before any check (LK-AUTH-003).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited;

/// The failure counters and familiar sources.
#[derive(Debug, Default)]
pub struct RateLimiter {
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes a reservation for an attempt by `upn` from `source`, or refuses it when a
    /// budget is spent.
    pub fn reserve(&self, upn: &str, source: &str, now: i64) -> Result<Reservation, Limited> {
        let mut inner = lock(&self.inner);
        let familiar = inner.is_familiar(upn, source, now);
        let mut keys = vec![
            Key::Pair(upn.to_owned(), source.to_owned()),
            Key::Source(source.to_owned()),
        ];
        if !familiar {
            keys.push(Key::User(upn.to_owned()));
        }
        let new_keys = keys
            .iter()
            .filter(|k| !inner.counters.contains_key(k))
            .count();
        if inner.counters.len() + new_keys > MAX_TRACKED && inner.last_sweep != now {
            // At most one sweep per second of the service clock.
            inner.last_sweep = now;
            inner.counters.retain(|_, c| c.live(now));
        }
        if !familiar && inner.counters.len() + new_keys > MAX_TRACKED {
            return Err(Limited);
        }
        for key in &keys {
            if let Some(counter) = inner.counters.get_mut(key) {
                if counter.load(now) >= key.limit() {
                    return Err(Limited);
                }
            }
        }
        for key in &keys {
            inner.counters.entry(key.clone()).or_default().in_flight += 1;
        }
        Ok(Reservation {
            inner: self.inner.clone(),
            keys,
            upn: upn.to_owned(),
            source: source.to_owned(),
            done: false,
        })
    }

    /// Whether `source` is familiar for `upn` (for tests and diagnostics).
    pub fn is_familiar(&self, upn: &str, source: &str, now: i64) -> bool {
        lock(&self.inner).is_familiar(upn, source, now)
    }

    /// Counters tracked now (for tests and diagnostics).
    pub fn tracked(&self) -> usize {
        lock(&self.inner).counters.len()
    }
}

/// An attempt in flight. [`Reservation::failed`] counts it as a failure,
/// [`Reservation::succeeded`] releases it; dropped otherwise, it is released.
#[derive(Debug)]
pub struct Reservation {
    inner: Arc<Mutex<Inner>>,
    keys: Vec<Key>,
    upn: String,
    source: String,
    done: bool,
}

impl Reservation {
    /// The attempt failed (wrong password or code) at `now`.
    pub fn failed(mut self, now: i64) {
        self.done = true;
        lock(&self.inner).release(&self.keys, Some(now));
    }

    /// The attempt succeeded at `now`: released, the pair's failures forgotten, and the
    /// source remembered as familiar for the user.
    pub fn succeeded(mut self, now: i64) {
        self.done = true;
        let mut inner = lock(&self.inner);
        inner.release(&self.keys, None);
        if let Some(pair) = self.keys.first() {
            if let Some(counter) = inner.counters.get_mut(pair) {
                counter.failures.clear();
            }
        }
        inner.remember(&self.upn, &self.source, now);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.inner).release(&self.keys, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(limiter: &RateLimiter, upn: &str, source: &str, now: i64) -> bool {
        match limiter.reserve(upn, source, now) {
            Ok(r) => {
                r.failed(now);
                true
            }
            Err(Limited) => false,
        }
    }

    #[test]
    fn reservations_count_while_in_flight_and_success_releases() {
        let limiter = RateLimiter::new();
        let held: Vec<_> = (0..PER_PAIR)
            .filter_map(|_| limiter.reserve("a", "1.1.1.1", 100).ok())
            .collect();
        assert_eq!(held.len(), PER_PAIR);
        assert_eq!(limiter.reserve("a", "1.1.1.1", 100).err(), Some(Limited));
        for r in held {
            r.succeeded(100);
        }
        assert!(limiter.reserve("a", "1.1.1.1", 100).is_ok());
        // A dropped reservation is released, not counted.
        for _ in 0..10 {
            drop(limiter.reserve("b", "1.1.1.2", 100));
        }
        assert!(limiter.reserve("b", "1.1.1.2", 100).is_ok());
    }

    #[test]
    fn limits_per_pair_and_per_source_and_forgets() {
        let limiter = RateLimiter::new();
        for _ in 0..PER_PAIR {
            assert!(fail(&limiter, "a", "1.1.1.1", 100));
        }
        assert!(!fail(&limiter, "a", "1.1.1.1", 100));
        assert!(
            fail(&limiter, "a", "9.9.9.9", 100),
            "another source has its own"
        );
        assert!(fail(&limiter, "a", "1.1.1.1", 100 + WINDOW_SECS));
        for i in 0..PER_SOURCE - 1 {
            assert!(fail(&limiter, &format!("u{i}"), "2.2.2.2", 200));
        }
        assert!(fail(&limiter, "last", "2.2.2.2", 200));
        assert!(!fail(&limiter, "fresh", "2.2.2.2", 200));
    }

    #[test]
    fn strangers_do_not_lock_out_a_familiar_source() {
        let limiter = RateLimiter::new();
        if let Ok(r) = limiter.reserve("alice", "127.0.0.1", 10) {
            r.succeeded(10);
        }
        assert!(limiter.is_familiar("alice", "127.0.0.1", 10));
        let mut refused = 0;
        for i in 0..200 {
            if !fail(
                &limiter,
                "alice",
                &format!("10.0.{}.{}", i / 250, i % 250),
                20,
            ) {
                refused += 1;
            }
        }
        assert_eq!(refused, 200 - PER_USER_UNFAMILIAR);
        assert!(
            limiter.reserve("alice", "10.9.9.9", 20).is_err(),
            "a new unfamiliar source is refused"
        );
        assert!(limiter.reserve("alice", "127.0.0.1", 20).is_ok());
        assert!(
            !limiter.is_familiar("alice", "127.0.0.1", 10 + FAMILIAR_SECS),
            "familiarity expires"
        );
    }

    #[test]
    fn familiar_sources_are_bounded_per_user() {
        let limiter = RateLimiter::new();
        for i in 0..FAMILIAR_PER_USER + 3 {
            if let Ok(r) = limiter.reserve("a", &format!("10.0.0.{i}"), 10) {
                r.succeeded(10 + i as i64);
            }
        }
        assert!(!limiter.is_familiar("a", "10.0.0.0", 30));
        assert!(limiter.is_familiar("a", &format!("10.0.0.{}", FAMILIAR_PER_USER + 2), 30));
    }

    #[test]
    fn stale_counters_are_swept() {
        let limiter = RateLimiter::new();
        for i in 0..MAX_TRACKED / 3 + 2 {
            fail(&limiter, &format!("u{i}"), &format!("s{i}"), 0);
        }
        assert!(limiter.tracked() > MAX_TRACKED - 3);
        assert_eq!(
            limiter.reserve("x", "y", 1).err(),
            Some(Limited),
            "full of live counters: a stranger is refused"
        );
        assert!(limiter.reserve("x", "y", WINDOW_SECS + 1).is_ok());
        assert!(limiter.tracked() <= 3);
    }
}
