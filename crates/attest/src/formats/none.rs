//! `none` attestation (WebAuthn Level 2, 8.7): an empty statement, nothing to verify.

use crate::error::AttestError;

use super::{AttestationType, StatementInput, StatementOutcome};

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    if !input.policy.allow_none_attestation {
        return Err(AttestError::UnsupportedFormat {
            fmt: "none (refused by policy)".into(),
        });
    }
    if !input.att_stmt.is_empty() {
        return Err(AttestError::StatementMalformed {
            format: "none",
            detail: "attStmt must be an empty map".into(),
        });
    }
    Ok(StatementOutcome {
        attestation_type: AttestationType::None,
        chain: None,
    })
}
