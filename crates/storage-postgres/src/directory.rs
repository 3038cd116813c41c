//! [`Storage`] (tenant, users, devices, Hello keys, sign-ins, tokens, audit) on PostgreSQL.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl Storage for PgStorage {
    async fn load_tenant(&self) -> StorageResult<Option<TenantRecord>> {
        todo!("storage-postgres: load_tenant")
    }
    async fn create_tenant(&self, tenant: &TenantRecord) -> StorageResult<TenantRecord> {
        todo!("storage-postgres: create_tenant")
    }
    async fn seal_secrets(
        &self,
        tenant: &str,
        sealed: &SealedTenantSecrets,
        seal_totp: &SealTotp<'_>,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: seal_secrets")
    }
    async fn create_user(
        &self,
        tenant: &str,
        user: &User,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: create_user")
    }
    async fn user_by_upn(&self, tenant: &str, upn: &str) -> StorageResult<Option<User>> {
        todo!("storage-postgres: user_by_upn")
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
        todo!("storage-postgres: audit_since")
    }
    async fn device(&self, tenant: &str, device_id: &str) -> StorageResult<Option<Device>> {
        todo!("storage-postgres: device")
    }
    async fn device_owner(&self, tenant: &str, device_id: &str) -> StorageResult<Option<String>> {
        todo!("storage-postgres: device_owner")
    }
    async fn join_device(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device: &Device,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: join_device")
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
        todo!("storage-postgres: register_key")
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
