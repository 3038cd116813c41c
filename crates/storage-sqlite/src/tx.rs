//! Statements shared by several operations, run inside the caller's transaction.

pub(crate) use latchkey_storage::rows::bind_row;
use latchkey_storage::rows::{ToRow, INSERT_AUDIT};
use sqlx::{Sqlite, Transaction};

use latchkey_storage::{AuditRecord, ConsumedNonce, Prt, StorageError, StorageResult};

pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The outcome of an insert, with a uniqueness violation reported as
/// `StorageError::Conflict(what())` (e.g. "user alice@example.com").
pub(super) fn conflict_if_duplicate<T>(
    inserted: Result<T, sqlx::Error>,
    what: impl FnOnce() -> String,
) -> StorageResult<T> {
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(StorageError::Conflict(what())),
        other => Ok(other?),
    }
}

pub(super) async fn consume_nonce(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    nonce: &ConsumedNonce,
) -> StorageResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(tenant)
    .bind(&nonce.id)
    .bind(nonce.expires_at)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StorageError::NonceReplayed),
        Err(e) => Err(e.into()),
    }
}

/// Whether `key_id` is registered for `user_id` on `device_id` with neither the user nor the
/// device disabled, read inside the caller's transaction (so the write that follows cannot
/// race a key delete or a disable).
pub(super) async fn key_is_live(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    key_id: &str,
    user_id: &str,
    device_id: &str,
) -> StorageResult<bool> {
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM key_credentials k \
         JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
         JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
         WHERE k.tenant_id = $1 AND k.key_id = $2 AND k.user_id = $3 AND k.device_id = $4 \
         AND d.disabled = $5 AND u.disabled = $5",
    )
    .bind(tenant)
    .bind(key_id)
    .bind(user_id)
    .bind(device_id)
    .bind(false)
    .fetch_one(&mut **tx)
    .await?;
    Ok(live == 1)
}

pub(super) async fn insert_audit(
    conn: &mut sqlx::SqliteConnection,
    tenant: &str,
    a: &AuditRecord,
) -> StorageResult<()> {
    bind_row(sqlx::query(INSERT_AUDIT).bind(tenant), a.row())
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn insert_prt(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    prt: &Prt,
) -> StorageResult<bool> {
    // Guarded insert: only if the key is still registered for this user and device and
    // neither the user nor the device is disabled, all checked inside this transaction.
    let guarded = sqlx::query(
        "INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, issued_at, expires_at, revoked) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM key_credentials k \
         JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
         JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
         WHERE k.tenant_id = $1 AND k.key_id = $5 AND k.user_id = $3 AND k.device_id = $4 \
         AND d.disabled = $9 AND u.disabled = $9",
    )
    .bind(tenant);
    let done = bind_row(guarded, prt.row())
        .bind(false)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn disable_device_tx(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    device_id: &str,
    audit: &AuditRecord,
) -> StorageResult<bool> {
    let done = sqlx::query("UPDATE devices SET disabled = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(device_id)
        .bind(true)
        .execute(&mut **tx)
        .await?;
    // The device's tokens die with it: every use of a token reads its device and refuses a
    // disabled one (LK-DEV-002), and nothing enables a device again. Its certificates are
    // revoked in this transaction.
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    super::cert::revoke_where(
        tx,
        tenant,
        super::cert::Holder::Device(device_id),
        latchkey_storage::cert::CASCADE_REASONS.device_disabled,
        audit,
    )
    .await?;
    Ok(true)
}
