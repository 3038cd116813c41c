//! [`ResourceStorage`] on PostgreSQL.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::resources::*;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl ResourceStorage for PgStorage {
    async fn add_resource(
        &self,
        tenant: &str,
        resource: &Resource,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: add_resource")
    }
    async fn list_resources(&self, tenant: &str) -> StorageResult<Vec<Resource>> {
        todo!("storage-postgres: list_resources")
    }
    async fn remove_resource(
        &self,
        tenant: &str,
        uri: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: remove_resource")
    }
    async fn issue_token(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audience: Option<&str>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: issue_token")
    }
}
