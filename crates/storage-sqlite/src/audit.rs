//! Reading the audit trail in pages (export) and deleting old lines in bounded batches
//! (retention), so neither holds the whole trail in memory nor the write lock for long.

use sqlx::{Sqlite, SqlitePool, Transaction};

use latchkey_storage::{AuditRecord, StorageResult};

/// Lines deleted per transaction.
pub(super) const DELETE_BATCH: u64 = 5_000;

type Row = (
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

pub(super) async fn page(
    pool: &SqlitePool,
    tenant: &str,
    before: i64,
    after_seq: i64,
    limit: i64,
) -> StorageResult<Vec<(i64, AuditRecord)>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, at, event, actor, device_id, key_id, source, outcome, reason FROM audit \
         WHERE tenant_id = $1 AND at < $2 AND seq > $3 ORDER BY seq LIMIT $4",
    )
    .bind(tenant)
    .bind(before)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, at, event, actor, device_id, key_id, source, outcome, reason)| {
                (
                    seq,
                    AuditRecord {
                        at,
                        event,
                        actor,
                        device_id,
                        key_id,
                        source,
                        outcome,
                        reason,
                    },
                )
            },
        )
        .collect())
}

pub(super) async fn delete_batch(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    before: i64,
    up_to_seq: Option<i64>,
) -> StorageResult<u64> {
    let done = sqlx::query(
        "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE tenant_id = $1 \
         AND at < $2 AND ($3 IS NULL OR seq <= $3) ORDER BY seq LIMIT $4)",
    )
    .bind(tenant)
    .bind(before)
    .bind(up_to_seq)
    .bind(DELETE_BATCH as i64)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
