//! The key pool: RSA-2048 keys generated ahead of time, as the seed describes, so that
//! `hello setup` does not wait for key generation.
//!
//! Pool keys are not yet bound to anyone; they are stored (mode 0600, like every state
//! file) until `hello setup` claims one, wraps it under the PIN and deletes the pool file.
//! A key is claimed by renaming its file, so two processes never take the same key.

use std::fs;

use crate::error::AgentError;
use crate::hello_key::HelloKey;
use crate::store::StateDir;

/// The pool's subdirectory.
pub const POOL_DIR: &str = "pool";
/// How many keys the pool holds when `LATCHKEY_POOL_SIZE` is not set.
pub const DEFAULT_POOL_SIZE: usize = 2;
/// The largest pool accepted.
pub const MAX_POOL_SIZE: usize = 16;

/// The pool size from the environment value `LATCHKEY_POOL_SIZE` (0 turns pre-generation
/// off); unset or unparsable values give [`DEFAULT_POOL_SIZE`].
pub fn target_size(env_value: Option<&str>) -> usize {
    env_value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(DEFAULT_POOL_SIZE, |n| n.min(MAX_POOL_SIZE))
}

/// The keys waiting in the pool.
pub fn count(state: &StateDir) -> Result<usize, AgentError> {
    Ok(state
        .list(POOL_DIR)?
        .iter()
        .filter(|n| n.ends_with(".key"))
        .count())
}

/// Generates keys until the pool holds `target`; returns how many were added.
pub fn fill(state: &StateDir, target: usize) -> Result<usize, AgentError> {
    let mut added = 0;
    while count(state)? < target {
        let key = HelloKey::generate()?;
        let name = format!("{POOL_DIR}/{}.key", key.key_id());
        state.write_bytes(&name, key.to_pkcs8()?.as_slice())?;
        added += 1;
    }
    Ok(added)
}

/// Takes one key from the pool, or `None` when it is empty.
pub fn take(state: &StateDir) -> Result<Option<HelloKey>, AgentError> {
    for name in state.list(POOL_DIR)? {
        if !name.ends_with(".key") {
            continue;
        }
        let from = state.path(&format!("{POOL_DIR}/{name}"));
        let claimed = state.path(&format!(
            "{POOL_DIR}/.{name}.claimed.{}",
            std::process::id()
        ));
        if fs::rename(&from, &claimed).is_err() {
            // Another process claimed it first.
            continue;
        }
        let der = fs::read(&claimed).map_err(|e| AgentError::io("read", &claimed, e));
        let _ = fs::remove_file(&claimed);
        let der = zeroize::Zeroizing::new(der?);
        // A damaged pool file is dropped, not fatal: a fresh key is generated instead.
        if let Ok(key) = HelloKey::from_pkcs8(&der) {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_take_and_damaged_files() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(tmp.path());
        assert_eq!(fill(&state, 2).unwrap(), 2);
        assert_eq!(fill(&state, 2).unwrap(), 0, "already full");
        let a = take(&state).unwrap().unwrap();
        let b = take(&state).unwrap().unwrap();
        assert_ne!(a.key_id(), b.key_id(), "each key is taken once");
        assert!(take(&state).unwrap().is_none());
        state.write_bytes("pool/broken.key", b"junk").unwrap();
        assert!(take(&state).unwrap().is_none(), "damaged files are skipped");
        assert_eq!(count(&state).unwrap(), 0, "and removed");
    }

    #[test]
    fn pool_size_from_the_environment() {
        assert_eq!(target_size(None), DEFAULT_POOL_SIZE);
        assert_eq!(target_size(Some("0")), 0);
        assert_eq!(target_size(Some("5")), 5);
        assert_eq!(target_size(Some("1000")), MAX_POOL_SIZE);
        assert_eq!(target_size(Some("x")), DEFAULT_POOL_SIZE);
    }
}
