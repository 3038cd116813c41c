//! [`PolicyStorage`] on PostgreSQL.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::policy::*;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl PolicyStorage for PgStorage {
    async fn policy_version(&self, tenant: &str) -> StorageResult<i64> {
        todo!("storage-postgres: policy_version")
    }
    async fn load_csp(&self, tenant: &str, upn: Option<&str>) -> StorageResult<CspSnapshot> {
        todo!("storage-postgres: load_csp")
    }
    async fn save_csp(
        &self,
        tenant: &str,
        expected: i64,
        stores: &[CspStoreWrite],
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        todo!("storage-postgres: save_csp")
    }
    async fn list_gpos(&self, tenant: &str) -> StorageResult<Vec<GpoRow>> {
        todo!("storage-postgres: list_gpos")
    }
    async fn put_gpo(
        &self,
        tenant: &str,
        gpo: &GpoRow,
        audit: &AuditRecord,
    ) -> StorageResult<Versioned<()>> {
        todo!("storage-postgres: put_gpo")
    }
    async fn delete_gpo(
        &self,
        tenant: &str,
        name: &str,
        scope: Option<&str>,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<u64>> {
        todo!("storage-postgres: delete_gpo")
    }
    async fn list_group_members(&self, tenant: &str) -> StorageResult<Vec<GroupMemberRow>> {
        todo!("storage-postgres: list_group_members")
    }
    async fn create_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        todo!("storage-postgres: create_group")
    }
    async fn delete_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        todo!("storage-postgres: delete_group")
    }
    async fn set_group_member(
        &self,
        tenant: &str,
        name: &str,
        (kind, member): (&str, &str),
        add: bool,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        todo!("storage-postgres: set_group_member")
    }
    async fn create_admin_token(
        &self,
        tenant: &str,
        token: &AdminTokenRow,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: create_admin_token")
    }
    async fn admin_token_by_hash(
        &self,
        tenant: &str,
        hash: &str,
    ) -> StorageResult<Option<AdminTokenRow>> {
        todo!("storage-postgres: admin_token_by_hash")
    }
    async fn list_admin_tokens(&self, tenant: &str) -> StorageResult<Vec<AdminTokenRow>> {
        todo!("storage-postgres: list_admin_tokens")
    }
    async fn revoke_admin_token(
        &self,
        tenant: &str,
        id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: revoke_admin_token")
    }
    async fn consume_with_audit(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: consume_with_audit")
    }
    async fn open_policy_session(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        session: &PolicySessionRow,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: open_policy_session")
    }
    async fn close_policy_session(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device_id: &str,
        session_id: &str,
        failed: i64,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: close_policy_session")
    }
    async fn policy_sessions(
        &self,
        tenant: &str,
        device_id: &str,
    ) -> StorageResult<Vec<PolicySessionRow>> {
        todo!("storage-postgres: policy_sessions")
    }
}
