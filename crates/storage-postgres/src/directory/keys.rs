//! Registering a Hello key.
//!
//! The registration consumes its nonce (the nonce's primary key), then locks the device
//! row `FOR UPDATE` before it looks for the user's key on that device: concurrent
//! registrations on one device queue there, so each sees the key the previous one stored
//! (a `WouldReplace` without `allow_replace`, the next link of the chain with it), and the
//! `(tenant_id, user_id, device_id)` constraint is never what decides. A key id stored
//! elsewhere fails the insert on the `(tenant_id, key_id)` key (`Conflict`), and the whole
//! transaction, nonce included, is rolled back.

use crate::cert::{insert_certificate, revoke_where, Holder};
use crate::tx::{bind_row, conflict_if_duplicate, consume_nonce, insert_audit};
use crate::PgStorage;
use latchkey_storage::audit::event;
use latchkey_storage::cert::{CertificateRecord, CASCADE_REASONS};
use latchkey_storage::rows::{ToRow, INSERT_KEY};
use latchkey_storage::{AuditRecord, ConsumedNonce, KeyCredential, StorageError, StorageResult};

/// Locks the device row a registration is for.
pub(super) const LOCK_DEVICE_SQL: &str =
    "SELECT 1 FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE";
/// The user's key on the device, if any.
pub(super) const KEY_ON_DEVICE_SQL: &str = "SELECT key_id FROM key_credentials \
     WHERE tenant_id = $1 AND user_id = $2 AND device_id = $3";

/// One attempt of `register_key` (the caller retries it on a deadlock).
pub(super) async fn register(
    storage: &PgStorage,
    tenant: &str,
    nonce: &ConsumedNonce,
    k: &KeyCredential,
    allow_replace: bool,
    audit: &AuditRecord,
    certificate: Option<(&CertificateRecord, &[AuditRecord])>,
) -> StorageResult<Option<String>> {
    let mut tx = storage.begin().await?;
    consume_nonce(&mut tx, tenant, nonce).await?;
    // The lock that orders registrations on this device (an unknown device locks nothing;
    // the key's insert then fails on its foreign key).
    sqlx::query(LOCK_DEVICE_SQL)
        .bind(tenant)
        .bind(&k.device_id)
        .execute(&mut *tx)
        .await?;
    let replaced: Option<String> = sqlx::query_scalar(KEY_ON_DEVICE_SQL)
        .bind(tenant)
        .bind(&k.user_id)
        .bind(&k.device_id)
        .fetch_optional(&mut *tx)
        .await?;
    if let (Some(old), false) = (&replaced, allow_replace) {
        // Dropping the transaction rolls back the nonce consumption too.
        return Err(StorageError::WouldReplace(old.clone()));
    }
    if let Some(old) = &replaced {
        sqlx::query("DELETE FROM key_credentials WHERE tenant_id = $1 AND key_id = $2")
            .bind(tenant)
            .bind(old)
            .execute(&mut *tx)
            .await?;
        revoke_where(
            &mut tx,
            tenant,
            Holder::Key(old),
            CASCADE_REASONS.key_replaced,
            audit,
        )
        .await?;
    }
    let inserted = bind_row(sqlx::query(INSERT_KEY).bind(tenant), k.row())
        .execute(&mut *tx)
        .await;
    conflict_if_duplicate(inserted, || format!("key {}", k.key_id))?;
    let mut audit = audit.clone();
    if let Some(old) = &replaced {
        audit.event = event::KEY_REPLACE.to_owned();
        let note = audit.reason.take().unwrap_or_default();
        audit.reason = Some(format!("{note} replaced {old}").trim().to_owned());
    }
    insert_audit(&mut tx, tenant, &audit).await?;
    if let Some((c, lines)) = certificate {
        insert_certificate(&mut tx, tenant, c).await?;
        for line in lines {
            insert_audit(&mut tx, tenant, line).await?;
        }
    }
    tx.commit().await?;
    Ok(replaced)
}
