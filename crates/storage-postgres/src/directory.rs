//! [`Storage`] (tenant, users, devices, Hello keys, sign-ins, tokens, audit) on PostgreSQL.
//!
//! Which means of the isolation contract ([`latchkey_storage::contract`]) each write uses:
//!
//! - `create_tenant`: the `singleton` unique constraint (`ON CONFLICT DO NOTHING`), then
//!   the stored tenant is read.
//! - `create_user`: the `(tenant_id, upn)` and `(tenant_id, id)` constraints (`Conflict`).
//! - `join_device`: the nonce's primary key ([`consume_nonce`]).
//! - `register_key`: see [`keys`] (the nonce, the device row locked `FOR UPDATE`).

mod keys;

use crate::tx::{conflict_if_duplicate, consume_nonce, insert_audit};
use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::*;

/// The tenant columns, in `TenantRecord`'s order.
const TENANT_COLUMNS: &str = "id, name, ca_cert_pem, ca_key_pem, signing_key_pkcs8, \
     signing_kid, nonce_secret, created_at, secrets_sealed_by";
/// The user columns, in `User`'s order.
const USER_COLUMNS: &str = "id, upn, display_name, password_hash, totp_secret, \
     last_totp_step, disabled, created_at";
/// The device columns, in `Device`'s order.
const DEVICE_COLUMNS: &str = "id, display_name, os, join_type, owner_user_id, \
     joined_with_mfa, public_key_spki, cert_pem, cert_thumbprint, disabled, created_at";
/// The Hello key columns, in `KeyCredential`'s order.
const KEY_COLUMNS: &str = "key_id, user_id, device_id, alg, public_key, usage, attestation, \
     created_at, tpm_manufacturer";

#[allow(unused_variables)]
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
        sqlx::query(
            "INSERT INTO tenants (id, name, ca_cert_pem, ca_key_pem, signing_key_pkcs8, \
             signing_kid, nonce_secret, created_at, secrets_sealed_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (singleton) DO NOTHING",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.ca_cert_pem)
        .bind(&t.ca_key_pem)
        .bind(&t.signing_key_pkcs8)
        .bind(&t.signing_kid)
        .bind(&t.nonce_secret)
        .bind(t.created_at)
        .bind(&t.secrets_sealed_by)
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
        todo!("storage-postgres: seal_secrets")
    }
    async fn create_user(&self, tenant: &str, u: &User, audit: &AuditRecord) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO users (tenant_id, {USER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(tenant)
        .bind(&u.id)
        .bind(&u.upn)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(&u.totp_secret)
        .bind(u.last_totp_step)
        .bind(u.disabled)
        .bind(u.created_at)
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
        todo!("storage-postgres: list_users")
    }
    async fn disable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: disable_user")
    }
    async fn password_signin(
        &self,
        tenant: &str,
        user_id: &str,
        totp_step: Option<i64>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: password_signin")
    }
    async fn append_audit(&self, tenant: &str, audit: &AuditRecord) -> StorageResult<()> {
        todo!("storage-postgres: append_audit")
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
        todo!("storage-postgres: device_owner")
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
        sqlx::query(&format!(
            "INSERT INTO devices (tenant_id, {DEVICE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(tenant)
        .bind(&d.id)
        .bind(&d.display_name)
        .bind(&d.os)
        .bind(&d.join_type)
        .bind(&d.owner_user_id)
        .bind(d.joined_with_mfa)
        .bind(&d.public_key_spki)
        .bind(&d.cert_pem)
        .bind(&d.cert_thumbprint)
        .bind(d.disabled)
        .bind(d.created_at)
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
        todo!("storage-postgres: leave_device")
    }
    async fn disable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: disable_device")
    }
    async fn list_devices(&self, tenant: &str) -> StorageResult<Vec<DeviceListing>> {
        todo!("storage-postgres: list_devices")
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
        todo!("storage-postgres: list_keys")
    }
    async fn delete_key(
        &self,
        tenant: &str,
        key_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: delete_key")
    }
    async fn signin_context(
        &self,
        tenant: &str,
        upn: &str,
        device_id: &str,
        key_id: &str,
    ) -> StorageResult<SignInContext> {
        todo!("storage-postgres: signin_context")
    }
    async fn complete_signin(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        prt: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: complete_signin")
    }
    async fn prt_context(
        &self,
        tenant: &str,
        token_hash: &str,
    ) -> StorageResult<Option<PrtContext>> {
        todo!("storage-postgres: prt_context")
    }
    async fn renew_prt(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        old_hash: &str,
        new: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: renew_prt")
    }
    async fn prune_nonces(&self, tenant: &str, now: i64) -> StorageResult<u64> {
        todo!("storage-postgres: prune_nonces")
    }
    async fn prune_prts(&self, tenant: &str, before: i64) -> StorageResult<u64> {
        todo!("storage-postgres: prune_prts")
    }
    async fn counts(&self, tenant: &str) -> StorageResult<Counts> {
        todo!("storage-postgres: counts")
    }
    async fn ping(&self, tenant: &str) -> StorageResult<()> {
        todo!("storage-postgres: ping")
    }
    async fn audit_page(
        &self,
        tenant: &str,
        before: i64,
        after_seq: i64,
        limit: i64,
    ) -> StorageResult<Vec<(i64, AuditRecord)>> {
        todo!("storage-postgres: audit_page")
    }
    async fn prune_audit(
        &self,
        tenant: &str,
        before: i64,
        up_to_seq: Option<i64>,
    ) -> StorageResult<u64> {
        todo!("storage-postgres: prune_audit")
    }
}
