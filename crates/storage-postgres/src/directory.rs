//! [`Storage`] (tenant, users, devices, Hello keys, sign-ins, tokens, audit) on PostgreSQL.
//!
//! Which means of the isolation contract ([`latchkey_storage::contract`]) each write uses:
//!
//! - `create_tenant`: the `singleton` unique constraint (`ON CONFLICT DO NOTHING`), then
//!   the stored tenant is read.
//! - `create_user`: the `(tenant_id, upn)` and `(tenant_id, id)` constraints (`Conflict`).
//! - `join_device`: the nonce's primary key ([`consume_nonce`]).
//! - `register_key`: see [`keys`] (the nonce, the device row locked `FOR UPDATE`).
//! - `disable_user`, `disable_device`, `leave_device`, `delete_key`: the update or delete
//!   locks the row, which waits for the sign-ins holding it `FOR SHARE` (see [`signin`])
//!   and makes later ones wait for this commit, then see the change.
//! - `password_signin`: a conditional update of the user row (the TOTP step only moves
//!   forward, and only for a user not disabled), re-evaluated on the newest row version;
//!   without a step the user row is read `FOR SHARE`.
//! - `complete_signin`, `renew_prt`: see [`signin`].
//!
//! Writes that lock several rows run in [`retrying!`](crate::retrying), so a deadlock
//! PostgreSQL breaks is run again whole.

mod keys;
#[cfg(test)]
mod plans;
mod signin;
mod upkeep;

use sqlx::PgConnection;

use crate::cert::{revoke_where, Holder};
use crate::tx::{bind_row, conflict_if_duplicate, consume_nonce, insert_audit};
use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::cert::CASCADE_REASONS;
use latchkey_storage::rows::{
    ToRow, DEVICE_COLUMNS, INSERT_DEVICE, INSERT_TENANT, INSERT_USER, TENANT_COLUMNS, USER_COLUMNS,
};
use latchkey_storage::*;

/// The Hello key listing's columns and join, for all keys or one owner's.
macro_rules! keys_listing {
    () => {
        "SELECT k.key_id, u.upn, k.device_id, k.alg, k.usage, k.attestation, \
         k.tpm_manufacturer, k.created_at FROM key_credentials k \
         JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id WHERE k.tenant_id = $1"
    };
}

/// Disables the device inside `conn`'s transaction and revokes its certificates; false
/// when there is no such device.
async fn disable_device_in(
    conn: &mut PgConnection,
    tenant: &str,
    device_id: &str,
    audit: &AuditRecord,
) -> StorageResult<bool> {
    let done = sqlx::query("UPDATE devices SET disabled = TRUE WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(device_id)
        .execute(&mut *conn)
        .await?;
    // The device's tokens die with it: every use of a token reads its device and refuses
    // a disabled one.
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    revoke_where(
        conn,
        tenant,
        Holder::Device(device_id),
        CASCADE_REASONS.device_disabled,
        audit,
    )
    .await?;
    Ok(true)
}

impl PgStorage {
    /// One attempt of `disable_user`.
    async fn disable_user_once(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE users SET disabled = TRUE WHERE tenant_id = $1 AND upn = $2")
                .bind(tenant)
                .bind(upn)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        revoke_where(
            &mut tx,
            tenant,
            Holder::UserUpn(upn),
            CASCADE_REASONS.user_disabled,
            audit,
        )
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// One attempt of `password_signin`.
    async fn password_signin_once(
        &self,
        tenant: &str,
        user_id: &str,
        totp_step: Option<i64>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        // The user is read again in this transaction: a disable that commits after the
        // caller read the user (while the password was checked) refuses the sign-in.
        let live = match totp_step {
            Some(step) => {
                sqlx::query(
                    "UPDATE users SET last_totp_step = $3 WHERE tenant_id = $1 AND id = $2 \
                     AND NOT disabled AND (last_totp_step IS NULL OR last_totp_step < $3)",
                )
                .bind(tenant)
                .bind(user_id)
                .bind(step)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
            None => sqlx::query_scalar::<_, i32>(
                "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND NOT disabled \
                 FOR SHARE",
            )
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
        };
        if !live {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// One attempt of `leave_device` (`disable` false) or `disable_device` (true: false
    /// when there is no such device, with nothing written).
    async fn end_device_once(
        &self,
        tenant: &str,
        nonce: Option<&ConsumedNonce>,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        if let Some(nonce) = nonce {
            consume_nonce(&mut tx, tenant, nonce).await?;
        }
        let found = disable_device_in(&mut tx, tenant, device_id, audit).await?;
        if !found && nonce.is_none() {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// One attempt of `delete_key`.
    async fn delete_key_once(
        &self,
        tenant: &str,
        key_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM key_credentials WHERE tenant_id = $1 AND key_id = $2")
            .bind(tenant)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        revoke_where(
            &mut tx,
            tenant,
            Holder::Key(key_id),
            CASCADE_REASONS.key_deleted,
            audit,
        )
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl Storage for PgStorage {
    async fn load_tenant(&self) -> StorageResult<Option<TenantRecord>> {
        // A database holds one tenant; this is the one query without a tenant id, because
        // it is how the tenant id is found.
        Ok(sqlx::query_as::<_, TenantRecord>(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await?)
    }
    async fn create_tenant(&self, t: &TenantRecord) -> StorageResult<TenantRecord> {
        // Autocommit: the insert does nothing when a tenant exists (the `singleton`
        // constraint admits one row; a concurrent creator's insert waits for the first to
        // commit, then does nothing), and the next statement sees the one that is stored.
        bind_row(
            sqlx::query(&format!(
                "{INSERT_TENANT} ON CONFLICT (singleton) DO NOTHING"
            )),
            t.row(),
        )
        .execute(&self.pool)
        .await?;
        self.load_tenant()
            .await?
            .ok_or_else(|| StorageError::Database(sqlx::Error::RowNotFound))
    }
    async fn seal_secrets(
        &self,
        tenant: &str,
        sealed: &SealedTenantSecrets,
        seal_totp: &SealTotp<'_>,
    ) -> StorageResult<bool> {
        upkeep::seal_secrets(self, tenant, sealed, seal_totp).await
    }
    async fn create_user(&self, tenant: &str, u: &User, audit: &AuditRecord) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        let inserted = bind_row(sqlx::query(INSERT_USER).bind(tenant), u.row())
            .execute(&mut *tx)
            .await;
        // A duplicate fails the statement; dropping the transaction rolls it back.
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
        retrying!(self.disable_user_once(tenant, upn, audit))
    }
    async fn password_signin(
        &self,
        tenant: &str,
        user_id: &str,
        totp_step: Option<i64>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(self.password_signin_once(tenant, user_id, totp_step, audit))
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
        let mut tx = self.begin().await?;
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
        retrying!(self.end_device_once(tenant, Some(nonce), device_id, audit)).map(|_| ())
    }
    async fn disable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(self.end_device_once(tenant, None, device_id, audit))
    }
    async fn list_devices(&self, tenant: &str) -> StorageResult<Vec<DeviceListing>> {
        // Last activity: the newest token's issue time, one grouped pass over the tenant's
        // tokens (they have no index by device: the sign-in path would write it).
        Ok(sqlx::query_as::<_, DeviceListing>(
            "SELECT d.id, d.display_name, d.os, d.join_type, u.upn AS owner, \
             d.joined_with_mfa, d.cert_thumbprint, d.disabled, d.created_at, \
             a.last_activity FROM devices d \
             JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_user_id \
             LEFT JOIN (SELECT device_id, MAX(issued_at) AS last_activity FROM prts \
             WHERE tenant_id = $1 GROUP BY device_id) a ON a.device_id = d.id \
             WHERE d.tenant_id = $1 ORDER BY d.created_at, d.id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }
    async fn register_key(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        key: &KeyCredential,
        allow_replace: bool,
        audit: &AuditRecord,
        certificate: Option<(&cert::CertificateRecord, &[AuditRecord])>,
    ) -> StorageResult<Option<String>> {
        retrying!(keys::register(
            self,
            tenant,
            nonce,
            key,
            allow_replace,
            audit,
            certificate
        ))
    }
    async fn list_keys(&self, tenant: &str, upn: Option<&str>) -> StorageResult<Vec<KeyListing>> {
        let query = match upn {
            None => sqlx::query_as::<_, KeyListing>(concat!(
                keys_listing!(),
                " ORDER BY k.created_at, k.key_id"
            ))
            .bind(tenant),
            Some(upn) => sqlx::query_as::<_, KeyListing>(concat!(
                keys_listing!(),
                " AND u.upn = $2 ORDER BY k.created_at, k.key_id"
            ))
            .bind(tenant)
            .bind(upn),
        };
        Ok(query.fetch_all(&self.pool).await?)
    }
    async fn delete_key(
        &self,
        tenant: &str,
        key_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(self.delete_key_once(tenant, key_id, audit))
    }
    async fn signin_context(
        &self,
        tenant: &str,
        upn: &str,
        device_id: &str,
        key_id: &str,
    ) -> StorageResult<SignInContext> {
        signin::context(&self.pool, tenant, upn, device_id, key_id).await
    }
    async fn complete_signin(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        prt: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(signin::complete(&self.pool, tenant, nonce, prt, audit))
    }
    async fn prt_context(
        &self,
        tenant: &str,
        token_hash: &str,
    ) -> StorageResult<Option<PrtContext>> {
        signin::prt_context(&self.pool, tenant, token_hash).await
    }
    async fn renew_prt(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        old_hash: &str,
        new: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(signin::renew(self, tenant, nonce, old_hash, new, audit))
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
        let done = sqlx::query("DELETE FROM prts WHERE tenant_id = $1 AND expires_at < $2")
            .bind(tenant)
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
    async fn counts(&self, tenant: &str) -> StorageResult<Counts> {
        upkeep::counts(self, tenant).await
    }
    async fn ping(&self, tenant: &str) -> StorageResult<()> {
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }
    async fn audit_page(
        &self,
        tenant: &str,
        before: i64,
        after_seq: i64,
        limit: i64,
    ) -> StorageResult<Vec<(i64, AuditRecord)>> {
        upkeep::audit_page(self, tenant, before, after_seq, limit).await
    }
    async fn prune_audit(
        &self,
        tenant: &str,
        before: i64,
        up_to_seq: Option<i64>,
    ) -> StorageResult<u64> {
        upkeep::prune_audit(self, tenant, before, up_to_seq).await
    }
}
