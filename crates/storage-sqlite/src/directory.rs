//! [`DirectoryAdmin`] for SQLite.

use async_trait::async_trait;

use super::tx::insert_audit;
use super::SqliteStorage;
use latchkey_storage::directory::{DirectoryAdmin, MAX_USER_PAGE};
use latchkey_storage::{AuditRecord, StorageResult, UserListing};

/// The page query of [`DirectoryAdmin::search_users`]: one range on the UPN, from `$2`
/// (the prefix, or the keyset bound `$4` when that is further on; `$4` itself is left out)
/// to `$3` (the prefix followed by U+10FFFF, above every UPN with that prefix), so that
/// SQLite walks the `UNIQUE (tenant_id, upn)` index from the first row of the page and
/// stops after `$5` rows, however many users there are.
pub const SEARCH_USERS_SQL: &str = "SELECT id, upn, display_name, disabled, created_at \
     FROM users WHERE tenant_id = $1 AND upn >= $2 AND upn < $3 AND upn <> $4 \
     ORDER BY upn LIMIT $5";

/// The lower bound `$2` of [`SEARCH_USERS_SQL`]: the prefix, or `after` if it sorts later.
pub fn range_start<'a>(prefix: &'a str, after: Option<&'a str>) -> &'a str {
    match after {
        Some(a) if a > prefix => a,
        _ => prefix,
    }
}

/// The exclusive upper bound of UPNs that start with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[async_trait]
impl DirectoryAdmin for SqliteStorage {
    async fn search_users(
        &self,
        tenant: &str,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<UserListing>> {
        let rows: Vec<(String, String, String, bool, i64)> = sqlx::query_as(SEARCH_USERS_SQL)
            .bind(tenant)
            .bind(range_start(prefix, after))
            .bind(prefix_end(prefix))
            .bind(after.unwrap_or(""))
            .bind(limit.clamp(1, MAX_USER_PAGE))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, upn, display_name, disabled, created_at)| UserListing {
                    id,
                    upn,
                    display_name,
                    disabled,
                    created_at,
                },
            )
            .collect())
    }

    async fn enable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        SqliteStorage::enable_user(self, tenant, upn, audit).await
    }

    async fn reset_mfa(
        &self,
        tenant: &str,
        user_id: &str,
        sealed_secret: &[u8],
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        SqliteStorage::reset_mfa(self, tenant, user_id, sealed_secret, audit).await
    }

    async fn enable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done =
            sqlx::query("UPDATE devices SET disabled = FALSE WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        Ok(SqliteStorage::delete_device(self, tenant, device_id, audit)
            .await?
            .is_some())
    }
}
