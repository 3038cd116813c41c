//! Failed sign-in throttling, per user and per source address, in memory and driven by the
//! service clock: at most [`PER_USER`] failures per user and [`PER_ADDRESS`] per address in
//! a sliding [`WINDOW_SECS`] window; beyond that, attempts are refused with LK-AUTH-003
//! before the password is even checked.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Failures allowed per user in the window.
pub const PER_USER: usize = 5;
/// Failures allowed per source address in the window.
pub const PER_ADDRESS: usize = 20;
/// The window, in seconds (15 minutes).
pub const WINDOW_SECS: i64 = 15 * 60;
/// Above this many tracked keys, stale ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// The failure counters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

fn user_key(upn: &str) -> String {
    format!("u:{upn}")
}

fn addr_key(addr: &str) -> String {
    format!("a:{addr}")
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Whether attempts for `upn` from `addr` are currently refused.
    pub fn is_limited(&self, upn: &str, addr: &str, now: i64) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut count = |key: String| match map.get_mut(&key) {
            Some(times) => {
                while times.front().is_some_and(|t| *t <= now - WINDOW_SECS) {
                    times.pop_front();
                }
                times.len()
            }
            None => 0,
        };
        count(user_key(upn)) >= PER_USER || count(addr_key(addr)) >= PER_ADDRESS
    }

    /// Records a failed attempt.
    pub fn record_failure(&self, upn: &str, addr: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, times| times.back().is_some_and(|t| *t > now - WINDOW_SECS));
        }
        for key in [user_key(upn), addr_key(addr)] {
            map.entry(key).or_default().push_back(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_user_and_per_address_and_forgets() {
        let limiter = RateLimiter::new();
        for i in 0..PER_USER {
            assert!(!limiter.is_limited("a", "1.1.1.1", 100));
            limiter.record_failure("a", &format!("10.0.0.{i}"), 100);
        }
        assert!(limiter.is_limited("a", "9.9.9.9", 100));
        assert!(!limiter.is_limited("b", "9.9.9.9", 100));
        assert!(!limiter.is_limited("a", "9.9.9.9", 100 + WINDOW_SECS));
        for i in 0..PER_ADDRESS {
            limiter.record_failure(&format!("u{i}"), "2.2.2.2", 200);
        }
        assert!(limiter.is_limited("fresh", "2.2.2.2", 200));
    }
}
