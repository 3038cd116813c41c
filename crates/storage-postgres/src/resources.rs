//! [`ResourceStorage`] on PostgreSQL.
//!
//! How each write meets the isolation contract at `READ COMMITTED`:
//!
//! - `add_resource`: the primary key `(tenant_id, uri)` (`Conflict`, nothing written,
//!   also between concurrent adders: the second waits for the first, then violates it).
//! - `remove_resource`: one `DELETE` and its line ([`delete_one_audited`]).
//! - `issue_token` (a frequent write): one statement, so one round trip and its own
//!   transaction. It reads the audience's resource or application row `FOR SHARE` (a
//!   removal not committed yet is waited for and then seen; one that comes later waits
//!   for the issue), consumes the nonce with `ON CONFLICT DO NOTHING` only when the
//!   audience is known, and writes the line only when the nonce was consumed. The token
//!   depends on no key (the proof's key was checked by the caller), so there is no key
//!   guard to take.

use async_trait::async_trait;

use super::tx::{bind_row, conflict_if_duplicate, insert_audit};
use super::PgStorage;
use latchkey_storage::resources::{Resource, ResourceStorage};
use latchkey_storage::rows::ToRow;
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageError, StorageResult};
use sqlx::Row;

/// The audit line of `issue_token`, written from the `consumed` step (binds `$1` tenant and
/// `$4..$11` the line).
pub(crate) const TOKEN_LINE: &str = "line AS ( \
     INSERT INTO audit (tenant_id, at, event, actor, device_id, key_id, source, outcome, reason) \
     SELECT $1, $4, $5, $6, $7, $8, $9, $10, $11 FROM consumed)";

/// `issue_token` for an audience: whether it is known, whether the nonce was consumed.
pub(crate) const ISSUE_FOR_AUDIENCE: &str = "WITH \
     resource AS (SELECT 1 FROM resources WHERE tenant_id = $1 AND uri = $12 FOR SHARE), \
     client AS (SELECT 1 FROM oidc_clients WHERE tenant_id = $1 AND client_id = $12 FOR SHARE), \
     known AS (SELECT (EXISTS (SELECT 1 FROM resource) OR EXISTS (SELECT 1 FROM client)) AS yes), \
     consumed AS ( \
         INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) \
         SELECT $1, $2, $3 FROM known WHERE known.yes \
         ON CONFLICT DO NOTHING RETURNING 1), ";

/// `issue_token` for the service itself (always known).
const ISSUE_FOR_SERVICE: &str = "WITH \
     known AS (SELECT TRUE AS yes), \
     consumed AS ( \
         INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING RETURNING 1), ";

/// What both `issue_token` statements return.
pub(crate) const ISSUE_ANSWER: &str =
    " SELECT (SELECT yes FROM known), EXISTS (SELECT 1 FROM consumed)";

/// Runs the one-row statement `sql` (binds: tenant, `key`) and writes `audit`, in one
/// transaction; `false`, with nothing written, when it touched no row.
pub(crate) async fn delete_one_audited(
    storage: &PgStorage,
    sql: &str,
    tenant: &str,
    key: &str,
    audit: &AuditRecord,
) -> StorageResult<bool> {
    let mut tx = storage.begin().await?;
    let gone = sqlx::query(sql)
        .bind(tenant)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() != 1 {
        return Ok(false);
    }
    insert_audit(&mut tx, tenant, audit).await?;
    tx.commit().await?;
    Ok(true)
}

#[async_trait]
impl ResourceStorage for PgStorage {
    async fn add_resource(
        &self,
        tenant: &str,
        r: &Resource,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        conflict_if_duplicate(
            sqlx::query(
                "INSERT INTO resources (tenant_id, uri, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant)
            .bind(&r.uri)
            .bind(&r.name)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await,
            || format!("resource {}", r.uri),
        )?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_resources(&self, tenant: &str) -> StorageResult<Vec<Resource>> {
        Ok(sqlx::query_as::<_, Resource>(
            "SELECT uri, name, created_at FROM resources WHERE tenant_id = $1 \
             ORDER BY created_at, uri",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn remove_resource(
        &self,
        tenant: &str,
        uri: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        delete_one_audited(
            self,
            "DELETE FROM resources WHERE tenant_id = $1 AND uri = $2",
            tenant,
            uri,
            audit,
        )
        .await
    }

    async fn issue_token(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audience: Option<&str>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let head = if audience.is_some() {
            ISSUE_FOR_AUDIENCE
        } else {
            ISSUE_FOR_SERVICE
        };
        let sql = format!("{head}{TOKEN_LINE}{ISSUE_ANSWER}");
        let head = sqlx::query(&sql)
            .bind(tenant)
            .bind(&nonce.id)
            .bind(nonce.expires_at);
        let query = bind_row(head, audit.row());
        let query = match audience {
            Some(audience) => query.bind(audience),
            None => query,
        };
        let row = query.fetch_one(&self.pool).await?;
        let (known, consumed): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
        match (known, consumed) {
            (false, _) => Ok(false),
            (true, true) => Ok(true),
            (true, false) => Err(StorageError::NonceReplayed),
        }
    }
}
