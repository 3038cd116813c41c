//! The one error type of this crate, with a stable code per variant.
//!
//! Codes (`LK-TPM-001` ..) are part of the interface: they appear in the agent's messages,
//! its event log and `docs/tpm.md`. A code is never reused for a different meaning.

use thiserror::Error;
use tss_esapi::constants::response_code::Tss2ResponseCode;

/// Why a TPM operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TpmError {
    /// The TPM cannot be reached: the TCTI could not be loaded or connected, or the TPM
    /// does not answer.
    #[error("LK-TPM-001: TPM unavailable: {reason}")]
    Unavailable {
        /// What failed, in words (the TCTI string and the TSS error).
        reason: String,
    },
    /// The TCTI string is not one this crate accepts.
    #[error("LK-TPM-002: invalid TCTI {tcti:?}: {reason}")]
    InvalidTcti {
        /// The string given.
        tcti: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The authorisation value (the PIN) is wrong. The TPM counted the failure against
    /// its dictionary-attack protection.
    #[error("LK-TPM-003: wrong authorisation value (PIN); the TPM counted the failure")]
    WrongAuth,
    /// The TPM is in dictionary-attack lockout and refuses every use of a protected key,
    /// with the right PIN too.
    #[error("LK-TPM-004: the TPM is locked out after too many wrong PINs; {}", lockout_wait(*.recovery_seconds))]
    LockedOut {
        /// How many seconds until the TPM accepts a PIN again (an upper estimate), or
        /// `None` when it does not recover by itself (a recovery interval of 0: only
        /// TPM2_DictionaryAttackLockReset with the lockout authorisation clears it).
        recovery_seconds: Option<u64>,
    },
    /// The key blob was not made by this TPM (or under another storage key): the TPM's
    /// integrity check of the wrapped private part failed.
    #[error("LK-TPM-005: the key was not made by this TPM (the TPM refused to load it: {detail})")]
    NotThisTpm {
        /// The TPM's response code, in words.
        detail: String,
    },
    /// Stored key bytes do not parse as the TPM structure they should be.
    #[error("LK-TPM-006: malformed {what}: {detail}")]
    InvalidBlob {
        /// Which structure (`TPM2B_PRIVATE`, `TPMT_PUBLIC` ..).
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An authorisation value longer than the key's name algorithm allows (32 bytes for
    /// SHA-256).
    #[error("LK-TPM-007: authorisation value is {len} bytes, at most {max} allowed")]
    AuthTooLong {
        /// Length given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The TPM refused a command for another reason.
    #[error("LK-TPM-008: TPM command {command} failed: response code {rc:#x} ({detail})")]
    Command {
        /// The command (`TPM2_Create` ..).
        command: &'static str,
        /// The raw TSS2 response code (layer included).
        rc: u32,
        /// The response code in words.
        detail: String,
    },
    /// The TSS library refused the parameters or an answer before or after the TPM ran.
    #[error("LK-TPM-009: TSS error in {command}: {detail}")]
    Tss {
        /// The command.
        command: &'static str,
        /// The TSS library's message.
        detail: String,
    },
    /// The TPM is not a TPM 2.0 (its family indicator says otherwise, e.g. "1.2").
    #[error("LK-TPM-010: not a TPM 2.0 (family {family:?})")]
    NotTpm20 {
        /// The family found.
        family: String,
    },
    /// The TPM holds no EK certificate at the NV index the TCG EK Credential Profile names.
    #[error("LK-TPM-011: no EK certificate in NV index {index:#010x}: {detail}")]
    NoEkCertificate {
        /// The NV index read.
        index: u32,
        /// Why the read failed.
        detail: String,
    },
    /// The TPM returned a key or signature of an unexpected kind.
    #[error("LK-TPM-012: unexpected TPM object: {detail}")]
    UnexpectedObject {
        /// What was unexpected.
        detail: &'static str,
    },
    /// An external tpm2-tools program failed (used where tss-esapi has no safe wrapper).
    #[error("LK-TPM-013: {tool} failed: {detail}")]
    ToolFailed {
        /// The program.
        tool: &'static str,
        /// Its exit status and standard error (bounded).
        detail: String,
    },
    /// The lockout hierarchy's authorisation is wrong (or the lockout hierarchy itself is
    /// locked out after a wrong lockout authorisation).
    #[error("LK-TPM-014: the lockout hierarchy refused the authorisation: {detail}")]
    LockoutAuthRefused {
        /// The tool's message.
        detail: String,
    },
    /// The swtpm test harness could not manufacture or start a simulator.
    #[error("LK-TPM-015: swtpm harness: {detail}")]
    SwTpm {
        /// What failed.
        detail: String,
    },
}

impl TpmError {
    /// The stable code (`LK-TPM-001` ..) of this error.
    pub fn code(&self) -> &'static str {
        match self {
            TpmError::Unavailable { .. } => "LK-TPM-001",
            TpmError::InvalidTcti { .. } => "LK-TPM-002",
            TpmError::WrongAuth => "LK-TPM-003",
            TpmError::LockedOut { .. } => "LK-TPM-004",
            TpmError::NotThisTpm { .. } => "LK-TPM-005",
            TpmError::InvalidBlob { .. } => "LK-TPM-006",
            TpmError::AuthTooLong { .. } => "LK-TPM-007",
            TpmError::Command { .. } => "LK-TPM-008",
            TpmError::Tss { .. } => "LK-TPM-009",
            TpmError::NotTpm20 { .. } => "LK-TPM-010",
            TpmError::NoEkCertificate { .. } => "LK-TPM-011",
            TpmError::UnexpectedObject { .. } => "LK-TPM-012",
            TpmError::ToolFailed { .. } => "LK-TPM-013",
            TpmError::LockoutAuthRefused { .. } => "LK-TPM-014",
            TpmError::SwTpm { .. } => "LK-TPM-015",
        }
    }
}

fn lockout_wait(recovery_seconds: Option<u64>) -> String {
    match recovery_seconds {
        Some(s) => format!("try again in at most {s} s"),
        None => "it does not recover by itself: the lockout must be reset with the TPM's lockout authorisation".to_string(),
    }
}

/// TSS2 layer of a response code (bits 16..24): 0 is the TPM itself.
const LAYER_MASK: u32 = 0x00ff_0000;
/// Format-one bit (bit 7): the error carries a parameter, handle or session number.
const RC_FMT1: u32 = 0x080;
/// Format-zero warning bit (bit 11, with bit 8 "version 1").
const RC_WARN: u32 = 0x900;
/// TPM_RC_AUTH_FAIL (RC_FMT1 + 0x00E).
const RC_AUTH_FAIL: u32 = RC_FMT1 + 0x00e;
/// TPM_RC_BAD_AUTH (RC_FMT1 + 0x022).
const RC_BAD_AUTH: u32 = RC_FMT1 + 0x022;
/// TPM_RC_INTEGRITY (RC_FMT1 + 0x01F).
const RC_INTEGRITY: u32 = RC_FMT1 + 0x01f;
/// TPM_RC_LOCKOUT (RC_WARN + 0x021).
const RC_LOCKOUT: u32 = RC_WARN + 0x021;

/// What a raw TSS2 response code means to this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RcClass {
    /// TPM_RC_AUTH_FAIL or TPM_RC_BAD_AUTH, whatever handle or session it names.
    WrongAuth,
    /// TPM_RC_LOCKOUT.
    Lockout,
    /// TPM_RC_INTEGRITY, whatever parameter it names.
    Integrity,
    /// A code from a TSS layer below the TPM (TCTI: connection, device, socket).
    Transport,
    /// Anything else.
    Other,
}

/// TSS2 layer of the TCTI (TSS2_TCTI_RC_LAYER, 10 << 16).
const TCTI_LAYER: u32 = 10 << 16;
/// TSS2 layer of the resource manager's TCTI (TSS2_RESMGR_TPM_RC_LAYER, 11 << 16) and of
/// the resource manager itself (12 << 16).
const RESMGR_LAYERS: [u32; 2] = [11 << 16, 12 << 16];

/// Classify a raw TSS2 response code.
pub(crate) fn classify(rc: u32) -> RcClass {
    let layer = rc & LAYER_MASK;
    if layer == TCTI_LAYER || RESMGR_LAYERS.contains(&layer) {
        return RcClass::Transport;
    }
    if layer != 0 {
        return RcClass::Other;
    }
    let code = rc & 0xffff;
    if code & RC_FMT1 != 0 {
        // Format one: bits 0..6 error number, bit 6 parameter flag, bits 8..12 number.
        match (code & 0x3f) | RC_FMT1 {
            RC_AUTH_FAIL | RC_BAD_AUTH => RcClass::WrongAuth,
            RC_INTEGRITY => RcClass::Integrity,
            _ => RcClass::Other,
        }
    } else if code & 0xfff == RC_LOCKOUT {
        RcClass::Lockout
    } else {
        RcClass::Other
    }
}

/// The raw value of a TSS2 response code.
pub(crate) fn raw_rc(rc: Tss2ResponseCode) -> u32 {
    use bitfield::BitRange;
    match rc {
        Tss2ResponseCode::Success => 0,
        Tss2ResponseCode::FormatZero(c) => c.bit_range(31, 0),
        Tss2ResponseCode::FormatOne(c) => c.bit_range(31, 0),
    }
}

/// Map a tss-esapi error from `command` to this crate's error, without the
/// dictionary-attack context (a lockout then carries no wait; see
/// [`crate::Tpm`]'s methods, which fill it in).
pub(crate) fn from_tss(command: &'static str, err: tss_esapi::Error) -> TpmError {
    match err {
        tss_esapi::Error::WrapperError(kind) => TpmError::Tss {
            command,
            detail: kind.to_string(),
        },
        tss_esapi::Error::Tss2Error(rc) => {
            let raw = raw_rc(rc);
            match classify(raw) {
                RcClass::WrongAuth => TpmError::WrongAuth,
                RcClass::Lockout => TpmError::LockedOut {
                    recovery_seconds: None,
                },
                RcClass::Transport => TpmError::Unavailable {
                    reason: format!("{command}: TCTI error {raw:#x} ({rc})"),
                },
                RcClass::Integrity | RcClass::Other => TpmError::Command {
                    command,
                    rc: raw,
                    detail: rc.to_string(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_auth_codes_with_session_and_handle_bits() {
        // TPM_RC_AUTH_FAIL on session 1 (TPM_RC_S + TPM_RC_1 + TPM_RC_AUTH_FAIL), as a
        // password session reports it.
        assert_eq!(classify(0x98e), RcClass::WrongAuth);
        assert_eq!(classify(0x08e), RcClass::WrongAuth);
        // TPM_RC_BAD_AUTH on session 2 and on handle 1.
        assert_eq!(classify(0xaa2), RcClass::WrongAuth);
        assert_eq!(classify(0x1a2), RcClass::WrongAuth);
        assert_eq!(classify(0x921), RcClass::Lockout);
        // TPM_RC_INTEGRITY on parameter 1 (TPM_RC_P + TPM_RC_1).
        assert_eq!(classify(0x1df), RcClass::Integrity);
        // TCTI layer: TSS2_BASE_RC_IO_ERROR.
        assert_eq!(classify(0x000a_000a), RcClass::Transport);
        // The same code number from the ESAPI layer is not the TPM's.
        assert_eq!(classify(0x0007_098e), RcClass::Other);
        // TPM_RC_SIZE.
        assert_eq!(classify(0x0d5), RcClass::Other);
    }

    #[test]
    fn every_code_is_in_the_message() {
        let errors = [
            TpmError::WrongAuth,
            TpmError::LockedOut {
                recovery_seconds: Some(7),
            },
            TpmError::LockedOut {
                recovery_seconds: None,
            },
            TpmError::NotThisTpm { detail: "x".into() },
        ];
        for e in errors {
            assert!(e.to_string().starts_with(e.code()), "{e}");
        }
        assert!(TpmError::LockedOut {
            recovery_seconds: Some(7)
        }
        .to_string()
        .contains("7 s"));
    }
}
