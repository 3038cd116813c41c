//! Authentication: verify an assertion with a stored credential (WebAuthn Level 2, 7.2).
//!
//! The signature is over `authenticatorData || SHA-256(clientDataJSON)`.

use sha2::{Digest, Sha256};

use crate::authdata::AuthenticatorData;
use crate::clientdata::{self, Ceremony};
use crate::cose::CoseKey;
use crate::crypto::CoseAlg;
use crate::error::AttestError;
use crate::options::{AssertionOptions, CounterPolicy, Expected};

/// The members of an AuthenticatorAssertionResponse, as bytes.
#[derive(Debug, Clone, Copy)]
pub struct AssertionResponse<'a> {
    /// The credential ID the client used (`rawId`).
    pub credential_id: &'a [u8],
    /// clientDataJSON, exactly as received.
    pub client_data_json: &'a [u8],
    /// authenticatorData.
    pub authenticator_data: &'a [u8],
    /// signature.
    pub signature: &'a [u8],
}

/// What the relying party stored at registration.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The credential public key as COSE_Key bytes.
    pub public_key_cose: Vec<u8>,
    /// The last signature counter seen.
    pub sign_count: u32,
}

/// How the signature counter behaved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterStatus {
    /// The authenticator does not keep a counter (both values zero).
    Unsupported,
    /// The counter increased.
    Increased,
    /// The counter did not increase (accepted only under [`CounterPolicy::Report`]):
    /// a possible cloned authenticator.
    Regressed,
}

/// An assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    sign_count: u32,
    user_verified: bool,
    counter: CounterStatus,
}

impl VerifiedAssertion {
    /// The new signature counter, to store.
    pub fn sign_count(&self) -> u32 {
        self.sign_count
    }
    /// Whether the user was verified (UV).
    pub fn user_verified(&self) -> bool {
        self.user_verified
    }
    /// How the counter behaved.
    pub fn counter(&self) -> CounterStatus {
        self.counter
    }
}

/// Verify an assertion against `credential`.
pub fn verify_assertion(
    response: &AssertionResponse<'_>,
    expected: &Expected,
    credential: &StoredCredential,
    options: &AssertionOptions,
) -> Result<VerifiedAssertion, AttestError> {
    if response.credential_id != credential.credential_id.as_slice() {
        return Err(AttestError::CredentialIdMismatch);
    }
    let key = CoseKey::from_bytes(&credential.public_key_cose)?;
    if key.alg == CoseAlg::Rs1 {
        return Err(AttestError::InsecureAlgorithmRefused { alg: "RS1" });
    }
    let client = clientdata::check(
        response.client_data_json,
        Ceremony::Get,
        expected,
        options.allow_cross_origin,
    )?;
    let auth = AuthenticatorData::parse(response.authenticator_data)?;
    let rp_hash: [u8; 32] = Sha256::digest(expected.rp_id.as_bytes()).into();
    if auth.rp_id_hash != rp_hash {
        return Err(AttestError::RpIdHashMismatch {
            rp_id: expected.rp_id.clone(),
        });
    }
    if options.require_user_presence && !auth.flags.user_present() {
        return Err(AttestError::UserPresenceMissing);
    }
    if options.require_user_verification && !auth.flags.user_verified() {
        return Err(AttestError::UserVerificationMissing);
    }
    let mut msg = Vec::with_capacity(response.authenticator_data.len() + 32);
    msg.extend_from_slice(response.authenticator_data);
    msg.extend_from_slice(&client.hash);
    if !key.key.verify(key.alg, &msg, response.signature)? {
        return Err(AttestError::AssertionSignatureInvalid);
    }
    let counter = match (credential.sign_count, auth.sign_count) {
        (0, 0) => CounterStatus::Unsupported,
        (stored, received) if received > stored => CounterStatus::Increased,
        (stored, received) => match options.counter {
            CounterPolicy::Reject => {
                return Err(AttestError::SignCounterRegression { stored, received })
            }
            CounterPolicy::Report => CounterStatus::Regressed,
        },
    };
    Ok(VerifiedAssertion {
        sign_count: auth.sign_count,
        user_verified: auth.flags.user_verified(),
        counter,
    })
}
