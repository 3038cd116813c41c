//! The SQLite implementation of [`Storage`]: one file in the data directory, WAL mode (so the
//! admin commands work while the service runs), foreign keys on, a busy timeout, and write
//! transactions begun with `BEGIN IMMEDIATE` so concurrent writers queue instead of failing.
//!
//! The sign-in hot path bypasses sqlx: single queries on a small pool of read-only rusqlite
//! connections (`direct`, `context`) and one writer thread that commits every sign-in
//! waiting at the time in one transaction (`signin_batch`).
#![forbid(unsafe_code)]

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use latchkey_storage::*;

/// The figures type lives in the storage layer (every backend reports them).
pub use latchkey_storage::StorageFigures;

mod admin;
mod audit;
mod cert;
mod checkpoint;
mod context;
mod direct;
pub mod directory;
mod pin_recovery;
mod policy;
mod resources;
mod signin_batch;
mod tpm;
mod tx;
pub mod web_sqlite;

use latchkey_storage::rows::{
    ToRow, DEVICE_COLUMNS, INSERT_DEVICE, INSERT_KEY, INSERT_TENANT, INSERT_USER, USER_COLUMNS,
};
use tx::{
    bind_row, conflict_if_duplicate, consume_nonce, disable_device_tx, insert_audit, insert_prt,
};

/// SQLite's `synchronous` setting on every connection: `FULL`, so that a commit the service
/// acknowledged (a registration, a sign-in) survives a power cut. In WAL mode `NORMAL` may
/// lose the last commits on power loss; the group commit of the sign-in writer shares the
/// extra fsync among the sign-ins of one batch (docs/PERFORMANCE.md has its cost).
pub const SYNCHRONOUS: &str = "FULL";

/// The database file name inside the data directory.
pub const DB_FILE: &str = "latchkey.db";

/// SQLite storage.
///
/// Writers of this process queue on an in-process gate before `BEGIN IMMEDIATE`, so SQLite's
/// busy handler (which sleeps) only comes into play against other processes (the admin
/// commands), never between the service's own requests.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
    write_gate: Arc<Mutex<()>>,
    readers: Arc<direct::Readers>,
    signins: signin_batch::SignInWriter,
}

impl SqliteStorage {
    /// Opens (creating if needed) `DATA_DIR/latchkey.db` and applies the migrations.
    pub async fn open(data_dir: &Path) -> StorageResult<SqliteStorage> {
        let path = data_dir.join(DB_FILE);
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("synchronous", SYNCHRONOUS)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Read pages through a shared memory map instead of a read() system call per
            // page missing from a connection's own cache (the sign-in profile showed them).
            .pragma("mmap_size", "268435456")
            .pragma("wal_autocheckpoint", checkpoint::AUTOCHECKPOINT_PAGES);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let write_gate = Arc::new(Mutex::new(()));
        checkpoint::spawn(pool.clone());
        Ok(SqliteStorage {
            signins: signin_batch::SignInWriter::spawn(&path, write_gate.clone())?,
            readers: Arc::new(direct::Readers::new(path)),
            pool,
            write_gate,
        })
    }

    /// Deletes the one row `sql` names (binds: tenant, `key`) and writes `audit`, in one
    /// transaction; `false`, with nothing written, when there is no such row.
    async fn delete_one_audited(
        &self,
        sql: &str,
        tenant: &str,
        key: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let gone = sqlx::query(sql)
            .bind(tenant)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() != 1 {
            return Ok(false);
        }
        tx::insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Begins a write transaction; the returned guard must live until it commits.
    async fn write(&self) -> StorageResult<(Transaction<'static, Sqlite>, OwnedMutexGuard<()>)> {
        let gate = self.write_gate.clone().lock_owned().await;
        Ok((self.pool.begin_with("BEGIN IMMEDIATE").await?, gate))
    }

    /// The web side's storage on this pool, its writes queued on the same gate as the
    /// service's other writers (so they never meet SQLite's sleeping busy handler).
    pub fn web_storage(&self) -> crate::web_sqlite::SqliteWebStorage {
        crate::web_sqlite::SqliteWebStorage::sharing(self.pool.clone(), self.write_gate.clone())
    }

    /// The pool's and the sign-in writer's figures now (for the metrics).
    pub fn figures(&self) -> StorageFigures {
        let writer = self.signins.stats();
        StorageFigures {
            pool_size: self.pool.size(),
            pool_idle: self.pool.num_idle(),
            pool_max: self.pool.options().get_max_connections(),
            writer_queued: writer.queued(),
            writer_batches: writer.batches(),
            writer_writes: writer.writes(),
        }
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        // Every sign-in and token write queued so far is committed before the pool closes.
        self.signins.flush().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn load_tenant(&self) -> StorageResult<Option<TenantRecord>> {
        // A data directory holds one tenant; this is the one query without a tenant id,
        // because it is how the tenant id is found.
        Ok(sqlx::query_as::<_, TenantRecord>(
            "SELECT id, name, ca_cert_pem, ca_key_pem, signing_key_pkcs8, signing_kid, \
             nonce_secret, created_at, secrets_sealed_by FROM tenants \
             ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn create_tenant(&self, t: &TenantRecord) -> StorageResult<TenantRecord> {
        let (mut tx, _gate) = self.write().await?;
        let existing = sqlx::query_as::<_, TenantRecord>(
            "SELECT id, name, ca_cert_pem, ca_key_pem, signing_key_pkcs8, signing_kid, \
             nonce_secret, created_at, secrets_sealed_by FROM tenants \
             ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = existing {
            return Ok(existing);
        }
        bind_row(sqlx::query(INSERT_TENANT), t.row())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(t.clone())
    }

    async fn seal_secrets(
        &self,
        tenant: &str,
        sealed: &SealedTenantSecrets,
        seal_totp: &SealTotp<'_>,
    ) -> StorageResult<bool> {
        use sqlx::Connection as _;
        let _gate = self.write_gate.clone().lock_owned().await;
        let mut conn = self.pool.acquire().await?;
        // The plaintext being replaced is overwritten in the database file, not left in a
        // free page; the WAL that still holds it is truncated after the commit.
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *conn)
            .await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
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
            sqlx::query_as("SELECT id, totp_secret FROM users WHERE tenant_id = $1")
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
        // A checkpoint running elsewhere at the same moment (the background one, another
        // process) makes TRUNCATE give up with busy = 1; try again for a while.
        let mut truncated = false;
        for _ in 0..200 {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await?;
            if busy == 0 {
                truncated = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if !truncated {
            tracing::warn!(
                "the WAL could not be truncated after sealing the secrets; it still holds \
                 their old plaintext pages until SQLite reuses it"
            );
        }
        sqlx::query("PRAGMA secure_delete = OFF")
            .execute(&mut *conn)
            .await?;
        Ok(true)
    }

    async fn create_user(&self, tenant: &str, u: &User, audit: &AuditRecord) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        let inserted = bind_row(sqlx::query(INSERT_USER).bind(tenant), u.row())
            .execute(&mut *tx)
            .await;
        conflict_if_duplicate(inserted, || format!("user {}", u.upn))?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_by_upn(&self, tenant: &str, upn: &str) -> StorageResult<Option<User>> {
        Ok(sqlx::query_as::<_, User>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND upn = $2"
        ))
        .bind(tenant)
        .bind(upn)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_users(&self, tenant: &str) -> StorageResult<Vec<UserListing>> {
        Ok(sqlx::query_as::<_, UserListing>(
            "SELECT id, upn, display_name, disabled, created_at FROM users \
             WHERE tenant_id = $1 ORDER BY upn",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn disable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query("UPDATE users SET disabled = $3 WHERE tenant_id = $1 AND upn = $2")
            .bind(tenant)
            .bind(upn)
            .bind(true)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        cert::revoke_where(
            &mut tx,
            tenant,
            cert::Holder::UserUpn(upn),
            latchkey_storage::cert::CASCADE_REASONS.user_disabled,
            audit,
        )
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn password_signin(
        &self,
        tenant: &str,
        user_id: &str,
        totp_step: Option<i64>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        // The user is re-read in this transaction: a disable that commits after the caller
        // read the user (while the password was being checked) refuses the sign-in.
        let live = match totp_step {
            Some(step) => {
                sqlx::query(
                    "UPDATE users SET last_totp_step = $3 WHERE tenant_id = $1 AND id = $2 \
                     AND disabled = $4 AND (last_totp_step IS NULL OR last_totp_step < $3)",
                )
                .bind(tenant)
                .bind(user_id)
                .bind(step)
                .bind(false)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
            None => {
                let found: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND id = $2 AND disabled = $3",
                )
                .bind(tenant)
                .bind(user_id)
                .bind(false)
                .fetch_one(&mut *tx)
                .await?;
                found == 1
            }
        };
        if !live {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn append_audit(&self, tenant: &str, audit: &AuditRecord) -> StorageResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, tenant, audit).await
    }

    async fn audit_since(&self, tenant: &str, since: i64) -> StorageResult<Vec<AuditRecord>> {
        Ok(sqlx::query_as::<_, AuditRecord>(
            "SELECT at, event, actor, device_id, key_id, source, outcome, reason FROM audit \
             WHERE tenant_id = $1 AND at >= $2 ORDER BY at, seq",
        )
        .bind(tenant)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn device(&self, tenant: &str, device_id: &str) -> StorageResult<Option<Device>> {
        Ok(sqlx::query_as::<_, Device>(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn device_owner(&self, tenant: &str, device_id: &str) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT u.upn FROM devices d \
             JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_user_id \
             WHERE d.tenant_id = $1 AND d.id = $2",
        )
        .bind(tenant)
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn join_device(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        d: &Device,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        bind_row(sqlx::query(INSERT_DEVICE).bind(tenant), d.row())
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn leave_device(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        disable_device_tx(&mut tx, tenant, device_id, audit).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn disable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        if !disable_device_tx(&mut tx, tenant, device_id, audit).await? {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_devices(&self, tenant: &str) -> StorageResult<Vec<DeviceListing>> {
        Ok(sqlx::query_as::<_, DeviceListing>(&format!(
            "SELECT d.id, d.display_name, d.os, d.join_type, u.upn AS owner, \
                 d.joined_with_mfa, d.cert_thumbprint, d.disabled, d.created_at, \
                 a.last_activity FROM devices d \
                 JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_user_id {} \
                 WHERE d.tenant_id = $1 ORDER BY d.created_at, d.id",
            directory::LAST_ACTIVITY_JOIN
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn register_key(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        k: &KeyCredential,
        allow_replace: bool,
        audit: &AuditRecord,
        certificate: Option<(&latchkey_storage::cert::CertificateRecord, &[AuditRecord])>,
    ) -> StorageResult<Option<String>> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        let replaced: Option<String> = sqlx::query_scalar(
            "SELECT key_id FROM key_credentials WHERE tenant_id = $1 AND user_id = $2 AND device_id = $3",
        )
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
            cert::revoke_where(
                &mut tx,
                tenant,
                cert::Holder::Key(old),
                latchkey_storage::cert::CASCADE_REASONS.key_replaced,
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
            audit.event = latchkey_storage::audit::event::KEY_REPLACE.to_owned();
            let note = audit.reason.take().unwrap_or_default();
            audit.reason = Some(format!("{note} replaced {old}").trim().to_owned());
        }
        insert_audit(&mut tx, tenant, &audit).await?;
        if let Some((c, lines)) = certificate {
            cert::insert_certificate(&mut tx, tenant, c).await?;
            for line in lines {
                insert_audit(&mut tx, tenant, line).await?;
            }
        }
        tx.commit().await?;
        Ok(replaced)
    }

    async fn list_keys(&self, tenant: &str, upn: Option<&str>) -> StorageResult<Vec<KeyListing>> {
        Ok(sqlx::query_as::<_, KeyListing>(
            "SELECT k.key_id, u.upn, k.device_id, k.alg, k.usage, k.attestation, k.tpm_manufacturer, k.created_at \
             FROM key_credentials k JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
             WHERE k.tenant_id = $1 AND ($2 IS NULL OR u.upn = $2) ORDER BY k.created_at, k.key_id",
        )
        .bind(tenant)
        .bind(upn)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_key(
        &self,
        tenant: &str,
        key_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query("DELETE FROM key_credentials WHERE tenant_id = $1 AND key_id = $2")
            .bind(tenant)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        cert::revoke_where(
            &mut tx,
            tenant,
            cert::Holder::Key(key_id),
            latchkey_storage::cert::CASCADE_REASONS.key_deleted,
            audit,
        )
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn signin_context(
        &self,
        tenant: &str,
        upn: &str,
        device_id: &str,
        key_id: &str,
    ) -> StorageResult<SignInContext> {
        // On this thread: a point read costs less than a hand-off (see `direct`).
        self.readers
            .with(|conn| context::signin(conn, tenant, upn, device_id, key_id))
    }

    async fn complete_signin(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        prt: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        // The hot path: the writer task commits every sign-in waiting at the time in one
        // transaction (see `signin_batch`); it runs apart from the request, so a client that
        // disconnects mid-request cannot leave a transaction open on a pooled connection.
        self.signins.write(tenant, nonce, prt, audit).await
    }

    async fn prt_context(
        &self,
        tenant: &str,
        token_hash: &str,
    ) -> StorageResult<Option<PrtContext>> {
        self.readers
            .with(|conn| context::prt(conn, tenant, token_hash))
    }

    async fn renew_prt(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        old_hash: &str,
        new: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        let revoked = sqlx::query(
            "UPDATE prts SET revoked = $3 WHERE tenant_id = $1 AND token_hash = $2 AND revoked = $4",
        )
        .bind(tenant)
        .bind(old_hash)
        .bind(true)
        .bind(false)
        .execute(&mut *tx)
        .await?;
        if revoked.rows_affected() != 1 || !insert_prt(&mut tx, tenant, new).await? {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn prune_nonces(&self, tenant: &str, now: i64) -> StorageResult<u64> {
        let done = sqlx::query("DELETE FROM used_nonces WHERE tenant_id = $1 AND expires_at < $2")
            .bind(tenant)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn prune_prts(&self, tenant: &str, before: i64) -> StorageResult<u64> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query("DELETE FROM prts WHERE tenant_id = $1 AND expires_at < $2")
            .bind(tenant)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn audit_page(
        &self,
        tenant: &str,
        before: i64,
        after_seq: i64,
        limit: i64,
    ) -> StorageResult<Vec<(i64, AuditRecord)>> {
        audit::page(&self.pool, tenant, before, after_seq, limit).await
    }

    async fn prune_audit(
        &self,
        tenant: &str,
        before: i64,
        up_to_seq: Option<i64>,
    ) -> StorageResult<u64> {
        let mut gone = 0;
        loop {
            let (mut tx, _gate) = self.write().await?;
            let n = audit::delete_batch(&mut tx, tenant, before, up_to_seq).await?;
            tx.commit().await?;
            gone += n;
            if n < audit::DELETE_BATCH {
                return Ok(gone);
            }
        }
    }

    async fn ping(&self, tenant: &str) -> StorageResult<()> {
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    async fn counts(&self, tenant: &str) -> StorageResult<Counts> {
        let mut conn = self.pool.acquire().await?;
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
            "SELECT COUNT(*) FROM oidc_refresh_tokens WHERE tenant_id = $1 AND revoked = FALSE",
        )
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pooled_connections_sync_each_commit() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let storage = SqliteStorage::open(dir.path()).await?;
        let web = crate::web_sqlite::SqliteWebStorage::open(dir.path()).await?;
        for pool in [&storage.pool, &web.pool_for_tests()] {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await?;
            assert_eq!(level, 2, "synchronous = FULL");
        }
        web.close().await;
        storage.close().await;
        Ok(())
    }
}
