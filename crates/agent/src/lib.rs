//! # latchkey-agent
//!
//! The device side of Latchkey: what `latchkey` (the device CLI) does, as a library.
//!
//! - [`store`]: the state directory, private files written atomically.
//! - [`records`]: the join and the primary refresh tokens as stored.
//! - [`device_key`] and [`hello_key`]: the device's RSA-2048 key (P-256 on devices joined
//!   before) and the user's RSA Hello key.
//! - [`device_seal`]: the device key at rest, sealed to the machine identity.
//! - [`container`]: the Hello key wrapped under the PIN (AES-256-GCM, Argon2id) with the
//!   wrong-PIN lockout; [`provider`]: the key-provider interface; [`tpm_provider`] and
//!   [`tpm_container`]: Hello keys made and used in a TPM 2.0; [`provider_choice`]:
//!   `--key-provider tpm|software|auto`; [`tpm_identity`]: the device's TPM identity (the
//!   AIK the service activated, `latchkey tpm attest`).
//! - [`pool`]: removal of the plaintext key pool of earlier versions (the software provider
//!   keeps no pool); [`tpm_pool`]: the TPM provider's pool of keys made in the TPM.
//! - `rsa_sign`: RSA signing through `ring` (constant time).
//! - [`policy_sync`]: the policy session with the service; [`policy_store`]: the policy in
//!   force, per user; [`policy_view`]: `policy show`; [`pin_history`]: previous PINs as
//!   salted Argon2id hashes.
//! - [`prereq`]: the Ngc prerequisite check; [`events`]: the client event log (200-203,
//!   300-341, 358, 360, 370-372, 380-383, 390-393, 400-401).
//! - [`prehashed`]: signatures over a caller-supplied digest; [`signer_wire`]: the
//!   protocol of `latchkey pkcs11-signer` (the smart-card module's signer);
//!   [`smart_card`]: UseHelloCertificatesAsSmartCardCertificates and the p11-kit module file.
//! - [`client`] and [`trust`]: the service's HTTP API over TLS pinned to the tenant CA;
//!   [`net_error`]: "not trusted" and "cannot reach" in words.
//! - [`status`] and [`status_text`]: `latchkey status` (dsregcmd's sections, 80 columns).
//! - [`Agent`]: join, hello setup, PIN change, sign-in, policy sync, tokens, leave and status.
#![forbid(unsafe_code)]

mod agent;
pub mod cert_record;
pub mod client;
pub mod clock;
pub mod container;
pub mod device_key;
pub mod device_seal;
mod error;
pub mod events;
pub mod hello_key;
pub mod net_error;
mod ops_attest;
mod ops_cert;
mod ops_join;
mod ops_pin;
mod ops_pkcs11;
mod ops_reset;
mod ops_setup;
mod ops_signin;
pub mod pin_history;
pub mod policy_store;
pub mod policy_sync;
pub mod policy_view;
pub mod pool;
pub mod prehashed;
pub mod prereq;
pub mod provider;
pub mod provider_choice;
pub mod records;
pub mod recovery;
mod rsa_sign;
pub mod signer_wire;
pub mod smart_card;
pub mod status;
pub mod status_text;
pub mod store;
pub mod tpm_container;
pub mod tpm_identity;
pub mod tpm_pool;
pub mod tpm_provider;
pub mod trust;

pub use agent::{Agent, HELLO_DIR, SSO_DIR};
pub use error::AgentError;
/// The device TPM crate, re-exported for the CLI and tests (TCTI strings, TPM errors).
pub use latchkey_tpm as tpm;
pub use ops_attest::{AttestOutcome, TpmAttestationState};
pub use ops_cert::Renewal;
pub use ops_join::JoinOptions;
pub use ops_pin::{check_expiry, check_expiry_at, PinChanged};
pub use ops_reset::{
    can_reset, PinReset, ResetKind, DESTRUCTIVE_AND_NON_DESTRUCTIVE, DESTRUCTIVE_ONLY,
};
pub use ops_setup::{check_pin, owner_stands_in, Credentials, Provisioned};
pub use ops_signin::{SignedIn, RENEW_MARGIN_SECS};
