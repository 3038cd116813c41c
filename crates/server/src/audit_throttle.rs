//! Aggregation of repeated failure lines, so that unauthenticated requests cannot grow the
//! audit trail without bound.
//!
//! Failure lines are "identical" when they have the same source address, event and reason
//! (error code), whatever the user name they name. Per minute of the service clock, the
//! first [`IDENTICAL_PER_MINUTE`] identical lines are written as they are; the rest are
//! counted, and once the minute is over one line with outcome [`AGGREGATED`] says how many
//! were not written (reason `CODE x COUNT (first .. last)`). That line is written by the
//! next identical failure or by the housekeeping round (once a minute, and at shutdown).
//!
//! At most [`MAX_KEYS`] (source, event, reason) triples are tracked; beyond that, all
//! further failures share one overflow bucket (source `*`). What is counted and not yet
//! written is lost if the process dies without a shutdown.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::storage::AuditRecord;

/// Identical failure lines written per source and minute before they are only counted.
pub const IDENTICAL_PER_MINUTE: u32 = 5;
/// The aggregation window, seconds.
pub const WINDOW_SECS: i64 = 60;
/// Triples tracked at most.
pub const MAX_KEYS: usize = 10_000;
/// The outcome of a line that stands for failures not written one by one.
pub const AGGREGATED: &str = "aggregated";
/// The source of the overflow bucket.
pub const OVERFLOW_SOURCE: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: String,
    event: String,
    reason: String,
}

#[derive(Debug)]
struct Window {
    start: i64,
    written: u32,
    suppressed: u64,
    first: i64,
    last: i64,
}

impl Window {
    fn new(start: i64) -> Window {
        Window {
            start,
            written: 0,
            suppressed: 0,
            first: 0,
            last: 0,
        }
    }

    fn summary(&self, key: &Key) -> Option<AuditRecord> {
        (self.suppressed > 0).then(|| {
            let mut line = crate::audit::line(&key.event, self.last);
            line.source = Some(key.source.clone());
            line.outcome = AGGREGATED.to_owned();
            line.reason = Some(format!(
                "{} x {} ({} .. {})",
                key.reason, self.suppressed, self.first, self.last
            ));
            line
        })
    }
}

/// What to write for one failure line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Admitted {
    /// An aggregated line for failures counted earlier, to write first.
    pub summary: Option<AuditRecord>,
    /// The line itself, unless it was only counted.
    pub line: Option<AuditRecord>,
}

/// The per-source failure counters.
#[derive(Debug, Default)]
pub struct AuditThrottle {
    windows: Mutex<HashMap<Key, Window>>,
}

impl AuditThrottle {
    /// No counters.
    pub fn new() -> AuditThrottle {
        AuditThrottle::default()
    }

    /// Decides what to write for the failure `line` at `now`.
    pub fn admit(&self, line: AuditRecord, now: i64) -> Admitted {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = Key {
            source: line.source.clone().unwrap_or_default(),
            event: line.event.clone(),
            reason: line.reason.clone().unwrap_or_default(),
        };
        if !windows.contains_key(&key) && windows.len() >= MAX_KEYS {
            key = Key {
                source: OVERFLOW_SOURCE.to_owned(),
                event: OVERFLOW_SOURCE.to_owned(),
                reason: "failures from more sources than tracked".to_owned(),
            };
        }
        let window = windows
            .entry(key.clone())
            .or_insert_with(|| Window::new(now));
        let mut summary = None;
        if now >= window.start + WINDOW_SECS {
            summary = window.summary(&key);
            *window = Window::new(now);
        }
        if window.written < IDENTICAL_PER_MINUTE {
            window.written += 1;
            return Admitted {
                summary,
                line: Some(line),
            };
        }
        if window.suppressed == 0 {
            window.first = now;
        }
        window.suppressed += 1;
        window.last = now;
        Admitted {
            summary,
            line: None,
        }
    }

    /// Removes the windows that are over (all of them with `all`) and returns the
    /// aggregated lines to write for them.
    pub fn flush(&self, now: i64, all: bool) -> Vec<AuditRecord> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = vec![];
        windows.retain(|key, window| {
            let over = all || now >= window.start + WINDOW_SECS;
            if over {
                out.extend(window.summary(key));
            }
            !over
        });
        out
    }

    /// Triples tracked now.
    pub fn tracked(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{event, line};

    fn failure(source: &str, actor: &str, at: i64) -> AuditRecord {
        line(event::PASSWORD_SIGNIN, at)
            .actor(actor)
            .source(source)
            .failure("LK-AUTH-003")
    }

    #[test]
    fn identical_failures_beyond_the_limit_are_counted_then_summarised() {
        let t = AuditThrottle::new();
        let mut written = 0;
        for i in 0..1000 {
            let a = t.admit(failure("10.0.0.1", &format!("u{i}"), 100), 100);
            assert!(a.summary.is_none());
            written += usize::from(a.line.is_some());
        }
        assert_eq!(written, IDENTICAL_PER_MINUTE as usize);
        // Another source has its own budget.
        assert!(t.admit(failure("10.0.0.2", "u", 100), 100).line.is_some());
        // The next minute: the summary comes first, then the line.
        let a = t.admit(
            failure("10.0.0.1", "x", 100 + WINDOW_SECS),
            100 + WINDOW_SECS,
        );
        let summary = a.summary.unwrap_or_else(|| panic!("a summary"));
        assert_eq!(summary.outcome, AGGREGATED);
        assert_eq!(
            summary.reason.as_deref(),
            Some("LK-AUTH-003 x 995 (100 .. 100)")
        );
        assert!(a.line.is_some());
    }

    #[test]
    fn flush_writes_summaries_of_closed_windows_and_forgets_them() {
        let t = AuditThrottle::new();
        for _ in 0..8 {
            t.admit(failure("10.0.0.1", "u", 5), 5);
        }
        assert!(t.flush(6, false).is_empty(), "the window is still open");
        let out = t.flush(5 + WINDOW_SECS, false);
        assert_eq!(out.len(), 1);
        assert_eq!(t.tracked(), 0);
        for _ in 0..8 {
            t.admit(failure("10.0.0.1", "u", 5), 5);
        }
        assert_eq!(t.flush(6, true).len(), 1, "shutdown flushes open windows");
    }

    #[test]
    fn tracked_triples_are_bounded() {
        let t = AuditThrottle::new();
        let mut written = 0;
        for i in 0..MAX_KEYS + 500 {
            let a = t.admit(failure(&format!("s{i}"), "u", 1), 1);
            written += usize::from(a.line.is_some());
        }
        assert_eq!(t.tracked(), MAX_KEYS + 1);
        assert_eq!(written, MAX_KEYS + IDENTICAL_PER_MINUTE as usize);
    }
}
