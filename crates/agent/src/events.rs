//! The client event log, with the event ids of the Windows Hello for Business seeds.

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::store::StateDir;

/// The log file.
pub const EVENTS_FILE: &str = "events.json";
/// How many events are kept (the oldest are dropped first).
pub const MAX_EVENTS: usize = 1000;

/// The event ids (the table is in docs/device.md): 200-203 the join, 300-301 Hello key
/// registration, 310-341 everyday operations, 358/360 the prerequisite check, 370-372 the
/// key provider and TPM identity, 380-383 certificates, 390-393 smart-card logins,
/// 400-401 PIN resets.
pub mod id {
    /// The device joined (tenant, device id, join type, owner).
    pub const DEVICE_JOINED: u32 = 200;
    /// The device left: the service disabled it (or, with `--force`, could not be told)
    /// and local state was removed; the event log is kept.
    pub const DEVICE_LEFT: u32 = 202;
    /// Leaving failed: the service could not be told; the device stays joined.
    pub const LEAVE_FAILED: u32 = 203;
    /// Registering a Hello key (`hello setup`) failed (the code and message are in the
    /// data).
    pub const KEY_REGISTRATION_FAILED: u32 = 301;
    /// A sign-in succeeded: a primary refresh token was stored.
    pub const SIGNED_IN: u32 = 310;
    /// A sign-in with a wrong PIN (counted towards the lockout).
    pub const SIGNIN_WRONG_PIN: u32 = 311;
    /// A sign-in refused because the PIN is locked out (no PIN was tried).
    pub const SIGNIN_LOCKED_OUT: u32 = 312;
    /// A sign-in failed for another reason (the code and message are in the data).
    pub const SIGNIN_FAILED: u32 = 313;
    /// An access token was issued (the audience is in the data, never the token).
    pub const TOKEN_ISSUED: u32 = 320;
    /// An access token was refused or could not be asked for.
    pub const TOKEN_FAILED: u32 = 321;
    /// The PIN was changed (same key).
    pub const PIN_CHANGED: u32 = 330;
    /// A PIN change failed (wrong current PIN, PIN rules, history).
    pub const PIN_CHANGE_FAILED: u32 = 331;
    /// The policy was received from the service (at join, sign-in or `policy sync`).
    pub const POLICY_RECEIVED: u32 = 340;
    /// Receiving the policy failed; the last one stays in force.
    pub const POLICY_REFRESH_FAILED: u32 = 341;
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
    /// The PIN was reset (the kind, non-destructive or destructive, is in the data).
    pub const PIN_RESET: u32 = 400;
    /// A PIN reset was refused or failed (the code and message are in the data).
    pub const PIN_RESET_FAILED: u32 = 401;
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event id (see [`id`]).
    pub id: u32,
    /// When (seconds since the epoch).
    pub time: i64,
    /// `Information`, `Warning` or `Error`.
    pub level: String,
    /// What happened, in words.
    pub message: String,
    /// Named details (key id, UPN, each check's result, ...), in order.
    pub data: Vec<(String, String)>,
}

/// The data key saying whether the service accepted the device's own proof in an
/// operation: `SUCCESS` or `FAILED` (what `status` shows as DeviceAuthStatus).
pub const DEVICE_AUTH: &str = "DeviceAuth";

/// The `Code` and `Error` data of a failure, and [`DEVICE_AUTH`] `FAILED` when the service
/// refused the device itself (unknown or disabled: `LK-DEV-...`).
pub fn failure_data(err: &AgentError) -> Vec<(String, String)> {
    let mut data = vec![
        ("Code".to_owned(), err.code().to_owned()),
        ("Error".to_owned(), err.to_string()),
    ];
    if err.code().starts_with("LK-DEV-") {
        data.push((DEVICE_AUTH.to_owned(), "FAILED".to_owned()));
    }
    data
}

/// The last time the service accepted or refused the device's proof, as recorded: the
/// event, newest first; `None` when no recorded operation says.
pub fn last_device_auth(events: &[Event]) -> Option<&Event> {
    events
        .iter()
        .rev()
        .find(|e| e.data.iter().any(|(k, _)| k == DEVICE_AUTH))
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
