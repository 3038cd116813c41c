//! The key pool, retired for the software provider.
//!
//! Earlier versions kept RSA keys generated ahead of time as plaintext PKCS#8 files in
//! `pool/`, so that `hello setup` would not wait for key generation. A copy of the state
//! directory taken before `hello setup` then held the future Hello private key
//! unprotected. The software provider now keeps no pool: `hello setup` generates the key in
//! memory and only ever stores it wrapped under the PIN. (A TPM provider can keep a pool
//! again: keys generated inside the TPM are only ever on disk wrapped by the TPM.)
//!
//! [`remove_legacy`] deletes pool files left by earlier versions. They are unlinked, not
//! overwritten first: on journalling and copy-on-write file systems and SSDs an overwrite
//! does not reliably reach the old blocks, so it would promise what it cannot keep.

use std::fs;

use crate::error::AgentError;
use crate::store::StateDir;

/// The subdirectory earlier versions kept pool keys in.
pub const POOL_DIR: &str = "pool";

/// Removes the plaintext pool keys of earlier versions and their directory; returns how
/// many files were removed. Entries are removed whatever their type (a link is removed,
/// not followed).
pub fn remove_legacy(state: &StateDir) -> Result<usize, AgentError> {
    let dir = state.path(POOL_DIR);
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(AgentError::io("inspect", &dir, e)),
        Ok(meta) if !meta.is_dir() => {
            fs::remove_file(&dir).map_err(|e| AgentError::io("remove", &dir, e))?;
            return Ok(1);
        }
        Ok(_) => {}
    }
    let mut removed = 0;
    let entries = fs::read_dir(&dir).map_err(|e| AgentError::io("list", &dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        fs::remove_file(&path).map_err(|e| AgentError::io("remove", &path, e))?;
        removed += 1;
    }
    match fs::remove_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AgentError::io("remove", &dir, e)),
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hello_key::HelloKey;

    #[test]
    fn legacy_plaintext_pool_keys_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(tmp.path().join("state"));
        assert_eq!(remove_legacy(&state).unwrap(), 0, "nothing to do");
        let key = HelloKey::generate().unwrap();
        let name = format!("{POOL_DIR}/{}.key", key.key_id());
        state
            .write_bytes(&name, key.to_pkcs8().unwrap().as_slice())
            .unwrap();
        state.write_bytes("pool/.half.tmp", b"x").unwrap();
        assert_eq!(remove_legacy(&state).unwrap(), 2);
        assert!(!state.path(POOL_DIR).exists(), "the directory is gone too");
        assert_eq!(remove_legacy(&state).unwrap(), 0);
    }
}
