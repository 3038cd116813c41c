//! PIN reset through the tenant's PIN-recovery service (`EnablePinRecovery`,
//! `docs/pin-reset.md`).
//!
//! A software Hello container keeps, beside its PIN wrap, a second wrap of the private key
//! under a random recovery secret, and that secret encrypted to the tenant's PIN-recovery
//! public key with HPKE (RFC 9180, base mode, [`HPKE_SUITE`]): the [`RecoveryBlob`]. Only
//! the service can open it, and only for the tenant, device, user and key named in its
//! additional data ([`blob_aad`]).
//!
//! - `GET /v1/pin/recovery-key` answers [`PinRecoveryKey`]: the current public key, which
//!   devices keep a copy of.
//! - `POST /v1/pin/reset` ([`PinResetRequest`], `Authorization: Bearer` an enrolment token:
//!   password + TOTP, carrying `mfa`, at most ten minutes old): the device's proof over a
//!   fresh [`crate::proof::Purpose::PinReset`] nonce covers [`reset_fields`], which bind the
//!   blob's SHA-256 and the device's ephemeral X25519 key. The service answers
//!   [`PinResetResponse`]: the recovery secret encrypted again with HPKE to that ephemeral key
//!   (additional data: the nonce), so it is readable for this request only. It remembers the
//!   blob as answered and never answers it again.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The HPKE suite of recovery blobs and answers: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// AES-256-GCM (RFC 9180 ids 0x0020, 0x0001, 0x0002).
pub const HPKE_SUITE: &str = "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM";
/// The HPKE `info` of a recovery blob (device → service).
pub const BLOB_INFO: &[u8] = b"latchkey pin recovery v1";
/// The HPKE `info` of the service's answer (service → device).
pub const ANSWER_INFO: &[u8] = b"latchkey pin recovery answer v1";
/// Bytes of a recovery secret.
pub const SECRET_LEN: usize = 32;
/// Bytes of an X25519 public key (and of an HPKE encapsulated key of this suite).
pub const X25519_LEN: usize = 32;

/// `GET /v1/pin/recovery-key`: the tenant's current PIN-recovery public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRecoveryKey {
    /// The key's id: lowercase hex of the first 16 bytes of SHA-256 of the public key.
    pub key_id: String,
    /// [`HPKE_SUITE`].
    pub suite: String,
    /// The X25519 public key (base64url, 32 bytes).
    pub public_key: String,
}

/// A recovery secret encrypted to the tenant's PIN-recovery key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryBlob {
    /// The [`PinRecoveryKey::key_id`] it was made for.
    pub recovery_key_id: String,
    /// The HPKE encapsulated key (base64url, 32 bytes).
    pub enc: String,
    /// The HPKE ciphertext of the secret (base64url, [`SECRET_LEN`] + 16 bytes).
    pub ciphertext: String,
}

/// `POST /v1/pin/reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinResetRequest {
    /// The device.
    pub device_id: String,
    /// The user.
    pub upn: String,
    /// The Hello key whose container the blob opens (lowercase hex key id).
    pub key_id: String,
    /// A nonce issued for [`crate::proof::Purpose::PinReset`].
    pub nonce: String,
    /// The container's recovery blob.
    pub blob: RecoveryBlob,
    /// The device's ephemeral X25519 public key for this request's answer (base64url).
    pub response_key: String,
    /// Device-key proof over [`reset_fields`] (base64url).
    pub device_signature: String,
}

/// The answer to a [`PinResetRequest`]: the recovery secret, HPKE-encrypted to
/// [`PinResetRequest::response_key`] with [`ANSWER_INFO`] and the nonce as additional data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinResetResponse {
    /// The HPKE encapsulated key (base64url).
    pub enc: String,
    /// The HPKE ciphertext (base64url).
    pub ciphertext: String,
    /// The tenant's current PIN-recovery key, for the device's new blob.
    pub recovery_key: PinRecoveryKey,
}

/// Lowercase hex SHA-256 over a blob's key id, encapsulated key and ciphertext (each
/// length-prefixed): what a proof binds of the blob, and what the service remembers once it
/// has answered it.
pub fn blob_binding(blob: &RecoveryBlob) -> String {
    let mut h = Sha256::new();
    for part in [&blob.recovery_key_id, &blob.enc, &blob.ciphertext] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// The fields of a reset proof: tenant id, device id, UPN, key id, [`blob_binding`], the
/// response key (as sent).
pub fn reset_fields<'a>(
    tenant_id: &'a str,
    req: &'a PinResetRequest,
    blob_binding: &'a str,
) -> [&'a str; 6] {
    [
        tenant_id,
        &req.device_id,
        &req.upn,
        &req.key_id,
        blob_binding,
        &req.response_key,
    ]
}

/// The HPKE additional data of a recovery blob: it opens only for this tenant, device, user
/// and key (each length-prefixed after a domain label).
pub fn blob_aad(tenant_id: &str, device_id: &str, upn: &str, key_id: &str) -> Vec<u8> {
    let mut out = b"latchkey pin recovery blob aad v1".to_vec();
    for part in [tenant_id, device_id, upn, key_id] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// The id of a PIN-recovery public key: lowercase hex of the first 16 bytes of its SHA-256.
pub fn recovery_key_id(public_key: &[u8]) -> String {
    hex(Sha256::digest(public_key).get(..16).unwrap_or_default())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> RecoveryBlob {
        RecoveryBlob {
            recovery_key_id: "k".into(),
            enc: "e".into(),
            ciphertext: "c".into(),
        }
    }

    #[test]
    fn the_binding_covers_every_part_of_the_blob_unambiguously() {
        let a = blob_binding(&blob());
        let mut other = blob();
        other.recovery_key_id = "k2".into();
        assert_ne!(a, blob_binding(&other));
        // Moving a byte between parts changes the binding.
        let moved = RecoveryBlob {
            recovery_key_id: "ke".into(),
            enc: String::new(),
            ciphertext: "c".into(),
        };
        assert_ne!(a, blob_binding(&moved));
    }

    #[test]
    fn the_aad_names_each_party_unambiguously() {
        let a = blob_aad("t", "d", "u@x", "k");
        assert_ne!(a, blob_aad("t", "d2", "u@x", "k"));
        assert_ne!(a, blob_aad("t", "du@x", "", "k"));
        assert_eq!(recovery_key_id(&[1; 32]).len(), 32);
    }
}
