//! The client event log, with the event ids of the Windows Hello for Business seeds.

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::store::StateDir;

/// The log file.
pub const EVENTS_FILE: &str = "events.json";
/// How many events are kept (the oldest are dropped first).
pub const MAX_EVENTS: usize = 1000;

/// The seed's event ids.
pub mod id {
    /// A Hello key was registered (key id and UPN).
    pub const KEY_REGISTERED: u32 = 300;
    /// Every prerequisite passed: provisioning will launch.
    pub const PREREQUISITES_PASSED: u32 = 358;
    /// Provisioning will not launch (a yes/no per check).
    pub const WILL_NOT_LAUNCH: u32 = 360;
    /// The key provider in use and why it was chosen (Latchkey's own event).
    pub const KEY_PROVIDER: u32 = 370;
    /// The device's TPM identity was activated by the service (Latchkey's own event).
    pub const TPM_ATTESTED: u32 = 371;
    /// Activating the device's TPM identity failed; the device stays joined (Latchkey's
    /// own event).
    pub const TPM_ATTESTATION_FAILED: u32 = 372;
    /// A Hello certificate was enrolled and installed (serial, thumbprint, template).
    pub const CERT_INSTALLED: u32 = 380;
    /// A Hello certificate was renewed for the same key and installed.
    pub const CERT_RENEWED: u32 = 381;
    /// Renewing the Hello certificate failed; the current one stays until it expires.
    pub const CERT_RENEWAL_FAILED: u32 = 382;
    /// Enrolling for a Hello certificate failed (the code and message are in the data).
    pub const CERT_ENROLLMENT_FAILED: u32 = 383;
    /// The PKCS#11 module's signer unlocked the Hello key (a smart-card login).
    pub const P11_LOGIN: u32 = 390;
    /// A smart-card login with a wrong PIN (counted like a `latchkey signin`).
    pub const P11_WRONG_PIN: u32 = 391;
    /// A smart-card login refused because the PIN is locked out (no PIN was tried).
    pub const P11_LOCKED_OUT: u32 = 392;
    /// A smart-card login refused for another reason (expired PIN, damaged container).
    pub const P11_LOGIN_REFUSED: u32 = 393;
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event id (see [`id`]).
    pub id: u32,
    /// When (seconds since the epoch).
    pub time: i64,
    /// `Information` or `Warning`.
    pub level: String,
    /// What happened, in words.
    pub message: String,
    /// Named details (key id, UPN, each check's result, ...), in order.
    pub data: Vec<(String, String)>,
}

/// Reads the log, oldest first.
pub fn read(state: &StateDir) -> Result<Vec<Event>, AgentError> {
    Ok(state.read_json(EVENTS_FILE)?.unwrap_or_default())
}

/// Appends `event` (rewriting the log atomically, dropping the oldest beyond
/// [`MAX_EVENTS`]).
pub fn record(state: &StateDir, event: Event) -> Result<(), AgentError> {
    let mut all = read(state)?;
    all.push(event);
    if all.len() > MAX_EVENTS {
        let excess = all.len() - MAX_EVENTS;
        all.drain(..excess);
    }
    state.write_json(EVENTS_FILE, &all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_append_in_order_and_the_log_is_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(tmp.path().join("state"));
        assert!(read(&state).unwrap().is_empty());
        for i in 0..(MAX_EVENTS as i64 + 3) {
            record(
                &state,
                Event {
                    id: id::KEY_REGISTERED,
                    time: i,
                    level: "Information".into(),
                    message: "m".into(),
                    data: vec![("UPN".into(), "a".into())],
                },
            )
            .unwrap();
        }
        let all = read(&state).unwrap();
        assert_eq!(all.len(), MAX_EVENTS);
        assert_eq!(all[0].time, 3, "the oldest were dropped");
        assert_eq!(all.last().unwrap().time, MAX_EVENTS as i64 + 2);
    }
}
