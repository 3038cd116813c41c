//! One module per attestation statement format (WebAuthn Level 2, section 8), all behind
//! one entry point, [`verify_statement`].

use ciborium::value::Value;
use time::OffsetDateTime;

use crate::authdata::{AttestedCredential, AuthenticatorData};
use crate::chain::{validate_chain, ValidatedChain};
use crate::cose::as_int;
use crate::crypto::CoseAlg;
use crate::error::AttestError;
use crate::options::{AttestationFormat, RegistrationPolicy, Sha1Policy};

mod android_key;
mod android_safetynet;
mod apple;
mod fido_u2f;
mod none;
mod packed;
mod tpm;

/// The kind of attestation that was verified (WebAuthn Level 2, 6.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationType {
    /// No attestation (`none`): nothing is known about the authenticator.
    None,
    /// Self attestation: signed with the credential key itself.
    SelfAttestation,
    /// Basic attestation: a batch certificate chained to a trusted root.
    Basic,
    /// Attestation CA: an AIK certificate issued by a CA (TPM).
    AttCa,
    /// Anonymization CA: a per-credential certificate (Apple).
    AnonCa,
}

/// Everything a format verifier looks at.
pub(crate) struct StatementInput<'a> {
    pub format: AttestationFormat,
    pub att_stmt: &'a [(Value, Value)],
    pub auth_data_raw: &'a [u8],
    pub auth_data: &'a AuthenticatorData,
    pub credential: &'a AttestedCredential,
    pub client_data_hash: &'a [u8; 32],
    pub policy: &'a RegistrationPolicy,
    pub at: OffsetDateTime,
}

impl StatementInput<'_> {
    /// authenticatorData || clientDataHash, the message most formats sign.
    pub fn signed_data(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.auth_data_raw.len() + 32);
        m.extend_from_slice(self.auth_data_raw);
        m.extend_from_slice(self.client_data_hash);
        m
    }

    fn name(&self) -> &'static str {
        self.format.as_str()
    }

    fn malformed(&self, detail: impl Into<String>) -> AttestError {
        AttestError::StatementMalformed {
            format: self.name(),
            detail: detail.into(),
        }
    }

    /// The member `key` of attStmt.
    pub fn member(&self, key: &str) -> Option<&Value> {
        self.att_stmt
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
    }

    /// attStmt.alg as a supported COSE algorithm. RS1 is refused except in `tpm`
    /// statements under [`Sha1Policy::AllowTpmRs1`].
    pub fn alg(&self) -> Result<CoseAlg, AttestError> {
        let n = self
            .member("alg")
            .and_then(as_int)
            .ok_or_else(|| self.malformed("alg missing or not an integer"))?;
        let n = i64::try_from(n).map_err(|_| self.malformed("alg out of range"))?;
        let alg = CoseAlg::from_i64(n)?;
        let rs1_allowed =
            self.format == AttestationFormat::Tpm && self.policy.sha1 == Sha1Policy::AllowTpmRs1;
        if alg == CoseAlg::Rs1 && !rs1_allowed {
            return Err(AttestError::InsecureAlgorithmRefused { alg: "RS1" });
        }
        Ok(alg)
    }

    /// A byte-string member.
    pub fn bytes(&self, key: &str) -> Result<&[u8], AttestError> {
        match self.member(key) {
            Some(Value::Bytes(b)) => Ok(b),
            _ => Err(self.malformed(format!("{key} missing or not a byte string"))),
        }
    }

    /// A text member.
    pub fn text(&self, key: &str) -> Result<&str, AttestError> {
        match self.member(key) {
            Some(Value::Text(t)) => Ok(t),
            _ => Err(self.malformed(format!("{key} missing or not a text string"))),
        }
    }

    /// attStmt.x5c, if present: a non-empty array of DER certificates.
    pub fn x5c(&self) -> Result<Option<Vec<Vec<u8>>>, AttestError> {
        let Some(v) = self.member("x5c") else {
            return Ok(None);
        };
        let Value::Array(items) = v else {
            return Err(self.malformed("x5c is not an array"));
        };
        if items.is_empty() {
            return Err(self.malformed("x5c is empty"));
        }
        items
            .iter()
            .map(|i| match i {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(self.malformed("x5c element is not a byte string")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// attStmt.x5c, required.
    pub fn x5c_required(&self) -> Result<Vec<Vec<u8>>, AttestError> {
        self.x5c()?.ok_or_else(|| self.malformed("x5c missing"))
    }

    /// The leaf (first) certificate of `x5c`; [`Self::x5c`] never returns an empty chain,
    /// but the leaf is taken checked all the same.
    pub fn leaf<'x>(&self, x5c: &'x [Vec<u8>]) -> Result<&'x [u8], AttestError> {
        x5c.first()
            .map(Vec::as_slice)
            .ok_or_else(|| self.malformed("x5c is empty"))
    }

    /// Validate `x5c` to the trust anchors configured for this format.
    pub fn validate(&self, x5c: &[Vec<u8>]) -> Result<ValidatedChain, AttestError> {
        let anchors = self.policy.trust_anchors.for_format(self.format);
        validate_chain(x5c, &anchors, self.at)
    }

    /// The error for a signature that does not verify.
    pub fn bad_signature(&self) -> AttestError {
        AttestError::AttestationSignatureInvalid {
            format: self.name(),
        }
    }

    /// The error for a failed certificate requirement.
    pub fn requirement(&self, requirement: &'static str) -> AttestError {
        AttestError::CertificateRequirement {
            format: self.name(),
            requirement,
        }
    }
}

/// What a format verifier established.
pub(crate) struct StatementOutcome {
    pub attestation_type: AttestationType,
    pub chain: Option<ValidatedChain>,
}

/// Verify the attestation statement of `input.format`.
pub(crate) fn verify_statement(
    input: &StatementInput<'_>,
) -> Result<StatementOutcome, AttestError> {
    match input.format {
        AttestationFormat::Packed => packed::verify(input),
        AttestationFormat::Tpm => tpm::verify(input),
        AttestationFormat::FidoU2f => fido_u2f::verify(input),
        AttestationFormat::None => none::verify(input),
        AttestationFormat::AndroidKey => android_key::verify(input),
        AttestationFormat::Apple => apple::verify(input),
        AttestationFormat::AndroidSafetyNet => android_safetynet::verify(input),
    }
}
