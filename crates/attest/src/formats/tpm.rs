//! `tpm` attestation (WebAuthn Level 2, 8.3), built on [`crate::tpm`].
//!
//! ```text
//! tpmStmtFormat = { ver: "2.0", alg: COSEAlgorithmIdentifier, x5c: [ aikCert: bytes, * (caCert: bytes) ],
//!                   sig: bytes, certInfo: bytes (TPMS_ATTEST), pubArea: bytes (TPMT_PUBLIC) }
//! certInfo.extraData = H_alg(authenticatorData || clientDataHash)
//! ```

use crate::chain::{cert_key, parse_cert};
use crate::error::AttestError;
use crate::tpm::aik::check_aik_certificate;
use crate::tpm::attest::TpmsAttest;
use crate::tpm::public::TpmtPublic;
use crate::tpm::verify_certify;

use super::{AttestationType, StatementInput, StatementOutcome};

pub(super) fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestError> {
    if input.text("ver")? != "2.0" {
        return Err(AttestError::StatementMalformed {
            format: "tpm",
            detail: "ver is not \"2.0\"".into(),
        });
    }
    if input.member("ecdaaKeyId").is_some() {
        return Err(AttestError::StatementMalformed {
            format: "tpm",
            detail: "ECDAA is not supported".into(),
        });
    }
    // RS1 is refused here unless the SHA-1 policy allows it (see `StatementInput::alg`).
    let alg = input.alg()?;
    let sig = input.bytes("sig")?;
    let pub_area = input.bytes("pubArea")?;
    let cert_info = input.bytes("certInfo")?;
    let public = TpmtPublic::parse(pub_area)?;
    if public.public_key()? != input.credential.public_key.key {
        return Err(AttestError::CredentialKeyMismatch {
            what: "TPM pubArea key",
        });
    }
    let attest = TpmsAttest::parse(cert_info)?;
    verify_certify(&attest, pub_area, &alg.digest(&input.signed_data()))?;
    let x5c = input.x5c_required()?;
    let aik = parse_cert(input.leaf(&x5c)?, 0)?;
    check_aik_certificate(&aik, Some(&input.credential.aaguid))?;
    if !cert_key(&aik, 0)?.verify(alg, cert_info, sig)? {
        return Err(input.bad_signature());
    }
    let chain = input.validate(&x5c)?;
    Ok(StatementOutcome {
        attestation_type: AttestationType::AttCa,
        chain: Some(chain),
    })
}
