//! [`PinRecoveryStorage`] on PostgreSQL.
//!
//! How each write meets the isolation contract at `READ COMMITTED`:
//!
//! - `create_first_pin_recovery_key` and `rotate_pin_recovery_key` lock the tenant row
//!   `FOR NO KEY UPDATE` first ([`lock_tenant`]): of concurrent creators or rotations one
//!   runs at a time and the next sees what it committed, so exactly one first key is
//!   stored and a rotation supersedes the key the previous one made current. The partial
//!   unique index `pin_recovery_keys_one_current` (migration 0003) holds the result: at
//!   most one current key.
//! - `record_pin_reset`: the nonce (`ON CONFLICT DO NOTHING`), the key guard
//!   ([`key_is_live`]: key, device and user read `FOR SHARE`, ordered with a delete or
//!   disable), and the blob taken once by `ON CONFLICT DO NOTHING` on
//!   `pin_recovery_answers`, its row count checked (a concurrent reset of the blob waits
//!   for the first, then inserts nothing: `AlreadyAnswered`). Retried whole on a
//!   deadlock ([`crate::retry`]).

use async_trait::async_trait;
use sqlx::PgConnection;

use super::tx::{consume_nonce, insert_audit, key_is_live};
use super::PgStorage;
use latchkey_storage::pin_recovery::{
    AnsweredBlob, PinRecoveryKeyRecord, PinRecoveryStorage, ResetOutcome,
};
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageResult};

const COLUMNS: &str = "key_id, public_key, private_sealed, created_at, superseded_at, usable_until";

/// Locks the tenant row against the other creators and rotations of recovery keys until
/// the transaction ends. `FOR NO KEY UPDATE` does not block the foreign-key checks of
/// other writers (`FOR KEY SHARE`), only the other lockers.
pub(crate) async fn lock_tenant(conn: &mut PgConnection, tenant: &str) -> StorageResult<()> {
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_key(
    conn: &mut PgConnection,
    tenant: &str,
    k: &PinRecoveryKeyRecord,
) -> StorageResult<()> {
    sqlx::query(&format!(
        "INSERT INTO pin_recovery_keys (tenant_id, {COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, NULL, NULL)"
    ))
    .bind(tenant)
    .bind(&k.key_id)
    .bind(&k.public_key)
    .bind(&k.private_sealed)
    .bind(k.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

impl PgStorage {
    /// One attempt of [`PinRecoveryStorage::record_pin_reset`], in its own transaction.
    async fn record_pin_reset_once(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        a: &AnsweredBlob,
        audit: &[AuditRecord],
    ) -> StorageResult<ResetOutcome> {
        let mut tx = self.begin().await?;
        // Dropping the transaction on an early return rolls everything back.
        consume_nonce(&mut tx, tenant, nonce).await?;
        if !key_is_live(&mut tx, tenant, &a.key_id, &a.user_id, &a.device_id).await? {
            return Ok(ResetOutcome::KeyGone);
        }
        let inserted = sqlx::query(
            "INSERT INTO pin_recovery_answers (tenant_id, blob_binding, recovery_key_id, \
             user_id, device_id, key_id, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, blob_binding) DO NOTHING",
        )
        .bind(tenant)
        .bind(&a.blob_binding)
        .bind(&a.recovery_key_id)
        .bind(&a.user_id)
        .bind(&a.device_id)
        .bind(&a.key_id)
        .bind(a.answered_at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(ResetOutcome::AlreadyAnswered);
        }
        for line in audit {
            insert_audit(&mut tx, tenant, line).await?;
        }
        tx.commit().await?;
        Ok(ResetOutcome::Answered)
    }
}

#[async_trait]
impl PinRecoveryStorage for PgStorage {
    async fn pin_recovery_keys(&self, tenant: &str) -> StorageResult<Vec<PinRecoveryKeyRecord>> {
        Ok(sqlx::query_as::<_, PinRecoveryKeyRecord>(&format!(
            "SELECT {COLUMNS} FROM pin_recovery_keys WHERE tenant_id = $1 \
             ORDER BY superseded_at IS NOT NULL, superseded_at DESC, created_at DESC, key_id"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_first_pin_recovery_key(
        &self,
        tenant: &str,
        key: &PinRecoveryKeyRecord,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        let current: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pin_recovery_keys \
             WHERE tenant_id = $1 AND superseded_at IS NULL)",
        )
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        if current {
            return Ok(false);
        }
        insert_key(&mut tx, tenant, key).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_pin_recovery_key(
        &self,
        tenant: &str,
        key: &PinRecoveryKeyRecord,
        now: i64,
        usable_until: i64,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        lock_tenant(&mut tx, tenant).await?;
        sqlx::query(
            "UPDATE pin_recovery_keys SET superseded_at = $2, usable_until = $3 \
             WHERE tenant_id = $1 AND superseded_at IS NULL",
        )
        .bind(tenant)
        .bind(now)
        .bind(usable_until)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE pin_recovery_keys SET private_sealed = NULL \
             WHERE tenant_id = $1 AND usable_until IS NOT NULL AND usable_until <= $2",
        )
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_key(&mut tx, tenant, key).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_pin_reset(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        answer: &AnsweredBlob,
        audit: &[AuditRecord],
    ) -> StorageResult<ResetOutcome> {
        retrying!(self.record_pin_reset_once(tenant, nonce, answer, audit))
    }
}
