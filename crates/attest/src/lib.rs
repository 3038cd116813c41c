//! Verification of WebAuthn registrations (attestation) and authentications (assertions)
//! for Latchkey, and the TPM 2.0 structures behind Windows Hello attestation.
//!
//! Attestation formats: `packed` (self and full), `tpm`, `fido-u2f`, `none`,
//! `android-key`, `apple`, `android-safetynet`. Certificate chains are validated to the
//! trust anchors in [`RegistrationPolicy`] at a time the caller passes in: the library
//! reads no clock, no file and no network.
//!
//! SHA-1: real Windows Hello TPMs sign their attestation with RS1, so the default
//! [`Sha1Policy::AllowTpmRs1`] accepts RS1 in `tpm` statements (and nowhere else);
//! [`Sha1Policy::Refuse`] is the strict setting.
//!
//! Every error is an [`AttestError`] whose message starts with its stable code
//! (`LK-ATT-001` ..), also given by [`AttestError::code`].

#![forbid(unsafe_code)]

pub mod assertion;
pub mod authdata;
mod certs;
pub mod chain;
pub mod clientdata;
pub mod cose;
pub mod crypto;
mod der;
pub mod error;
pub mod formats;
pub mod keycheck;
pub mod options;
pub mod registration;
pub mod tpm;

pub use assertion::{
    verify_assertion, AssertionResponse, CounterStatus, StoredCredential, VerifiedAssertion,
};
pub use chain::{TrustAnchor, ValidatedChain};
pub use cose::CoseKey;
pub use crypto::{CoseAlg, PublicKey};
pub use error::AttestError;
pub use formats::AttestationType;
pub use options::{
    AssertionOptions, AttestationFormat, CounterPolicy, Expected, RegistrationPolicy, Sha1Policy,
    TrustAnchors,
};
pub use registration::{verify_registration, RegistrationResponse, VerifiedRegistration};
