//! The TPM's dictionary-attack protection: reading its state, setting its parameters.

use std::process::Command;

use tss_esapi::constants::PropertyTag;

use crate::device::{Tpm, MAX_AUTH_LEN};
use crate::error::TpmError;
use crate::tcti::Tcti;

/// The inLockout bit of TPM_PT_PERMANENT (TPMA_PERMANENT bit 9).
const TPMA_PERMANENT_IN_LOCKOUT: u32 = 1 << 9;

/// The dictionary-attack state (TPM 2.0 Part 1, "Dictionary Attack Protection").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaState {
    /// TPM_PT_LOCKOUT_COUNTER: failed authorisations counted now.
    pub counter: u32,
    /// TPM_PT_MAX_AUTH_FAIL: the count at which the TPM locks out.
    pub max_tries: u32,
    /// TPM_PT_LOCKOUT_INTERVAL: seconds after which one failure is forgotten (0: never).
    pub interval_seconds: u32,
    /// TPM_PT_LOCKOUT_RECOVERY: seconds the lockout hierarchy stays locked after a wrong
    /// lockout authorisation (0: until the next TPM reset).
    pub lockout_recovery_seconds: u32,
    /// The inLockout bit of TPM_PT_PERMANENT.
    pub in_lockout: bool,
}

impl DaState {
    /// Seconds until a DA-protected key can be used again: 0 when not in lockout; `None`
    /// when the TPM does not recover by itself (interval 0). An upper estimate: the
    /// counter drops by one every `interval_seconds`, and the current interval may have
    /// partly run.
    pub fn recovery_seconds(&self) -> Option<u64> {
        if !self.in_lockout && self.counter < self.max_tries {
            return Some(0);
        }
        if self.interval_seconds == 0 {
            return None;
        }
        // Out of lockout once counter < max_tries.
        let steps = u64::from(self.counter.saturating_sub(self.max_tries)) + 1;
        Some(steps.saturating_mul(u64::from(self.interval_seconds)))
    }

    /// Failed PINs left before lockout.
    pub fn tries_left(&self) -> u32 {
        if self.in_lockout {
            0
        } else {
            self.max_tries.saturating_sub(self.counter)
        }
    }
}

impl Tpm {
    /// Read the dictionary-attack state (uncached).
    pub fn dictionary_attack_state(&mut self) -> Result<DaState, TpmError> {
        let permanent = self.property(PropertyTag::Permanent)?.unwrap_or(0);
        // TPM_PT_LOCKOUT_COUNTER (0x20E) .. TPM_PT_LOCKOUT_RECOVERY (0x211): one call.
        let list = self.properties(PropertyTag::LockoutCounter, 4)?;
        let get = |tag| list.find(tag).map(|p| p.value()).unwrap_or(0);
        Ok(DaState {
            counter: get(PropertyTag::LockoutCounter),
            max_tries: get(PropertyTag::MaxAuthFail),
            interval_seconds: get(PropertyTag::LockoutInterval),
            lockout_recovery_seconds: get(PropertyTag::LockoutRecovery),
            in_lockout: permanent & TPMA_PERMANENT_IN_LOCKOUT != 0,
        })
    }

    /// Fill in the wait of a [`TpmError::LockedOut`] from the TPM's current state.
    pub(crate) fn with_lockout_wait(&mut self, e: TpmError) -> TpmError {
        match e {
            TpmError::LockedOut { .. } => {
                let recovery_seconds = self
                    .dictionary_attack_state()
                    .ok()
                    .and_then(|s| s.recovery_seconds());
                TpmError::LockedOut { recovery_seconds }
            }
            other => other,
        }
    }
}

/// The parameters of TPM2_DictionaryAttackParameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaParameters {
    /// newMaxTries: failures before lockout.
    pub max_tries: u32,
    /// newRecoveryTime: seconds after which one failure is forgotten (0 disables the
    /// protection's self-healing: only a lockout reset clears the count).
    pub recovery_time: u32,
    /// lockoutRecovery: seconds the lockout hierarchy stays locked after a wrong lockout
    /// authorisation.
    pub lockout_recovery: u32,
}

/// Set the dictionary-attack parameters (TPM2_DictionaryAttackParameters), authorised with
/// the lockout hierarchy's `lockout_auth` (empty on a fresh TPM).
///
/// tss-esapi 7 has no safe wrapper for this command, so it runs tpm2-tools'
/// `tpm2_dictionarylockout` on `tcti`. On a TPM without a resource manager that accepts
/// one connection at a time (swtpm), call it while no [`Tpm`] is open on the same TPM.
/// For tests and first-time setup; a wrong `lockout_auth` locks the lockout hierarchy
/// for `lockout_recovery` seconds.
pub fn set_dictionary_attack_parameters(
    tcti: &Tcti,
    params: DaParameters,
    lockout_auth: &[u8],
) -> Result<(), TpmError> {
    if lockout_auth.len() > MAX_AUTH_LEN {
        return Err(TpmError::AuthTooLong {
            len: lockout_auth.len(),
            max: MAX_AUTH_LEN,
        });
    }
    let mut cmd = Command::new("tpm2_dictionarylockout");
    cmd.arg("--tcti")
        .arg(tcti.as_str())
        .arg("--setup-parameters")
        .arg("--max-tries")
        .arg(params.max_tries.to_string())
        .arg("--recovery-time")
        .arg(params.recovery_time.to_string())
        .arg("--lockout-recovery-time")
        .arg(params.lockout_recovery.to_string());
    if !lockout_auth.is_empty() {
        let hex: String = lockout_auth.iter().map(|b| format!("{b:02x}")).collect();
        cmd.arg("--auth").arg(format!("hex:{hex}"));
    }
    let out = cmd.output().map_err(|e| TpmError::ToolFailed {
        tool: "tpm2_dictionarylockout",
        detail: format!("cannot run: {e}"),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr: String = String::from_utf8_lossy(&out.stderr)
        .chars()
        .take(2000)
        .collect();
    // TPM_RC_AUTH_FAIL / TPM_RC_BAD_AUTH on session 1, TPM_RC_LOCKOUT.
    // tpm2-tools prints the code as "(0x98E)" and as "ErrorCode (0x0000098e)".
    let lower = stderr.to_ascii_lowercase();
    if ["98e", "9a2", "921"]
        .iter()
        .any(|c| lower.contains(&format!("(0x{c})")) || lower.contains(&format!("0x00000{c}")))
    {
        return Err(TpmError::LockoutAuthRefused { detail: stderr });
    }
    Err(TpmError::ToolFailed {
        tool: "tpm2_dictionarylockout",
        detail: format!("{}: {stderr}", out.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(counter: u32, max_tries: u32, interval: u32, in_lockout: bool) -> DaState {
        DaState {
            counter,
            max_tries,
            interval_seconds: interval,
            lockout_recovery_seconds: 0,
            in_lockout,
        }
    }

    #[test]
    fn recovery_estimate() {
        assert_eq!(state(1, 3, 10, false).recovery_seconds(), Some(0));
        assert_eq!(state(3, 3, 10, true).recovery_seconds(), Some(10));
        assert_eq!(state(5, 3, 10, true).recovery_seconds(), Some(30));
        assert_eq!(state(3, 3, 0, true).recovery_seconds(), None);
        assert_eq!(state(2, 3, 10, false).tries_left(), 1);
        assert_eq!(state(3, 3, 10, true).tries_left(), 0);
    }
}
