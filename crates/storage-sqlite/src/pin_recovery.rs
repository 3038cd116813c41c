//! [`PinRecoveryStorage`] on SQLite (portable SQL).

use async_trait::async_trait;

use super::tx::{consume_nonce, insert_audit, is_unique_violation, key_is_live};
use super::SqliteStorage;
use latchkey_storage::pin_recovery::{
    AnsweredBlob, PinRecoveryKeyRecord, PinRecoveryStorage, ResetOutcome,
};
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageResult};

const COLUMNS: &str = "key_id, public_key, private_sealed, created_at, superseded_at, usable_until";

async fn insert_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    tenant: &str,
    k: &PinRecoveryKeyRecord,
) -> StorageResult<()> {
    sqlx::query(&format!(
        "INSERT INTO pin_recovery_keys (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, NULL)"
    ))
    .bind(tenant)
    .bind(&k.key_id)
    .bind(&k.public_key)
    .bind(&k.private_sealed)
    .bind(k.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl PinRecoveryStorage for SqliteStorage {
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
        let (mut tx, _gate) = self.write().await?;
        let current: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pin_recovery_keys WHERE tenant_id = $1 AND superseded_at IS NULL",
        )
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        if current > 0 {
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
        let (mut tx, _gate) = self.write().await?;
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
        a: &AnsweredBlob,
        audit: &[AuditRecord],
    ) -> StorageResult<ResetOutcome> {
        let (mut tx, _gate) = self.write().await?;
        // Dropping the transaction on an early return rolls everything back.
        consume_nonce(&mut tx, tenant, nonce).await?;
        if !key_is_live(&mut tx, tenant, &a.key_id, &a.user_id, &a.device_id).await? {
            return Ok(ResetOutcome::KeyGone);
        }
        let inserted = sqlx::query(
            "INSERT INTO pin_recovery_answers (tenant_id, blob_binding, recovery_key_id, \
             user_id, device_id, key_id, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(&a.blob_binding)
        .bind(&a.recovery_key_id)
        .bind(&a.user_id)
        .bind(&a.device_id)
        .bind(&a.key_id)
        .bind(a.answered_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(ResetOutcome::AlreadyAnswered),
            Err(e) => return Err(e.into()),
        }
        for line in audit {
            insert_audit(&mut tx, tenant, line).await?;
        }
        tx.commit().await?;
        Ok(ResetOutcome::Answered)
    }
}
