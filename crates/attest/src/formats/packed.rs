//! `packed` attestation (WebAuthn Level 2, 8.2).
//!
//! ```text
//! packedStmtFormat = { alg: COSEAlgorithmIdentifier, sig: bytes, x5c: [ attestnCert: bytes, * (caCert: bytes) ] }
//!                  / { alg: COSEAlgorithmIdentifier, sig: bytes }            ; self attestation
//! ```

use crate::certs::{check_aaguid_extension, require_not_ca, require_v3};
use crate::chain::{cert_key, parse_cert};
use crate::error::AttestError;

use super::{AttestationType, StatementInput, StatementOutcome};

/// The OU every packed attestation certificate must carry.
const REQUIRED_OU: &str = "Authenticator Attestation";

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    let alg = input.alg()?;
    let sig = input.bytes("sig")?;
    let msg = input.signed_data();
    match input.x5c()? {
        Some(x5c) => {
            let leaf = parse_cert(input.leaf(&x5c)?, 0)?;
            check_aaguid_extension(&leaf, &input.credential.aaguid, "packed")?;
            require_v3(&leaf, "packed")?;
            require_not_ca(&leaf, "packed")?;
            let subject = leaf.subject();
            if subject.iter_country().next().is_none()
                || subject.iter_organization().next().is_none()
                || subject.iter_common_name().next().is_none()
            {
                return Err(input.requirement("subject must have C, O, OU and CN"));
            }
            let ou_ok = subject
                .iter_organizational_unit()
                .any(|a| a.as_str().is_ok_and(|s| s == REQUIRED_OU));
            if !ou_ok {
                return Err(input.requirement("subject OU must be 'Authenticator Attestation'"));
            }
            let key = cert_key(&leaf, 0)?;
            if !key.verify(alg, &msg, sig)? {
                return Err(input.bad_signature());
            }
            let chain = input.validate(&x5c)?;
            Ok(StatementOutcome {
                attestation_type: AttestationType::Basic,
                chain: Some(chain),
            })
        }
        None => {
            if !input.policy.allow_self_attestation {
                return Err(input.requirement("self attestation not allowed by policy"));
            }
            let cred = &input.credential.public_key;
            if alg != cred.alg {
                return Err(AttestError::AlgorithmMismatch {
                    detail: format!(
                        "self attestation alg {} differs from credential alg {}",
                        alg.name(),
                        cred.alg.name()
                    ),
                });
            }
            if !cred.key.verify(alg, &msg, sig)? {
                return Err(input.bad_signature());
            }
            Ok(StatementOutcome {
                attestation_type: AttestationType::SelfAttestation,
                chain: None,
            })
        }
    }
}
