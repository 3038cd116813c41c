//! The TPM Hello container: what the TPM provider keeps on disk for a user's Hello key,
//! `hello-tpm/<upn>.json`.
//!
//! It holds the TPM-wrapped private part (a TPM2B_PRIVATE that only the TPM that made it
//! can load), the public area (TPMT_PUBLIC), the salt of the authorisation value, and
//! non-secret metadata. No private key and no PIN-derived value is stored: the key's
//! authorisation value is SHA-256 over a domain string, the salt and the PIN, computed at
//! each use and checked by the TPM, whose dictionary-attack protection counts wrong PINs.
//! There is no counter in this file: restoring an older copy resets nothing.
//!
//! Read defensively: the file is read through [`crate::store`] (regular file, owner only,
//! bounded size); the version must be known, the salt 16 bytes, the blobs within
//! [`latchkey_tpm::MAX_BLOB_LEN`] and canonical, and the key id must be the one the public
//! area gives.

use latchkey_proto::api::key::{KeyAlgorithm, PublicKey};
use latchkey_proto::{b64, bcrypt::RsaPublicBlob};
use latchkey_tpm::KeyBlob;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::AgentError;

/// The subdirectory of TPM Hello containers.
pub const TPM_HELLO_DIR: &str = "hello-tpm";
/// The format version of TPM containers.
pub const TPM_CONTAINER_VERSION: u32 = 1;
/// Length of the per-key salt of the authorisation value.
pub const AUTH_SALT_LEN: usize = 16;
const AUTH_DOMAIN: &[u8] = b"latchkey-tpm-hello-auth-v1\0";

/// A TPM-protected Hello key, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpmContainer {
    /// Format version: 1.
    pub version: u32,
    /// The user.
    pub upn: String,
    /// Key id (hex SHA-256 of the public blob).
    pub key_id: String,
    /// The provider that made it (the TPM provider's name).
    pub provider: String,
    /// When the key was registered (seconds since the epoch).
    pub created_at: i64,
    /// When the current PIN was set.
    pub pin_set_at: i64,
    /// The salt of the authorisation value (base64url, 16 bytes).
    pub auth_salt: String,
    /// The TPM-wrapped private part, a marshalled TPM2B_PRIVATE (base64url).
    pub private: String,
    /// The public area, a marshalled TPMT_PUBLIC (base64url).
    pub public: String,
    /// The attestation state the service recorded at registration (`tpm`, `software`).
    #[serde(default)]
    pub attestation: Option<String>,
    /// The PIN-recovery blob (`EnablePinRecovery`): the key's current authorisation value,
    /// sealed to the tenant's PIN-recovery key (docs/pin-reset.md). The key never leaves
    /// the TPM; after a fresh MFA the service answers the value, and TPM2_ObjectChangeAuth
    /// with it sets the new PIN's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<crate::recovery::TpmRecoveryPart>,
}

/// The key's authorisation value: SHA-256(domain || salt || PIN), 32 bytes (the TPM's
/// limit for a SHA-256 key). Not a slow hash on purpose: guessing needs the TPM, which
/// counts and locks out.
pub fn derive_auth(salt: &[u8], pin: &str) -> Zeroizing<Vec<u8>> {
    let mut h = Sha256::new();
    h.update(AUTH_DOMAIN);
    h.update(salt);
    h.update(pin.as_bytes());
    Zeroizing::new(h.finalize().to_vec())
}

/// The BCRYPT_RSAPUBLIC_BLOB of a TPM key.
pub fn public_blob(blob: &KeyBlob) -> Result<RsaPublicBlob, AgentError> {
    let rsa = blob.rsa_public().map_err(AgentError::Tpm)?;
    Ok(RsaPublicBlob::new(&rsa.exponent, &rsa.modulus))
}

/// The key id of a TPM key (hex SHA-256 of its public blob).
pub fn key_id(blob: &KeyBlob) -> Result<String, AgentError> {
    Ok(hex::encode(public_blob(blob)?.key_id()))
}

/// The public key of a TPM key as the registration request carries it.
pub fn public_key(blob: &KeyBlob) -> Result<PublicKey, AgentError> {
    Ok(PublicKey {
        alg: KeyAlgorithm::Rsa,
        data: b64::encode(public_blob(blob)?.to_bytes()),
    })
}

impl TpmContainer {
    /// A container for `blob`, whose authorisation value was derived with `salt`.
    pub fn new(
        upn: &str,
        provider: &str,
        blob: &KeyBlob,
        salt: &[u8],
        now: i64,
    ) -> Result<Self, AgentError> {
        Ok(TpmContainer {
            version: TPM_CONTAINER_VERSION,
            upn: upn.to_owned(),
            key_id: key_id(blob)?,
            provider: provider.to_owned(),
            created_at: now,
            pin_set_at: now,
            auth_salt: b64::encode(salt),
            private: b64::encode(blob.private_bytes()),
            public: b64::encode(blob.public_area().map_err(AgentError::Tpm)?),
            attestation: None,
            recovery: None,
        })
    }

    /// Replaces the wrapped key (after a change of authorisation value).
    pub fn set_blob(&mut self, blob: &KeyBlob, salt: &[u8], now: i64) -> Result<(), AgentError> {
        if key_id(blob)? != self.key_id {
            return Err(AgentError::Crypto(
                "the TPM returned another key during a PIN change".to_owned(),
            ));
        }
        self.auth_salt = b64::encode(salt);
        self.private = b64::encode(blob.private_bytes());
        self.pin_set_at = now;
        Ok(())
    }

    /// The authorisation value `pin` gives this key (for its recovery blob).
    pub fn auth_for(&self, pin: &str) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let path = format!("the TPM container of {}", self.upn);
        Ok(derive_auth(&self.salt(&path)?, pin))
    }

    /// The salt, checked.
    pub fn salt(&self, path: &str) -> Result<Vec<u8>, AgentError> {
        let salt = b64::decode("auth_salt", &self.auth_salt).map_err(|e| damaged(path, e))?;
        if salt.len() != AUTH_SALT_LEN {
            return Err(damaged(
                path,
                format!("salt is {} bytes, expected {AUTH_SALT_LEN}", salt.len()),
            ));
        }
        Ok(salt)
    }

    /// The stored key, parsed strictly.
    pub fn blob(&self, path: &str) -> Result<KeyBlob, AgentError> {
        let private = b64::decode("private", &self.private).map_err(|e| damaged(path, e))?;
        let public = b64::decode("public", &self.public).map_err(|e| damaged(path, e))?;
        KeyBlob::from_bytes(&private, &public).map_err(|e| damaged(path, e))
    }

    /// Checks the version, the salt, the blobs and that the key id is the public area's.
    pub fn validate(&self, path: &str) -> Result<(), AgentError> {
        if self.version != TPM_CONTAINER_VERSION {
            return Err(AgentError::UnknownVersion {
                path: path.to_owned(),
                version: self.version,
                known: "1",
            });
        }
        self.salt(path)?;
        let blob = self.blob(path)?;
        let id = key_id(&blob).map_err(|e| damaged(path, e))?;
        if id != self.key_id {
            return Err(damaged(
                path,
                format!("key id {} is not the public area's {id}", self.key_id),
            ));
        }
        Ok(())
    }
}

fn damaged(path: &str, reason: impl std::fmt::Display) -> AgentError {
    AgentError::TpmContainerDamaged {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_value_depends_on_salt_and_pin_and_fits_the_tpm() {
        let a = derive_auth(&[1; 16], "1234");
        assert_eq!(a.len(), latchkey_tpm::MAX_AUTH_LEN);
        assert_ne!(*a, *derive_auth(&[2; 16], "1234"));
        assert_ne!(*a, *derive_auth(&[1; 16], "1235"));
        assert_eq!(*a, *derive_auth(&[1; 16], "1234"));
    }
}
