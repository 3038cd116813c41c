//! `fido-u2f` attestation (WebAuthn Level 2, 8.6).
//!
//! ```text
//! u2fStmtFormat = { x5c: [ attestnCert: bytes ], sig: bytes }
//! verificationData = 0x00 || rpIdHash || clientDataHash || credentialId || publicKeyU2F
//! publicKeyU2F     = 0x04 || x || y   (P-256)
//! ```

use crate::chain::{cert_key, parse_cert};
use crate::crypto::{CoseAlg, Curve, PublicKey};
use crate::error::AttestError;

use super::{AttestationType, StatementInput, StatementOutcome};

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    let sig = input.bytes("sig")?;
    let x5c = input.x5c_required()?;
    let [leaf_der] = x5c.as_slice() else {
        return Err(AttestError::StatementMalformed {
            format: "fido-u2f",
            detail: "x5c must hold exactly one certificate".into(),
        });
    };
    let leaf = parse_cert(leaf_der, 0)?;
    let key = cert_key(&leaf, 0)?;
    if !matches!(
        key,
        PublicKey::Ec {
            curve: Curve::P256,
            ..
        }
    ) {
        return Err(input.requirement("certificate key must be EC P-256"));
    }
    let PublicKey::Ec {
        curve: Curve::P256,
        point,
    } = &input.credential.public_key.key
    else {
        return Err(AttestError::AlgorithmMismatch {
            detail: "fido-u2f credential key must be EC2 P-256".into(),
        });
    };
    let mut data = Vec::with_capacity(1 + 32 + 32 + input.credential.credential_id.len() + 65);
    data.push(0x00);
    data.extend_from_slice(&input.auth_data.rp_id_hash);
    data.extend_from_slice(input.client_data_hash);
    data.extend_from_slice(&input.credential.credential_id);
    data.extend_from_slice(point);
    if !key.verify(CoseAlg::Es256, &data, sig)? {
        return Err(input.bad_signature());
    }
    let chain = input.validate(&x5c)?;
    Ok(StatementOutcome {
        attestation_type: AttestationType::Basic,
        chain: Some(chain),
    })
}
