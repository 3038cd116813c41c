//! Statements shared by several operations, run inside the caller's transaction.
//!
//! A failed statement aborts a PostgreSQL transaction (SQLite undoes only the statement),
//! so a uniqueness violation that an operation turns into an answer and goes on from is
//! written as `INSERT ... ON CONFLICT DO NOTHING` and the row count checked; one that ends
//! the operation ([`conflict_if_duplicate`]) may fail the statement, because the
//! transaction is dropped (rolled back) with the error.

pub(crate) use latchkey_storage::rows::bind_row;
use latchkey_storage::rows::{ToRow, INSERT_AUDIT, INSERT_PRT};
use sqlx::PgConnection;

use latchkey_storage::{AuditRecord, ConsumedNonce, Prt, StorageError, StorageResult};

/// Whether `err` is a unique-constraint violation (`23505`).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The outcome of an insert, with a uniqueness violation reported as
/// `StorageError::Conflict(what())` (e.g. "user alice@example.com"). The caller must end
/// its transaction on the error (the failed statement aborted it).
pub(crate) fn conflict_if_duplicate<T>(
    inserted: Result<T, sqlx::Error>,
    what: impl FnOnce() -> String,
) -> StorageResult<T> {
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(StorageError::Conflict(what())),
        other => Ok(other?),
    }
}

/// Records the nonce as used; `NonceReplayed` when it already was (by anyone: a
/// concurrent inserter waits for the first to commit, then finds the row).
pub(crate) async fn consume_nonce(
    conn: &mut PgConnection,
    tenant: &str,
    nonce: &ConsumedNonce,
) -> StorageResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(&nonce.id)
    .bind(nonce.expires_at)
    .execute(conn)
    .await?;
    if inserted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StorageError::NonceReplayed)
    }
}

/// Whether `key_id` is registered for `user_id` on `device_id` with neither the user nor
/// the device disabled, read inside the caller's transaction with the three rows locked
/// `FOR SHARE`: a key delete or a disable that is not committed yet is waited for (and
/// then seen), and one that comes later waits for the caller's commit.
pub(crate) async fn key_is_live(
    conn: &mut PgConnection,
    tenant: &str,
    key_id: &str,
    user_id: &str,
    device_id: &str,
) -> StorageResult<bool> {
    let live: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM key_credentials k \
         JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
         JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
         WHERE k.tenant_id = $1 AND k.key_id = $2 AND k.user_id = $3 AND k.device_id = $4 \
         AND NOT d.disabled AND NOT u.disabled \
         FOR SHARE OF k, d, u",
    )
    .bind(tenant)
    .bind(key_id)
    .bind(user_id)
    .bind(device_id)
    .fetch_optional(conn)
    .await?;
    Ok(live.is_some())
}

/// Appends one audit line, its fields capped.
pub(crate) async fn insert_audit(
    conn: &mut PgConnection,
    tenant: &str,
    a: &AuditRecord,
) -> StorageResult<()> {
    bind_row(sqlx::query(INSERT_AUDIT).bind(tenant), a.row())
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores the token if its key is live ([`key_is_live`], locking the rows); false, with
/// nothing written, otherwise.
pub(crate) async fn insert_prt(
    conn: &mut PgConnection,
    tenant: &str,
    prt: &Prt,
) -> StorageResult<bool> {
    if !key_is_live(
        &mut *conn,
        tenant,
        &prt.key_id,
        &prt.user_id,
        &prt.device_id,
    )
    .await?
    {
        return Ok(false);
    }
    bind_row(sqlx::query(INSERT_PRT).bind(tenant), prt.row())
        .execute(conn)
        .await?;
    Ok(true)
}
