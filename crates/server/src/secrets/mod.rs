//! Secrets at rest: the tenant's private keys, its nonce secret and every user's TOTP secret
//! are stored sealed under a key-encryption key (KEK) that is not in the database.
//!
//! A sealed value is AES-256-GCM (ring) under the KEK, with a fresh random 96-bit nonce and
//! additional authenticated data naming the tenant, the column and (for TOTP secrets) the
//! user: a sealed value copied to another row or column does not open. Its bytes are
//!
//! ```text
//! 0x01 (format) | KEK id (8 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The KEK id (the first 8 bytes of a SHA-256 over a label and the key) lets a wrong key
//! file be named as such instead of looking like tampering. A copy of the database alone (a
//! backup, a dump) reveals none of the sealed secrets; whoever has the database and the key
//! file has them all, so the key file is kept apart from backups (see docs/admin-service.md).

pub mod key_file;

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The format byte of sealed values.
const FORMAT_V1: u8 = 1;
/// Bytes of the KEK id in a sealed value.
const KEK_ID_LEN: usize = 8;
/// Bytes of the AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Bytes of the AES-GCM tag.
const TAG_LEN: usize = 16;
/// The prefix of a sealed value stored in a text column (base64url follows).
const TEXT_PREFIX: &str = "sealed:v1:";
/// The domain of the additional authenticated data.
const AAD_DOMAIN: &str = "latchkey-sealed-secret-v1";

pub use latchkey_storage::SecretsError;

/// Which secret a sealed value holds; part of its authenticated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSlot {
    /// The tenant CA's private key (PKCS#8 PEM).
    CaKey,
    /// The token-signing private key (PKCS#8 DER).
    SigningKey,
    /// The nonce HMAC secret.
    NonceSecret,
    /// The issuing CA's private key (PKCS#8 PEM).
    IssuingCaKey,
    /// The registration authority's private key (PKCS#8 PEM).
    RaKey,
    /// A PIN-recovery private key (X25519, 32 bytes).
    PinRecoveryKey {
        /// The key's id.
        key_id: String,
    },
    /// A user's TOTP secret.
    Totp {
        /// The user's object id.
        user_id: String,
    },
}

impl std::fmt::Display for SecretSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSlot::CaKey => f.write_str("CA private key"),
            SecretSlot::SigningKey => f.write_str("token-signing key"),
            SecretSlot::NonceSecret => f.write_str("nonce secret"),
            SecretSlot::IssuingCaKey => f.write_str("issuing CA private key"),
            SecretSlot::RaKey => f.write_str("registration authority private key"),
            SecretSlot::PinRecoveryKey { key_id } => {
                write!(f, "PIN-recovery private key {key_id}")
            }
            SecretSlot::Totp { user_id } => write!(f, "TOTP secret of user {user_id}"),
        }
    }
}

impl SecretSlot {
    fn aad(&self, tenant_id: &str) -> Vec<u8> {
        let column = match self {
            SecretSlot::CaKey => "tenants.ca_key_pem".to_owned(),
            SecretSlot::SigningKey => "tenants.signing_key_pkcs8".to_owned(),
            SecretSlot::NonceSecret => "tenants.nonce_secret".to_owned(),
            SecretSlot::IssuingCaKey => "cert_authorities.key_pem\0issuing".to_owned(),
            SecretSlot::RaKey => "cert_authorities.key_pem\0ra".to_owned(),
            SecretSlot::PinRecoveryKey { key_id } => {
                format!("pin_recovery_keys.private_sealed\0{key_id}")
            }
            SecretSlot::Totp { user_id } => format!("users.totp_secret\0{user_id}"),
        };
        format!("{AAD_DOMAIN}\0{tenant_id}\0{column}").into_bytes()
    }
}

/// The key-encryption key. Its `Debug` shows only its id.
pub struct KeyEncryptionKey {
    key: LessSafeKey,
    id: [u8; KEK_ID_LEN],
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyEncryptionKey({})", self.id())
    }
}

impl KeyEncryptionKey {
    /// The key from its 32 bytes; `None` only if AES-256-GCM refused a 32-byte key, which
    /// ring never does.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<KeyEncryptionKey> {
        let digest = Sha256::new()
            .chain_update(b"latchkey-kek-id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; KEK_ID_LEN];
        id.copy_from_slice(digest.get(..KEK_ID_LEN)?);
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(KeyEncryptionKey {
            key: LessSafeKey::new(unbound),
            id,
        })
    }

    /// The key's id (16 hex digits), recorded with the database's sealed secrets.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// Seals `plaintext` as `slot` of `tenant_id` with the 12-byte `nonce` (random, from the
    /// service's RNG handle; never reused).
    pub fn seal(
        &self,
        tenant_id: &str,
        slot: &SecretSlot,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>, SecretsError> {
        let mut body = Zeroizing::new(plaintext.to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(slot.aad(tenant_id)),
                &mut *body,
            )
            .map_err(|_| SecretsError::Seal {
                slot: slot.to_string(),
            })?;
        let mut out = Vec::with_capacity(1 + KEK_ID_LEN + NONCE_LEN + body.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value sealed by [`KeyEncryptionKey::seal`] for the same tenant and slot.
    pub fn open(
        &self,
        tenant_id: &str,
        slot: &SecretSlot,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let unknown = || SecretsError::UnknownFormat {
            slot: slot.to_string(),
        };
        let (&format, rest) = sealed.split_first().ok_or_else(unknown)?;
        if format != FORMAT_V1 || rest.len() < KEK_ID_LEN + NONCE_LEN + TAG_LEN {
            return Err(unknown());
        }
        let (kek_id, rest) = rest.split_at(KEK_ID_LEN);
        if kek_id != self.id {
            return Err(SecretsError::WrongKey {
                slot: slot.to_string(),
                sealed_by: hex::encode(kek_id),
                loaded: self.id(),
            });
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unknown())?;
        let mut buffer = Zeroizing::new(body.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(slot.aad(tenant_id)), &mut buffer)
            .map_err(|_| SecretsError::Tampered {
                slot: slot.to_string(),
            })?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }

    /// [`KeyEncryptionKey::seal`] for a text column: `sealed:v1:` and base64url.
    pub fn seal_text(
        &self,
        tenant_id: &str,
        slot: &SecretSlot,
        plaintext: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, SecretsError> {
        let sealed = self.seal(tenant_id, slot, plaintext.as_bytes(), nonce)?;
        Ok(format!(
            "{TEXT_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// Opens a value sealed by [`KeyEncryptionKey::seal_text`].
    pub fn open_text(
        &self,
        tenant_id: &str,
        slot: &SecretSlot,
        stored: &str,
    ) -> Result<Zeroizing<String>, SecretsError> {
        let unknown = || SecretsError::UnknownFormat {
            slot: slot.to_string(),
        };
        let encoded = stored.strip_prefix(TEXT_PREFIX).ok_or_else(unknown)?;
        let sealed = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| unknown())?,
        );
        let plain = self.open(tenant_id, slot, &sealed)?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| unknown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn seals_and_opens_and_binds_tenant_slot_and_user() {
        let k = kek(1);
        let slot = SecretSlot::Totp {
            user_id: "u1".into(),
        };
        let sealed = k.seal("t1", &slot, b"totp secret", [9; 12]).unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"totp secret"));
        assert_eq!(&*k.open("t1", &slot, &sealed).unwrap(), b"totp secret");
        // Another user, tenant or column: the value does not open.
        let other_user = SecretSlot::Totp {
            user_id: "u2".into(),
        };
        for (tenant, slot) in [
            ("t1", &other_user),
            ("t2", &slot),
            ("t1", &SecretSlot::CaKey),
        ] {
            assert!(matches!(
                k.open(tenant, slot, &sealed),
                Err(SecretsError::Tampered { .. })
            ));
        }
    }

    #[test]
    fn a_wrong_key_is_named_and_tampering_detected() {
        let sealed = kek(1)
            .seal("t", &SecretSlot::NonceSecret, &[5; 32], [1; 12])
            .unwrap();
        match kek(2).open("t", &SecretSlot::NonceSecret, &sealed) {
            Err(SecretsError::WrongKey {
                sealed_by, loaded, ..
            }) => {
                assert_eq!(sealed_by, kek(1).id());
                assert_eq!(loaded, kek(2).id());
            }
            other => panic!("expected WrongKey, got {other:?}"),
        }
        for at in [1 + KEK_ID_LEN, sealed.len() - 1, 1 + KEK_ID_LEN + NONCE_LEN] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(matches!(
                kek(1).open("t", &SecretSlot::NonceSecret, &bad),
                Err(SecretsError::Tampered { .. })
            ));
        }
    }

    #[test]
    fn unknown_formats_and_short_values_are_refused() {
        let k = kek(1);
        let slot = SecretSlot::SigningKey;
        for bad in [&b""[..], &[2u8; 60][..], &[1u8; 20][..]] {
            assert!(matches!(
                k.open("t", &slot, bad),
                Err(SecretsError::UnknownFormat { .. })
            ));
        }
        // A plaintext PKCS#8 key (the pre-sealing format) is not taken for a sealed value.
        assert!(matches!(
            k.open("t", &slot, &[0x30, 0x81, 0x87, 0x02, 0x01, 0x00]),
            Err(SecretsError::UnknownFormat { .. })
        ));
        assert!(matches!(
            k.open_text("t", &SecretSlot::CaKey, "-----BEGIN PRIVATE KEY-----"),
            Err(SecretsError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn text_round_trip() {
        let k = kek(3);
        let stored = k
            .seal_text(
                "t",
                &SecretSlot::CaKey,
                "-----BEGIN PRIVATE KEY-----\n",
                [4; 12],
            )
            .unwrap();
        assert!(stored.starts_with(TEXT_PREFIX));
        assert!(!stored.contains("PRIVATE"));
        assert_eq!(
            k.open_text("t", &SecretSlot::CaKey, &stored)
                .unwrap()
                .as_str(),
            "-----BEGIN PRIVATE KEY-----\n"
        );
    }

    #[test]
    fn debug_shows_only_the_id() {
        let shown = format!("{:?}", kek(7));
        assert_eq!(shown, format!("KeyEncryptionKey({})", kek(7).id()));
    }
}
