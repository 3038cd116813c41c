//! The directory changes and queries of the web administration (`latchkey-web`'s
//! Administration pages): a page of users by UPN prefix, enabling a user or a device,
//! replacing a user's TOTP secret, deleting a device. Each write is one transaction with
//! its audit line: it commits whole or not at all.

use async_trait::async_trait;

use super::{AuditRecord, DeviceListing, KeyListing, StorageResult, UserListing};

/// The most users one page lists.
pub const MAX_USER_PAGE: i64 = 200;
/// The most devices or Hello keys one page lists.
pub const MAX_PAGE: i64 = 200;

/// Directory administration over the storage of one service.
#[async_trait]
pub trait DirectoryAdmin: Send + Sync {
    /// Users whose UPN starts with `prefix` (empty: all), ordered by UPN, after the UPN
    /// `after` (keyset pagination: the last UPN of the previous page), at most `limit`
    /// (capped at [`MAX_USER_PAGE`]). Answered from the `(tenant_id, upn)` index.
    async fn search_users(
        &self,
        tenant: &str,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<UserListing>>;
    /// Devices in id order after the id `after` (keyset pagination), at most `limit`
    /// (capped at [`MAX_PAGE`]); with `owner`, only the devices of the user with that UPN
    /// (none when there is no such user). Answered from the `(tenant_id, id)` key, or the
    /// `(tenant_id, owner_user_id, id)` index with an owner, so a page costs the same with
    /// any number of devices.
    async fn devices_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<DeviceListing>>;
    /// Hello keys in key id order after the id `after`, at most `limit` (capped at
    /// [`MAX_PAGE`]); with `owner`, only the keys of the user with that UPN. Answered from
    /// the `(tenant_id, key_id)` key, or the `(tenant_id, user_id, device_id)` index with an
    /// owner.
    async fn keys_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<KeyListing>>;
    /// All Hello keys of the user with this UPN, walking [`DirectoryAdmin::keys_page`] (one
    /// index range per page; a user has one key per device).
    async fn keys_of(&self, tenant: &str, upn: &str) -> StorageResult<Vec<KeyListing>> {
        let mut all: Vec<KeyListing> = Vec::new();
        loop {
            let after = all.last().map(|k| k.key_id.clone());
            let page = self
                .keys_page(tenant, Some(upn), after.as_deref(), MAX_PAGE)
                .await?;
            let full = page.len() as i64 == MAX_PAGE;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }
    /// All devices the user with this UPN owns, walking [`DirectoryAdmin::devices_page`].
    async fn devices_of(&self, tenant: &str, upn: &str) -> StorageResult<Vec<DeviceListing>> {
        let mut all: Vec<DeviceListing> = Vec::new();
        loop {
            let after = all.last().map(|d| d.id.clone());
            let page = self
                .devices_page(tenant, Some(upn), after.as_deref(), MAX_PAGE)
                .await?;
            let full = page.len() as i64 == MAX_PAGE;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }
    /// Enables a disabled user; false if there is no such user.
    async fn enable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Replaces a user's (sealed) TOTP secret and forgets the last step used; false if
    /// there is no such user.
    async fn reset_mfa(
        &self,
        tenant: &str,
        user_id: &str,
        sealed_secret: &[u8],
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Enables a disabled device (its Hello keys sign in again; tokens issued before it was
    /// disabled stay dead); false if there is no such device.
    async fn enable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Deletes a device and what is on it (see `AdminStorage::remove_device`); false,
    /// with nothing written, if there is no such device.
    async fn delete_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
}
