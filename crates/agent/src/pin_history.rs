//! PIN history (PINComplexity/History): the previous PINs of a user, kept on the device only
//! as salted Argon2id hashes in `pinhistory/<user>.json` (written atomically).
//!
//! History N means a new PIN may not equal any of the last N PINs, the current one included
//! (docs/policy.md). The current PIN is known at a change (the user has just typed it), so
//! the file holds only the N - 1 PINs before it, newest first; with History 0 nothing is
//! kept and the file is removed. History is not kept through a reset: a new `hello setup`
//! removes the file.

use latchkey_proto::b64;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::container::{derive, KdfParams};
use crate::error::AgentError;
use crate::records::user_file;
use crate::store::StateDir;

/// The subdirectory of PIN histories.
pub const HISTORY_DIR: &str = "pinhistory";
/// The most history entries ever kept (PINComplexity/History is at most 50).
pub const MAX_ENTRIES: usize = 50;

/// One previous PIN, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinHash {
    /// Argon2id parameters of this hash.
    pub kdf: KdfParams,
    /// Its random salt (base64url).
    pub salt: String,
    /// Argon2id(PIN, salt), 32 bytes (base64url).
    pub hash: String,
    /// When the PIN stopped being the current one.
    pub retired_at: i64,
}

impl PinHash {
    /// Hashes `pin` with a fresh salt.
    pub fn new(pin: &str, kdf: KdfParams, now: i64) -> Result<Self, AgentError> {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let hash = derive(pin, &salt, kdf)?;
        Ok(PinHash {
            kdf,
            salt: b64::encode(salt),
            hash: b64::encode(hash.as_ref()),
            retired_at: now,
        })
    }

    /// Whether `pin` is the PIN this hash was made from (compared in constant time).
    pub fn matches(&self, pin: &str) -> Result<bool, AgentError> {
        let corrupt = || AgentError::CorruptState {
            path: HISTORY_DIR.to_owned(),
            reason: "a PIN history entry is damaged".to_owned(),
        };
        let salt = b64::decode("salt", &self.salt).map_err(|_| corrupt())?;
        let want = b64::decode("hash", &self.hash).map_err(|_| corrupt())?;
        let got = derive(pin, &salt, self.kdf)?;
        if want.len() != got.len() {
            return Err(corrupt());
        }
        Ok(bool::from(subtle::ConstantTimeEq::ct_eq(
            &want[..],
            &got[..],
        )))
    }
}

/// A user's previous PINs, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinHistory {
    /// The user.
    pub upn: String,
    /// Previous PINs (not the current one), newest first.
    pub entries: Vec<PinHash>,
}

impl PinHistory {
    /// The file of `upn`'s history.
    pub fn file(upn: &str) -> String {
        user_file(HISTORY_DIR, upn)
    }

    /// `upn`'s history (empty when none is kept).
    pub fn load(state: &StateDir, upn: &str) -> Result<Self, AgentError> {
        Ok(state.read_json(&Self::file(upn))?.unwrap_or(PinHistory {
            upn: upn.to_owned(),
            entries: Vec::new(),
        }))
    }

    /// Stores the history atomically; an empty one removes the file.
    pub fn save(&self, state: &StateDir) -> Result<(), AgentError> {
        if self.entries.is_empty() {
            state.remove(&Self::file(&self.upn))
        } else {
            state.write_json(&Self::file(&self.upn), self)
        }
    }

    /// Forgets `upn`'s history (a PIN reset or a new `hello setup`).
    pub fn forget(state: &StateDir, upn: &str) -> Result<(), AgentError> {
        state.remove(&Self::file(upn))
    }

    /// Refuses `new_pin` with [`AgentError::PinReused`] when it equals `current_pin` or one
    /// of the `history - 1` previous PINs kept.
    pub fn check(&self, history: u32, current_pin: &str, new_pin: &str) -> Result<(), AgentError> {
        if history == 0 {
            return Ok(());
        }
        let reused = || AgentError::PinReused { history };
        if new_pin == current_pin {
            return Err(reused());
        }
        let previous = (history as usize).saturating_sub(1);
        for entry in self.entries.iter().take(previous) {
            if entry.matches(new_pin)? {
                return Err(reused());
            }
        }
        Ok(())
    }

    /// Records that `old_pin` was replaced: it becomes the newest previous PIN, and only the
    /// `history - 1` newest are kept (none with History 0 or 1).
    pub fn retire(
        &mut self,
        history: u32,
        old_pin: &str,
        kdf: KdfParams,
        now: i64,
    ) -> Result<(), AgentError> {
        let keep = (history as usize).saturating_sub(1).min(MAX_ENTRIES);
        if keep == 0 {
            self.entries.clear();
            return Ok(());
        }
        self.entries.insert(0, PinHash::new(old_pin, kdf, now)?);
        self.entries.truncate(keep);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };

    /// Walks PINs p0 -> p1 -> ... under `history`, returning the history after.
    fn walk(history: u32, pins: &[&str]) -> PinHistory {
        let mut h = PinHistory {
            upn: "a@x".into(),
            ..PinHistory::default()
        };
        for pair in pins.windows(2) {
            h.check(history, pair[0], pair[1]).unwrap();
            h.retire(history, pair[0], FAST, 0).unwrap();
        }
        h
    }

    #[test]
    fn the_last_n_pins_including_the_current_one_are_refused() {
        let h = walk(3, &["1111", "2222", "3333"]);
        assert_eq!(
            h.entries.len(),
            2,
            "History 3 keeps the 2 before the current"
        );
        for reused in ["3333", "2222", "1111"] {
            let err = h.check(3, "3333", reused).unwrap_err();
            assert_eq!(err.code(), "LK-PIN-005", "{reused}");
            assert!(err.to_string().contains("last 3 PINs"));
        }
        h.check(3, "3333", "4444").unwrap();
        // One more change and the oldest drops out of the window.
        let h = walk(3, &["1111", "2222", "3333", "4444"]);
        h.check(3, "4444", "1111").unwrap();
        assert_eq!(h.check(3, "4444", "2222").unwrap_err().code(), "LK-PIN-005");
    }

    #[test]
    fn history_zero_keeps_nothing_and_allows_any_pin() {
        let h = walk(0, &["1111", "2222"]);
        assert!(h.entries.is_empty());
        h.check(0, "2222", "2222").unwrap();
        let one = walk(1, &["1111", "2222"]);
        assert!(one.entries.is_empty(), "History 1 is only the current PIN");
        assert_eq!(
            one.check(1, "2222", "2222").unwrap_err().code(),
            "LK-PIN-005"
        );
        one.check(1, "2222", "1111").unwrap();
    }

    #[test]
    fn only_salted_hashes_are_stored_and_the_file_is_atomic_and_forgettable() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(tmp.path().join("state"));
        let h = walk(5, &["135792", "246801", "975310"]);
        h.save(&state).unwrap();
        let text = String::from_utf8(state.read_bytes(&PinHistory::file("a@x")).unwrap().unwrap())
            .unwrap();
        assert!(!text.contains("135792") && !text.contains("246801"));
        assert_ne!(h.entries[0].salt, h.entries[1].salt, "a salt per entry");
        let back = PinHistory::load(&state, "a@x").unwrap();
        assert_eq!(back, h);
        assert_eq!(
            back.check(5, "975310", "135792").unwrap_err().code(),
            "LK-PIN-005"
        );
        PinHistory::forget(&state, "a@x").unwrap();
        assert!(PinHistory::load(&state, "a@x").unwrap().entries.is_empty());
        assert!(state.list(HISTORY_DIR).unwrap().is_empty());
    }
}
