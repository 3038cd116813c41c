//! The sign-in write as a single statement batch: one round trip to the SQLite worker
//! instead of five (begin, three inserts, commit), which is most of a sign-in's cost.

use sqlx::SqlitePool;

use super::tx::is_unique_violation;
use crate::storage::{AuditRecord, ConsumedNonce, Prt, StorageError, StorageResult};

/// Consume the nonce, insert the token only if the key is still registered for its user and
/// device and neither is disabled, and audit only if the token was inserted. Parameters:
/// $1 tenant, $2..$8 the token, $9 FALSE, $10/$11 the nonce, $12..$19 the audit line.
const SCRIPT: &str = "BEGIN IMMEDIATE; \
    INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES ($1, $10, $11); \
    INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, issued_at, expires_at, revoked) \
      SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM key_credentials k \
      JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
      JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
      WHERE k.tenant_id = $1 AND k.key_id = $5 AND k.user_id = $3 AND k.device_id = $4 \
      AND d.disabled = $9 AND u.disabled = $9; \
    INSERT INTO audit (tenant_id, at, event, actor, device_id, key_id, source, outcome, reason) \
      SELECT $1, $12, $13, $14, $15, $16, $17, $18, $19 \
      WHERE EXISTS (SELECT 1 FROM prts WHERE tenant_id = $1 AND token_hash = $2); \
    SELECT COUNT(*) FROM prts WHERE tenant_id = $1 AND token_hash = $2; \
    COMMIT;";

/// Runs the batch; `Ok(false)` when the guard refused the token (the nonce stays consumed:
/// the request raced a revocation and must be retried with a fresh nonce anyway).
pub(super) async fn complete(
    pool: &SqlitePool,
    tenant: &str,
    nonce: &ConsumedNonce,
    prt: &Prt,
    audit: &AuditRecord,
) -> StorageResult<bool> {
    let mut conn = pool.acquire().await?;
    let done = sqlx::query_scalar::<_, i64>(SCRIPT)
        .bind(tenant)
        .bind(&prt.token_hash)
        .bind(&prt.user_id)
        .bind(&prt.device_id)
        .bind(&prt.key_id)
        .bind(prt.issued_at)
        .bind(prt.expires_at)
        .bind(prt.revoked)
        .bind(false)
        .bind(&nonce.id)
        .bind(nonce.expires_at)
        .bind(audit.at)
        .bind(&audit.event)
        .bind(&audit.actor)
        .bind(&audit.device_id)
        .bind(&audit.key_id)
        .bind(&audit.source)
        .bind(&audit.outcome)
        .bind(&audit.reason)
        .fetch_all(&mut *conn)
        .await;
    match done {
        // SQLite's change counts are not reset by BEGIN/COMMIT, so the batch reports
        // whether the token row exists with a final SELECT instead.
        Ok(rows) => Ok(rows == [1]),
        Err(err) => {
            // The batch stopped part-way: undo whatever it began on this connection.
            if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                tracing::debug!(error = %e, "rollback after a failed sign-in batch");
            }
            if is_unique_violation(&err) {
                Err(StorageError::NonceReplayed)
            } else {
                Err(err.into())
            }
        }
    }
}
