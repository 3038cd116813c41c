//! The file-descriptor limit: raised to its hard limit at start, and the connection cap
//! kept below it.
//!
//! `rustix` gives `getrlimit`/`setrlimit` as safe functions, so the crate keeps
//! `forbid(unsafe_code)`.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

use crate::config::{ConnectionLimits, FD_RESERVE};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force
/// afterwards (`None` when unlimited or unknown).
pub fn raise_nofile() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "could not raise the file-descriptor limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// `limits` with the cap and the reject slots fitted below `fd_limit` minus
/// [`FD_RESERVE`].
pub fn fit(limits: &ConnectionLimits, fd_limit: Option<u64>) -> ConnectionLimits {
    let mut fitted = limits.clone();
    let Some(fds) = fd_limit else {
        return fitted;
    };
    let room = usize::try_from(fds.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
    let wanted = limits.max_connections.saturating_add(limits.reject_slots);
    if wanted > room {
        fitted.reject_slots = limits.reject_slots.min(room / 16);
        fitted.max_connections = room.saturating_sub(fitted.reject_slots).max(1);
        tracing::warn!(
            fd_limit = fds,
            max_connections = fitted.max_connections,
            "the connection cap was lowered to fit the file-descriptor limit"
        );
    }
    fitted
}

/// Raises the descriptor limit and fits `limits` below it.
pub(crate) fn effective_limits(limits: &ConnectionLimits) -> ConnectionLimits {
    fit(limits, raise_nofile())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let limits = ConnectionLimits::default();
        let fitted = fit(&limits, Some(1024));
        assert!(
            (fitted.max_connections + fitted.reject_slots) as u64 <= 1024 - FD_RESERVE,
            "{fitted:?}"
        );
        assert!(fitted.max_connections > 0);
        assert_eq!(fit(&limits, Some(1 << 20)), limits);
        assert_eq!(fit(&limits, None), limits);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let soft = raise_nofile();
        assert_eq!(soft, getrlimit(Resource::Nofile).maximum);
    }
}
