//! Registration: verify a new credential and its attestation (WebAuthn Level 2, 7.1).

use ciborium::value::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::authdata::{AuthenticatorData, Flags};
use crate::chain::ValidatedChain;
use crate::clientdata::{self, Ceremony};
use crate::cose::{read_cbor_item, CoseKey};
use crate::crypto::CoseAlg;
use crate::error::AttestError;
use crate::formats::{verify_statement, AttestationType, StatementInput};
use crate::options::{AttestationFormat, Expected, RegistrationPolicy, MAX_INPUT_LEN};

/// The two members of an AuthenticatorAttestationResponse, as bytes.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationResponse<'a> {
    /// clientDataJSON, exactly as received.
    pub client_data_json: &'a [u8],
    /// attestationObject (CBOR).
    pub attestation_object: &'a [u8],
}

/// A credential whose registration passed every check: the only way to get one is
/// [`verify_registration`], so holding one proves the checks ran.
#[derive(Debug, Clone)]
pub struct VerifiedRegistration {
    format: AttestationFormat,
    attestation_type: AttestationType,
    chain: Option<ValidatedChain>,
    credential_id: Vec<u8>,
    public_key: CoseKey,
    public_key_cose: Vec<u8>,
    aaguid: [u8; 16],
    sign_count: u32,
    flags: Flags,
}

impl VerifiedRegistration {
    /// The attestation format.
    pub fn format(&self) -> AttestationFormat {
        self.format
    }
    /// The attestation type established.
    pub fn attestation_type(&self) -> AttestationType {
        self.attestation_type
    }
    /// The validated chain, when the format has one.
    pub fn chain(&self) -> Option<&ValidatedChain> {
        self.chain.as_ref()
    }
    /// The credential ID.
    pub fn credential_id(&self) -> &[u8] {
        &self.credential_id
    }
    /// The credential public key, decoded.
    pub fn public_key(&self) -> &CoseKey {
        &self.public_key
    }
    /// The credential public key as COSE_Key bytes (store these for assertions).
    pub fn public_key_cose(&self) -> &[u8] {
        &self.public_key_cose
    }
    /// The authenticator's AAGUID.
    pub fn aaguid(&self) -> [u8; 16] {
        self.aaguid
    }
    /// The initial signature counter.
    pub fn sign_count(&self) -> u32 {
        self.sign_count
    }
    /// Whether the user was verified (UV).
    pub fn user_verified(&self) -> bool {
        self.flags.user_verified()
    }
    /// Whether the credential may be backed up (BE) and is (BS).
    pub fn backup_state(&self) -> (bool, bool) {
        (self.flags.backup_eligible(), self.flags.backed_up())
    }
}

fn malformed(detail: impl Into<String>) -> AttestError {
    AttestError::AttestationObjectMalformed {
        detail: detail.into(),
    }
}

/// The three members of an attestation object.
struct AttestationObject {
    fmt: String,
    att_stmt: Vec<(Value, Value)>,
    auth_data: Vec<u8>,
}

fn parse_attestation_object(bytes: &[u8]) -> Result<AttestationObject, AttestError> {
    if bytes.len() > MAX_INPUT_LEN {
        return Err(AttestError::LimitExceeded {
            what: "attestation object",
            limit: MAX_INPUT_LEN,
        });
    }
    let mut rest = bytes;
    let value = read_cbor_item(&mut rest).map_err(malformed)?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    let Value::Map(map) = value else {
        return Err(malformed("not a CBOR map"));
    };
    let (mut fmt, mut att_stmt, mut auth_data) = (None, None, None);
    for (k, v) in map {
        match (k, v) {
            (Value::Text(k), Value::Text(v)) if k == "fmt" => fmt = Some(v),
            (Value::Text(k), Value::Map(v)) if k == "attStmt" => att_stmt = Some(v),
            (Value::Text(k), Value::Bytes(v)) if k == "authData" => auth_data = Some(v),
            (Value::Text(k), _) => return Err(malformed(format!("unexpected member {k:?}"))),
            _ => return Err(malformed("non-text key")),
        }
    }
    Ok(AttestationObject {
        fmt: fmt.ok_or(malformed("fmt missing"))?,
        att_stmt: att_stmt.ok_or(malformed("attStmt missing"))?,
        auth_data: auth_data.ok_or(malformed("authData missing"))?,
    })
}

/// Verify a registration: clientDataJSON, authenticator data, and the attestation
/// statement of its format, with certificate chains validated at time `at`.
pub fn verify_registration(
    response: &RegistrationResponse<'_>,
    expected: &Expected,
    policy: &RegistrationPolicy,
    at: OffsetDateTime,
) -> Result<VerifiedRegistration, AttestError> {
    let client = clientdata::check(
        response.client_data_json,
        Ceremony::Create,
        expected,
        policy.allow_cross_origin,
    )?;
    let object = parse_attestation_object(response.attestation_object)?;
    let auth = AuthenticatorData::parse(&object.auth_data)?;
    let rp_hash: [u8; 32] = Sha256::digest(expected.rp_id.as_bytes()).into();
    if auth.rp_id_hash != rp_hash {
        return Err(AttestError::RpIdHashMismatch {
            rp_id: expected.rp_id.clone(),
        });
    }
    if policy.require_user_presence && !auth.flags.user_present() {
        return Err(AttestError::UserPresenceMissing);
    }
    if policy.require_user_verification && !auth.flags.user_verified() {
        return Err(AttestError::UserVerificationMissing);
    }
    let credential = auth
        .attested
        .as_ref()
        .ok_or(AttestError::MissingCredentialData)?;
    // Credentials that would sign assertions with SHA-1 are never registered.
    if credential.public_key.alg == CoseAlg::Rs1 {
        return Err(AttestError::InsecureAlgorithmRefused { alg: "RS1" });
    }
    let format = AttestationFormat::from_fmt(&object.fmt)?;
    let outcome = verify_statement(&StatementInput {
        format,
        att_stmt: &object.att_stmt,
        auth_data_raw: &object.auth_data,
        auth_data: &auth,
        credential,
        client_data_hash: &client.hash,
        policy,
        at,
    })?;
    Ok(VerifiedRegistration {
        format,
        attestation_type: outcome.attestation_type,
        chain: outcome.chain,
        credential_id: credential.credential_id.clone(),
        public_key: credential.public_key.clone(),
        public_key_cose: credential.public_key_cose.clone(),
        aaguid: credential.aaguid,
        sign_count: auth.sign_count,
        flags: auth.flags,
    })
}
