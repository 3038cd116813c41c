//! The policy in force on this device, as received from the service and stored in
//! `policy/<user>.json` (written atomically, like every state file).
//!
//! A policy is computed by the service for the device *and* a user (user Group Policy and
//! user CSP apply to that user only), so one file is kept per user. The policy in force for a
//! user is that user's file, else the registered owner's (received at join), else the seed's
//! defaults.

use latchkey_policy::EffectivePolicy;
use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::records::user_file;
use crate::store::StateDir;

/// The subdirectory of received policies.
pub const POLICY_DIR: &str = "policy";

/// One received policy, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// The tenant's policy version the service computed it from.
    pub version: u64,
    /// The tenant.
    pub tenant_id: String,
    /// The user it was computed for.
    pub upn: String,
    /// When it was received (seconds since the epoch, agent clock).
    pub synced_at: i64,
    /// The SyncML session that delivered it.
    pub session_id: String,
    /// How many policy commands the session carried.
    pub commands: usize,
    /// How many of them the device could not apply (reported to the service in message 2).
    pub failed: usize,
    /// Every setting with its value and source, and the notes on how it was reached.
    pub policy: EffectivePolicy,
}

impl StoredPolicy {
    /// The file of `upn`'s policy.
    pub fn file(upn: &str) -> String {
        user_file(POLICY_DIR, upn)
    }

    /// `upn`'s stored policy, if any.
    pub fn load(state: &StateDir, upn: &str) -> Result<Option<Self>, AgentError> {
        state.read_json(&Self::file(upn))
    }

    /// Stores this policy atomically, replacing the user's previous one.
    pub fn save(&self, state: &StateDir) -> Result<(), AgentError> {
        state.write_json(&Self::file(&self.upn), self)
    }
}

/// The policy in force for a user and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInForce {
    /// The user asked about.
    pub upn: Option<String>,
    /// The stored policy in force (the user's own, or the owner's), `None`: defaults.
    pub stored: Option<StoredPolicy>,
}

impl PolicyInForce {
    /// The effective policy (the seed's defaults when nothing was received).
    pub fn policy(&self) -> EffectivePolicy {
        self.stored
            .as_ref()
            .map(|s| s.policy.clone())
            .unwrap_or_default()
    }

    /// The version in force, `None` when only defaults apply.
    pub fn version(&self) -> Option<u64> {
        self.stored.as_ref().map(|s| s.version)
    }
}

/// The policy in force for `upn`: theirs, else `owner`'s, else defaults.
pub fn in_force(
    state: &StateDir,
    upn: Option<&str>,
    owner: Option<&str>,
) -> Result<PolicyInForce, AgentError> {
    let mut stored = match upn {
        Some(u) => StoredPolicy::load(state, u)?,
        None => None,
    };
    if stored.is_none() {
        if let Some(o) = owner {
            stored = StoredPolicy::load(state, o)?;
        }
    }
    Ok(PolicyInForce {
        upn: upn.map(str::to_owned),
        stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(upn: &str, version: u64, min: u32) -> StoredPolicy {
        let mut policy = EffectivePolicy::default();
        policy.pin.min_length.value = min;
        policy.pin.min_length.source = latchkey_policy::Source::DeviceCsp;
        StoredPolicy {
            version,
            tenant_id: "t".into(),
            upn: upn.into(),
            synced_at: 10,
            session_id: "s".into(),
            commands: 1,
            failed: 0,
            policy,
        }
    }

    #[test]
    fn a_stored_policy_round_trips_and_falls_back_to_the_owner_then_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(tmp.path().join("state"));
        let none = in_force(&state, Some("a@x"), Some("o@x")).unwrap();
        assert_eq!(none.version(), None);
        assert_eq!(none.policy(), EffectivePolicy::default());

        stored("o@x", 3, 6).save(&state).unwrap();
        let owners = in_force(&state, Some("a@x"), Some("o@x")).unwrap();
        assert_eq!(owners.version(), Some(3));
        assert_eq!(owners.policy().pin.min_length.value, 6);

        stored("A@x", 4, 8).save(&state).unwrap();
        let own = in_force(&state, Some("a@X"), Some("o@x")).unwrap();
        assert_eq!(own.version(), Some(4), "file names ignore case");
        assert_eq!(own.policy().pin.min_length.value, 8);
        assert_eq!(
            StoredPolicy::load(&state, "a@x").unwrap().unwrap(),
            stored("A@x", 4, 8)
        );
        // Replacing is atomic: the new one is read back whole.
        stored("a@x", 5, 9).save(&state).unwrap();
        assert_eq!(
            in_force(&state, Some("a@x"), None).unwrap().version(),
            Some(5)
        );
    }

    #[test]
    fn a_damaged_policy_file_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(tmp.path().join("state"));
        state
            .write_bytes(&StoredPolicy::file("a@x"), b"{\"version\":")
            .unwrap();
        assert_eq!(
            in_force(&state, Some("a@x"), None).unwrap_err().code(),
            "LK-AGENT-003"
        );
    }
}
