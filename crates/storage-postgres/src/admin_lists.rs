//! [`DirectoryAdmin`] (the web administration's paged lists and changes) on PostgreSQL.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::directory::*;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl DirectoryAdmin for PgStorage {
    async fn search_users(
        &self,
        tenant: &str,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<UserListing>> {
        todo!("storage-postgres: search_users")
    }
    async fn devices_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<DeviceListing>> {
        todo!("storage-postgres: devices_page")
    }
    async fn keys_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<KeyListing>> {
        todo!("storage-postgres: keys_page")
    }
    async fn enable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: enable_user")
    }
    async fn reset_mfa(
        &self,
        tenant: &str,
        user_id: &str,
        sealed_secret: &[u8],
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: reset_mfa")
    }
    async fn enable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: enable_device")
    }
    async fn delete_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: delete_device")
    }
}
