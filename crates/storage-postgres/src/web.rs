//! [`WebStorage`] on PostgreSQL, on the directory's pool.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::web::*;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl WebStorage for PgStorage {
    async fn user_by_id(&self, tenant: &str, user_id: &str) -> StorageResult<Option<User>> {
        todo!("storage-postgres: user_by_id")
    }
    async fn create_client(
        &self,
        tenant: &str,
        client: &OidcClient,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: create_client")
    }
    async fn client(&self, tenant: &str, client_id: &str) -> StorageResult<Option<OidcClient>> {
        todo!("storage-postgres: client")
    }
    async fn list_clients(&self, tenant: &str) -> StorageResult<Vec<OidcClient>> {
        todo!("storage-postgres: list_clients")
    }
    async fn store_code(&self, tenant: &str, code: &AuthCode) -> StorageResult<()> {
        todo!("storage-postgres: store_code")
    }
    async fn take_code(
        &self,
        tenant: &str,
        code_hash: &str,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<CodeRedemption> {
        todo!("storage-postgres: take_code")
    }
    async fn store_refresh(
        &self,
        tenant: &str,
        token: &RefreshGrant,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: store_refresh")
    }
    async fn rotate_refresh(
        &self,
        tenant: &str,
        old_hash: &str,
        client_id: &str,
        new: &RefreshGrant,
        now: i64,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<Rotation> {
        todo!("storage-postgres: rotate_refresh")
    }
    async fn password_session(
        &self,
        tenant: &str,
        totp_step: i64,
        session: &WebSession,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: password_session")
    }
    async fn session(
        &self,
        tenant: &str,
        id_hash: &str,
        now: i64,
    ) -> StorageResult<Option<(WebSession, User)>> {
        todo!("storage-postgres: session")
    }
    async fn delete_session(
        &self,
        tenant: &str,
        id_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: delete_session")
    }
    async fn prune_expired(&self, tenant: &str, before: i64) -> StorageResult<u64> {
        todo!("storage-postgres: prune_expired")
    }
    async fn store_challenge(&self, tenant: &str, c: &Challenge, now: i64) -> StorageResult<()> {
        todo!("storage-postgres: store_challenge")
    }
    async fn challenge(
        &self,
        tenant: &str,
        id: &str,
        now: i64,
    ) -> StorageResult<Option<Challenge>> {
        todo!("storage-postgres: challenge")
    }
    async fn list_security_keys(
        &self,
        tenant: &str,
        user_id: Option<&str>,
    ) -> StorageResult<Vec<SecurityKeyListing>> {
        todo!("storage-postgres: list_security_keys")
    }
    async fn security_key(
        &self,
        tenant: &str,
        credential_id: &str,
    ) -> StorageResult<Option<SecurityKey>> {
        todo!("storage-postgres: security_key")
    }
    async fn register_security_key(
        &self,
        tenant: &str,
        challenge_id: &str,
        key: &SecurityKey,
        max: i64,
        now: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RegisterOutcome> {
        todo!("storage-postgres: register_security_key")
    }
    #[allow(clippy::too_many_arguments)]
    async fn security_key_session(
        &self,
        tenant: &str,
        ceremony: &latchkey_storage::ConsumedNonce,
        credential_id: &str,
        old_count: i64,
        new_count: i64,
        session: &WebSession,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: security_key_session")
    }
    async fn ceremony_used(&self, tenant: &str, id: &str) -> StorageResult<bool> {
        todo!("storage-postgres: ceremony_used")
    }
    async fn rename_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        name: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: rename_security_key")
    }
    async fn delete_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: delete_security_key")
    }
    async fn security_key_settings(&self, tenant: &str) -> StorageResult<SecurityKeySettings> {
        todo!("storage-postgres: security_key_settings")
    }
    async fn set_security_key_settings(
        &self,
        tenant: &str,
        settings: &SecurityKeySettings,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: set_security_key_settings")
    }
    async fn audit_of(
        &self,
        tenant: &str,
        actor: &str,
        limit: i64,
    ) -> StorageResult<Vec<AuditRecord>> {
        todo!("storage-postgres: audit_of")
    }
    async fn audit_latest(&self, tenant: &str, limit: i64) -> StorageResult<Vec<AuditRecord>> {
        todo!("storage-postgres: audit_latest")
    }
}
