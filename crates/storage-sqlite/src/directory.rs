//! [`DirectoryAdmin`] for SQLite.

use async_trait::async_trait;

use super::tx::insert_audit;
use super::SqliteStorage;
use latchkey_storage::directory::{DirectoryAdmin, MAX_PAGE, MAX_USER_PAGE};
use latchkey_storage::AdminStorage;
use latchkey_storage::{AuditRecord, DeviceListing, KeyListing, StorageResult, UserListing};

/// The page query of [`DirectoryAdmin::search_users`]: one range on the UPN, from `$2`
/// (the prefix, or the keyset bound `$4` when that is further on; `$4` itself is left out)
/// to `$3` (the prefix followed by U+10FFFF, above every UPN with that prefix), so that
/// SQLite walks the `UNIQUE (tenant_id, upn)` index from the first row of the page and
/// stops after `$5` rows, however many users there are.
pub const SEARCH_USERS_SQL: &str = "SELECT id, upn, display_name, disabled, created_at \
     FROM users WHERE tenant_id = $1 AND upn >= $2 AND upn < $3 AND upn <> $4 \
     ORDER BY upn LIMIT $5";

/// A device page query: devices after the id `$2` in id order, at most `$4`, narrowed by
/// `$where` (which names the owner UPN `$3`, or says `$3 IS NULL`). Last activity is the
/// newest primary refresh token's issue time, from [`LAST_ACTIVITY_JOIN`].
macro_rules! devices_page_sql {
    ($where:literal) => {
        concat!(
            "SELECT d.id, d.display_name, d.os, d.join_type, u.upn AS owner, ",
            "d.joined_with_mfa, d.cert_thumbprint, d.disabled, d.created_at, ",
            "a.last_activity FROM devices d ",
            "JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_user_id ",
            last_activity_join!(),
            " WHERE d.tenant_id = $1 AND d.id > $2 AND ",
            $where,
            " ORDER BY d.id LIMIT $4"
        )
    };
}

/// See [`LAST_ACTIVITY_JOIN`].
macro_rules! last_activity_join {
    () => {
        concat!(
            "LEFT JOIN (SELECT device_id, MAX(issued_at) AS last_activity FROM prts ",
            "WHERE tenant_id = $1 GROUP BY device_id) a ON a.device_id = d.id"
        )
    };
}

/// Each device's last activity (its newest primary refresh token's issue time) as one
/// grouped pass over the tenant's tokens, joined to the devices listed. The tokens have no
/// index by device, on purpose: the sign-in path would write a random index page for it on
/// every sign-in (crates/storage-sqlite/migrations/0004). A correlated subquery per device
/// would scan the tenant's tokens once per device; this scans them once per listing.
pub const LAST_ACTIVITY_JOIN: &str = last_activity_join!();

/// A Hello key page query: keys in key id order, at most `$4`, narrowed by `$where`
/// (which holds the keyset bound `$2`).
macro_rules! keys_page_sql {
    ($where:literal) => {
        concat!(
            "SELECT k.key_id, u.upn, k.device_id, k.alg, k.usage, k.attestation, ",
            "k.tpm_manufacturer, k.created_at FROM key_credentials k ",
            "JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id ",
            "WHERE k.tenant_id = $1 AND ",
            $where,
            " ORDER BY k.key_id LIMIT $4"
        )
    };
}

/// All devices, a page: walks the `(tenant_id, id)` key from `$2`.
pub const DEVICES_PAGE_SQL: &str = devices_page_sql!("$3 IS NULL");
/// One user's devices, a page: the user by the `(tenant_id, upn)` index, their devices by
/// `devices_by_owner`.
pub const OWNER_DEVICES_PAGE_SQL: &str = devices_page_sql!(
    "d.owner_user_id = (SELECT o.id FROM users o WHERE o.tenant_id = $1 AND o.upn = $3)"
);
/// All Hello keys, a page: walks the `(tenant_id, key_id)` key from `$2`.
pub const KEYS_PAGE_SQL: &str = keys_page_sql!("k.key_id > $2 AND $3 IS NULL");
/// One user's Hello keys, a page: the user by the `(tenant_id, upn)` index, then their keys
/// by the `(tenant_id, user_id, device_id)` index, sorted (one user has a key per device).
/// `CROSS JOIN` keeps that order, and the unary `+`s on the key id keep SQLite from
/// walking the tenant's keys by id instead (to spare the sort) and filtering them by user.
pub const OWNER_KEYS_PAGE_SQL: &str = "SELECT k.key_id, o.upn, k.device_id, k.alg, k.usage, \
     k.attestation, k.tpm_manufacturer, k.created_at FROM users o CROSS JOIN key_credentials k \
     WHERE o.tenant_id = $1 AND o.upn = $3 AND k.tenant_id = $1 AND k.user_id = o.id \
     AND +k.key_id > $2 ORDER BY +k.key_id LIMIT $4";

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

    async fn devices_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<DeviceListing>> {
        let sql = match owner {
            Some(_) => OWNER_DEVICES_PAGE_SQL,
            None => DEVICES_PAGE_SQL,
        };
        Ok(sqlx::query_as::<_, DeviceListing>(sql)
            .bind(tenant)
            .bind(after.unwrap_or(""))
            .bind(owner)
            .bind(limit.clamp(1, MAX_PAGE))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn keys_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<KeyListing>> {
        let sql = match owner {
            Some(_) => OWNER_KEYS_PAGE_SQL,
            None => KEYS_PAGE_SQL,
        };
        Ok(sqlx::query_as::<_, KeyListing>(sql)
            .bind(tenant)
            .bind(after.unwrap_or(""))
            .bind(owner)
            .bind(limit.clamp(1, MAX_PAGE))
            .fetch_all(&self.pool)
            .await?)
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
        Ok(AdminStorage::remove_device(self, tenant, device_id, audit)
            .await?
            .is_some())
    }
}
