//! PIN recovery for Hello containers (`EnablePinRecovery`, `docs/pin-reset.md`).
//!
//! A software Hello container keeps its private key wrapped twice: under the PIN (the
//! container's own business) and, here, under a random **recovery secret** ([`wrap_key`]).
//! The secret itself is kept only as a [`RecoveryBlob`]: HPKE (RFC 9180, base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to the tenant's PIN-recovery public
//! key ([`seal_secret`]), whose additional data names the tenant, device, user and key
//! ([`latchkey_proto::api::pin_reset::blob_aad`]). The service opens it ([`open_blob`]) after
//! a fresh MFA and answers with the secret sealed again to the device's ephemeral key for that
//! request only ([`seal_answer`], [`EphemeralKey::open_answer`]).
//!
//! Everything is pure: randomness is a parameter, nothing is logged or stored.
#![forbid(unsafe_code)]

mod error;
mod hpke_suite;
mod keys;
mod wrap;

pub use error::RecoveryError;
pub use keys::{EphemeralKey, RecoveryKeyPair};
pub use wrap::{unwrap_key, wrap_key, RecoverySecret, WrappedKey};

pub use hpke_suite::{check_response_key, open_blob, seal_answer, seal_secret};

#[cfg(test)]
mod tests;
