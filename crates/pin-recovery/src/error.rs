//! Why a recovery operation failed, with the stable codes users see.

/// A recovery blob, answer or wrap could not be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// A field is not valid base64url or has the wrong length.
    #[error("LK-REC-001: the {field} is malformed: {detail}")]
    Malformed {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The ciphertext does not open under this key with this additional data: it was made
    /// for another key, device, user or request, or it was altered.
    #[error("LK-REC-002: the {what} does not open: it was made for another key, device, user or request, or altered")]
    DoesNotOpen {
        /// What did not open.
        what: &'static str,
    },
    /// The suite named is not the one this version speaks.
    #[error("LK-REC-003: unknown PIN-recovery suite {suite:?}")]
    UnknownSuite {
        /// The suite named.
        suite: String,
    },
    /// Sealing failed (should not happen for valid keys).
    #[error("LK-REC-004: the {what} could not be sealed")]
    Seal {
        /// What could not be sealed.
        what: &'static str,
    },
}

impl RecoveryError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            RecoveryError::Malformed { .. } => "LK-REC-001",
            RecoveryError::DoesNotOpen { .. } => "LK-REC-002",
            RecoveryError::UnknownSuite { .. } => "LK-REC-003",
            RecoveryError::Seal { .. } => "LK-REC-004",
        }
    }
}
