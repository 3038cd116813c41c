//! PIN-recovery state: the tenant's recovery key pairs and the blobs already answered. Same
//! rules as [`super::Storage`]: every method is one transaction, takes the tenant id and
//! filters on it.

use async_trait::async_trait;

use super::{AuditRecord, ConsumedNonce, StorageResult};

/// A PIN-recovery key pair as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PinRecoveryKeyRecord {
    /// Its id (`latchkey_proto::api::pin_reset::recovery_key_id`).
    pub key_id: String,
    /// The X25519 public key.
    pub public_key: Vec<u8>,
    /// The private key, sealed; `None` once erased after its grace period.
    pub private_sealed: Option<String>,
    /// When it was made.
    pub created_at: i64,
    /// When a newer key replaced it (`None`: the current key).
    pub superseded_at: Option<i64>,
    /// The end of its grace period (`None`: the current key).
    pub usable_until: Option<i64>,
}

/// What recording an answered reset found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetOutcome {
    /// Recorded: the answer may be sent.
    Answered,
    /// The key is no longer registered for this user and device, or either was disabled
    /// meanwhile: nothing written.
    KeyGone,
    /// The blob was answered before (a concurrent or replayed reset): nothing written.
    AlreadyAnswered,
}

/// An answered blob, recorded with the nonce and audit line of its reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredBlob {
    /// `latchkey_proto::api::pin_reset::blob_binding`.
    pub blob_binding: String,
    /// The recovery key that opened it.
    pub recovery_key_id: String,
    /// The user.
    pub user_id: String,
    /// The device.
    pub device_id: String,
    /// The Hello key.
    pub key_id: String,
    /// When.
    pub answered_at: i64,
}

/// The tenant's PIN-recovery keys and answered blobs.
#[async_trait]
pub trait PinRecoveryStorage: Send + Sync + 'static {
    /// Every recovery key: the current one first, then the superseded ones, most recently
    /// superseded first.
    async fn pin_recovery_keys(&self, tenant: &str) -> StorageResult<Vec<PinRecoveryKeyRecord>>;
    /// Stores `key` as the current key when there is none (false, nothing written, when a
    /// current key exists: a concurrent creator won), audited.
    async fn create_first_pin_recovery_key(
        &self,
        tenant: &str,
        key: &PinRecoveryKeyRecord,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Makes `key` the current key: the previous current key is superseded at `now` and
    /// usable until `usable_until`; keys whose grace period ended by `now` have their private
    /// key erased. Audited; one transaction.
    async fn rotate_pin_recovery_key(
        &self,
        tenant: &str,
        key: &PinRecoveryKeyRecord,
        now: i64,
        usable_until: i64,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Consumes the nonce and records `answer`, after checking again that the key is
    /// registered for this user on this device and that neither is disabled, with the audit
    /// lines. Nothing is written unless the outcome is [`ResetOutcome::Answered`].
    async fn record_pin_reset(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        answer: &AnsweredBlob,
        audit: &[AuditRecord],
    ) -> StorageResult<ResetOutcome>;
}
