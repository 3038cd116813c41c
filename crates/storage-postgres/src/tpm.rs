//! [`TpmStorage`] on PostgreSQL.
//!
//! How each write meets the isolation contract at `READ COMMITTED`:
//!
//! - `add_tpm_root`: the primary key `(tenant_id, fingerprint)` (`Conflict`, nothing
//!   written); `remove_tpm_root`: one `DELETE` and its line.
//! - `begin_tpm_activation`: the nonce (`ON CONFLICT DO NOTHING`), then an upsert on the
//!   unique `(tenant_id, device_id)`: concurrent begins of one device each replace the
//!   activation before them (the later waits for the earlier's row), never fail on it.
//! - `finish_tpm_activation`: the activation is taken by a conditional `DELETE` (a
//!   concurrent finisher waits for the row, then finds it gone: `AlreadyUsed`); the
//!   device's TPM is an upsert on `(tenant_id, device_id)`, and the unique AIK index
//!   decides between devices presenting one AIK at once (the second waits for the first,
//!   then violates it: `AikOfAnotherDevice`, its transaction, nonce and activation
//!   included, rolled back). Retried whole on a deadlock ([`crate::retry`]).

use async_trait::async_trait;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;

use super::resources::delete_one_audited;
use super::tx::{conflict_if_duplicate, consume_nonce, insert_audit, is_unique_violation};
use super::PgStorage;
use latchkey_storage::tpm::{
    DeviceTpm, FinishOutcome, PendingActivation, TpmIdentity, TpmRoot, TpmStorage,
};
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageResult};

const IDENTITY: &str = "device_id, aik_public, aik_name, ek_public_hash, manufacturer, model, \
     version, family, root_subject";

/// `col = EXCLUDED.col` for the identity's columns but the device (the conflict target).
const IDENTITY_UPDATE: &str = "aik_public = EXCLUDED.aik_public, aik_name = EXCLUDED.aik_name, \
     ek_public_hash = EXCLUDED.ek_public_hash, manufacturer = EXCLUDED.manufacturer, \
     model = EXCLUDED.model, version = EXCLUDED.version, family = EXCLUDED.family, \
     root_subject = EXCLUDED.root_subject";

/// Binds `i`'s fields to `query` in the order of [`IDENTITY`].
fn bind_identity<'q>(
    query: Query<'q, Postgres, PgArguments>,
    i: &'q TpmIdentity,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(&i.device_id)
        .bind(&i.aik_public)
        .bind(&i.aik_name)
        .bind(&i.ek_public_hash)
        .bind(&i.manufacturer)
        .bind(&i.model)
        .bind(&i.version)
        .bind(&i.family)
        .bind(&i.root_subject)
}

impl PgStorage {
    /// One attempt of [`TpmStorage::finish_tpm_activation`], in its own transaction.
    async fn finish_tpm_activation_once(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        id: &str,
        t: &DeviceTpm,
        audit: &AuditRecord,
    ) -> StorageResult<FinishOutcome> {
        let i = &t.identity;
        let mut tx = self.begin().await?;
        // Dropping the transaction on an early return rolls everything back.
        let gone = sqlx::query(
            "DELETE FROM tpm_activations WHERE tenant_id = $1 AND id = $2 AND device_id = $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(&i.device_id)
        .execute(&mut *tx)
        .await?;
        if gone.rows_affected() != 1 {
            return Ok(FinishOutcome::AlreadyUsed);
        }
        consume_nonce(&mut tx, tenant, nonce).await?;
        let sql = format!(
            "INSERT INTO tpm_devices (tenant_id, activated_at, {IDENTITY}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (tenant_id, device_id) DO UPDATE SET \
             activated_at = EXCLUDED.activated_at, {IDENTITY_UPDATE}"
        );
        let insert = sqlx::query(&sql).bind(tenant).bind(t.activated_at);
        match bind_identity(insert, i).execute(&mut *tx).await {
            Ok(_) => {}
            // Only the AIK index is left to violate: another device has this AIK.
            Err(e) if is_unique_violation(&e) => return Ok(FinishOutcome::AikOfAnotherDevice),
            Err(e) => return Err(e.into()),
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(FinishOutcome::Activated)
    }
}

#[async_trait]
impl TpmStorage for PgStorage {
    async fn add_tpm_root(
        &self,
        tenant: &str,
        r: &TpmRoot,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        conflict_if_duplicate(
            sqlx::query(
                "INSERT INTO tpm_roots (tenant_id, fingerprint, der, subject, intermediate, \
                 not_after, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(tenant)
            .bind(&r.fingerprint)
            .bind(&r.der)
            .bind(&r.subject)
            .bind(r.intermediate)
            .bind(r.not_after)
            .bind(r.added_at)
            .execute(&mut *tx)
            .await,
            || format!("TPM root {}", r.fingerprint),
        )?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_tpm_roots(&self, tenant: &str) -> StorageResult<Vec<TpmRoot>> {
        Ok(sqlx::query_as::<_, TpmRoot>(
            "SELECT fingerprint, der, subject, intermediate, not_after, added_at FROM tpm_roots \
             WHERE tenant_id = $1 ORDER BY added_at, fingerprint",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn remove_tpm_root(
        &self,
        tenant: &str,
        fingerprint: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        delete_one_audited(
            self,
            "DELETE FROM tpm_roots WHERE tenant_id = $1 AND fingerprint = $2",
            tenant,
            fingerprint,
            audit,
        )
        .await
    }

    async fn begin_tpm_activation(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        p: &PendingActivation,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        let sql = format!(
            "INSERT INTO tpm_activations (tenant_id, id, secret_hash, expires_at, {IDENTITY}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (tenant_id, device_id) DO UPDATE SET id = EXCLUDED.id, \
             secret_hash = EXCLUDED.secret_hash, expires_at = EXCLUDED.expires_at, \
             {IDENTITY_UPDATE}"
        );
        let insert = sqlx::query(&sql)
            .bind(tenant)
            .bind(&p.id)
            .bind(&p.secret_hash)
            .bind(p.expires_at);
        bind_identity(insert, &p.identity).execute(&mut *tx).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tpm_activation(
        &self,
        tenant: &str,
        device_id: &str,
        id: &str,
    ) -> StorageResult<Option<PendingActivation>> {
        Ok(sqlx::query_as::<_, PendingActivation>(&format!(
            "SELECT id, secret_hash, expires_at, {IDENTITY} FROM tpm_activations \
             WHERE tenant_id = $1 AND device_id = $2 AND id = $3"
        ))
        .bind(tenant)
        .bind(device_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn finish_tpm_activation(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        id: &str,
        t: &DeviceTpm,
        audit: &AuditRecord,
    ) -> StorageResult<FinishOutcome> {
        retrying!(self.finish_tpm_activation_once(tenant, nonce, id, t, audit))
    }

    async fn device_tpm(&self, tenant: &str, device_id: &str) -> StorageResult<Option<DeviceTpm>> {
        Ok(sqlx::query_as::<_, DeviceTpm>(&format!(
            "SELECT activated_at, {IDENTITY} FROM tpm_devices \
             WHERE tenant_id = $1 AND device_id = $2"
        ))
        .bind(tenant)
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn device_of_aik(&self, tenant: &str, aik_name: &str) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT device_id FROM tpm_devices WHERE tenant_id = $1 AND aik_name = $2",
        )
        .bind(tenant)
        .bind(aik_name)
        .fetch_optional(&self.pool)
        .await?)
    }
}
