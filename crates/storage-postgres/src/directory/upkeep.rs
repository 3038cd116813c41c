//! The directory's upkeep on PostgreSQL: sealing secrets in place, pruning what expired,
//! the audit trail's export pages and retention, and the row counts.

use sqlx::PgConnection;

use crate::PgStorage;
use latchkey_storage::{AuditRecord, Counts, SealTotp, SealedTenantSecrets, StorageResult};

/// Audit lines deleted per transaction by the retention.
const DELETE_BATCH: u64 = 5_000;

/// Seals the tenant's secrets and every user's TOTP secret in one transaction. The
/// tenant row is updated first with `secrets_sealed_by IS NULL` in its condition, so of
/// two processes sealing at once the second waits for the first and then updates nothing.
/// The plaintext stays in dead row versions until `VACUUM` reclaims them (docs/storage.md).
pub(super) async fn seal_secrets(
    storage: &PgStorage,
    tenant: &str,
    sealed: &SealedTenantSecrets,
    seal_totp: &SealTotp<'_>,
) -> StorageResult<bool> {
    let mut tx = storage.begin().await?;
    let updated = sqlx::query(
        "UPDATE tenants SET ca_key_pem = $1, signing_key_pkcs8 = $2, nonce_secret = $3, \
         secrets_sealed_by = $4 WHERE id = $5 AND secrets_sealed_by IS NULL",
    )
    .bind(&sealed.ca_key_pem)
    .bind(&sealed.signing_key_pkcs8)
    .bind(&sealed.nonce_secret)
    .bind(&sealed.kek_id)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    let users: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT id, totp_secret FROM users WHERE tenant_id = $1 FOR UPDATE")
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await?;
    for (user_id, secret) in users {
        let secret = zeroize::Zeroizing::new(secret);
        sqlx::query("UPDATE users SET totp_secret = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(seal_totp(&user_id, &secret)?)
            .bind(tenant)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Up to `limit` audit lines older than `before` after the sequence number `after_seq`.
pub(super) async fn audit_page(
    storage: &PgStorage,
    tenant: &str,
    before: i64,
    after_seq: i64,
    limit: i64,
) -> StorageResult<Vec<(i64, AuditRecord)>> {
    type Line = (
        i64,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
    let rows: Vec<Line> = sqlx::query_as(
        "SELECT seq, at, event, actor, device_id, key_id, source, outcome, reason FROM audit \
         WHERE tenant_id = $1 AND at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
    )
    .bind(tenant)
    .bind(before)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(storage.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, at, event, actor, device_id, key_id, source, outcome, reason)| {
                let line = AuditRecord {
                    at,
                    event,
                    actor,
                    device_id,
                    key_id,
                    source,
                    outcome,
                    reason,
                };
                (seq, line)
            },
        )
        .collect())
}

/// Deletes audit lines older than `before` (up to `up_to_seq`) in transactions of
/// [`DELETE_BATCH`] lines, so no transaction holds many row locks for long.
pub(super) async fn prune_audit(
    storage: &PgStorage,
    tenant: &str,
    before: i64,
    up_to_seq: Option<i64>,
) -> StorageResult<u64> {
    let mut gone = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM audit WHERE tenant_id = $1 AND seq IN (SELECT seq FROM audit \
             WHERE tenant_id = $1 AND at < $2 AND seq <= $3 ORDER BY seq LIMIT $4)",
        )
        .bind(tenant)
        .bind(before)
        .bind(up_to_seq.unwrap_or(i64::MAX))
        .bind(DELETE_BATCH as i64)
        .execute(storage.pool())
        .await?
        .rows_affected();
        gone += n;
        if n < DELETE_BATCH {
            return Ok(gone);
        }
    }
}

/// Row counts of the tenant's tables, read in one snapshot.
pub(super) async fn counts(storage: &PgStorage, tenant: &str) -> StorageResult<Counts> {
    let mut tx = storage.pool().begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let conn: &mut PgConnection = &mut tx;
    let mut out = Counts::default();
    for (table, slot) in out.tables() {
        *slot = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        ))
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await?;
    }
    out.live_refresh_tokens = sqlx::query_scalar(
        "SELECT COUNT(*) FROM oidc_refresh_tokens WHERE tenant_id = $1 AND NOT revoked",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    tx.commit().await?;
    Ok(out)
}
