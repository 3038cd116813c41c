//! [`PinRecoveryStorage`] on PostgreSQL.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::pin_recovery::*;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl PinRecoveryStorage for PgStorage {
    async fn pin_recovery_keys(&self, tenant: &str) -> StorageResult<Vec<PinRecoveryKeyRecord>> {
        todo!("storage-postgres: pin_recovery_keys")
    }
    async fn create_first_pin_recovery_key(
        &self,
        tenant: &str,
        key: &PinRecoveryKeyRecord,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: create_first_pin_recovery_key")
    }
    async fn rotate_pin_recovery_key(
        &self,
        tenant: &str,
        key: &PinRecoveryKeyRecord,
        now: i64,
        usable_until: i64,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: rotate_pin_recovery_key")
    }
    async fn record_pin_reset(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        answer: &AnsweredBlob,
        audit: &[AuditRecord],
    ) -> StorageResult<ResetOutcome> {
        todo!("storage-postgres: record_pin_reset")
    }
}
