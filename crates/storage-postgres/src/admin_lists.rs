//! [`DirectoryAdmin`] (the web administration's paged lists and changes) on PostgreSQL.
//!
//! The lists are keyset pages: each starts after the last key of the previous page and
//! walks an index from there (`users (tenant_id, upn)`, `devices (tenant_id, id)`,
//! `devices_by_owner (tenant_id, owner_user_id, id)`, `key_credentials (tenant_id,
//! key_id)`, or one user's keys by `(tenant_id, user_id, device_id)`), so a page costs the
//! same however many rows come before it: no `OFFSET`, and an optional owner is a
//! statement of its own rather than `($n IS NULL OR ...)`.
//!
//! The changes, each one transaction with its audit line:
//! - `enable_user`, `reset_mfa`, `enable_device`: one conditional update of the row (it
//!   waits for a concurrent writer of the row and applies to the newest version).
//! - `delete_device`: locks the device row `FOR UPDATE` first. Sign-ins, renewals and
//!   certificate issues read the device `FOR SHARE` and `register_key` locks it
//!   `FOR UPDATE`, so each of them either commits before the delete reads the device's
//!   keys or waits for the delete and then finds the device gone. Runs in
//!   [`retrying!`](crate::retrying): it locks many rows.

use async_trait::async_trait;
use sqlx::PgConnection;

use crate::cert::{revoke_where, Holder};
use crate::tx::insert_audit;
use crate::PgStorage;
use latchkey_storage::cert::CASCADE_REASONS;
use latchkey_storage::directory::{DirectoryAdmin, MAX_PAGE, MAX_USER_PAGE};
use latchkey_storage::{AuditRecord, DeviceListing, KeyListing, StorageResult, UserListing};

/// Users by UPN prefix: one range on the `UNIQUE (tenant_id, upn)` index, from `$2` (the
/// prefix, or the keyset bound `$4` when that sorts later; `$4` itself is left out) to
/// `$3` (the prefix followed by U+10FFFF, above every UPN with that prefix; the column is
/// `COLLATE "C"`, so the order is the bytes'), at most `$5` rows.
const SEARCH_USERS_SQL: &str = "SELECT id, upn, display_name, disabled, created_at \
     FROM users WHERE tenant_id = $1 AND upn >= $2 AND upn < $3 AND upn <> $4 \
     ORDER BY upn LIMIT $5";

/// A device page's columns (`d` the device), its owner's UPN given as `$owner`.
macro_rules! device_columns {
    ($owner:literal) => {
        concat!(
            "d.id, d.display_name, d.os, d.join_type, ",
            $owner,
            " AS owner, d.joined_with_mfa, d.cert_thumbprint, d.disabled, d.created_at"
        )
    };
}

/// Joins each listed device (`page`) to its last activity: the issue time of its newest
/// primary refresh token. Tokens have no index by device (the sign-in path would write
/// one more index entry per sign-in for it), so this is one grouped pass over the
/// tenant's tokens, restricted to the page's devices, per page.
macro_rules! with_last_activity {
    () => {
        " SELECT page.*, a.last_activity FROM page LEFT JOIN \
         (SELECT device_id, MAX(issued_at) AS last_activity FROM prts \
         WHERE tenant_id = $1 AND device_id IN (SELECT id FROM page) GROUP BY device_id) a \
         ON a.device_id = page.id ORDER BY page.id"
    };
}

/// All devices, a page: walks the `(tenant_id, id)` key from `$2`, at most `$3`, each
/// owner's UPN by the users' primary key.
const DEVICES_PAGE_SQL: &str = concat!(
    "WITH page AS (SELECT ",
    device_columns!(
        "(SELECT u.upn FROM users u WHERE u.tenant_id = d.tenant_id AND u.id = d.owner_user_id)"
    ),
    " FROM devices d WHERE d.tenant_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3)",
    with_last_activity!()
);

/// One owner's devices, a page: the owner (UPN `$3`) by the `(tenant_id, upn)` index,
/// then `devices_by_owner (tenant_id, owner_user_id, id)` from `$2`, at most `$4`.
const OWNER_DEVICES_PAGE_SQL: &str = concat!(
    "WITH page AS (SELECT ",
    device_columns!("$3::TEXT"),
    " FROM devices d WHERE d.tenant_id = $1 AND d.owner_user_id = \
     (SELECT o.id FROM users o WHERE o.tenant_id = $1 AND o.upn = $3) \
     AND d.id > $2 ORDER BY d.id LIMIT $4)",
    with_last_activity!()
);

/// A Hello key page's columns (`k` the key), its user's UPN given as `$upn`.
macro_rules! key_columns {
    ($upn:literal) => {
        concat!(
            "k.key_id, ",
            $upn,
            " AS upn, k.device_id, k.alg, k.usage, k.attestation, k.tpm_manufacturer, \
             k.created_at"
        )
    };
}

/// All Hello keys, a page: walks the `(tenant_id, key_id)` key from `$2`, at most `$3`,
/// each user's UPN by the users' primary key.
const KEYS_PAGE_SQL: &str = concat!(
    "SELECT ",
    key_columns!(
        "(SELECT u.upn FROM users u WHERE u.tenant_id = k.tenant_id AND u.id = k.user_id)"
    ),
    " FROM key_credentials k WHERE k.tenant_id = $1 AND k.key_id > $2 \
     ORDER BY k.key_id LIMIT $3"
);

/// One owner's Hello keys, a page: the owner (UPN `$3`) by the `(tenant_id, upn)` index,
/// then `key_credentials_by_user (tenant_id, user_id, key_id)` (migration 0004) from `$2`,
/// at most `$4`.
const OWNER_KEYS_PAGE_SQL: &str = concat!(
    "SELECT ",
    key_columns!("$3::TEXT"),
    " FROM key_credentials k WHERE k.tenant_id = $1 AND k.user_id = \
     (SELECT o.id FROM users o WHERE o.tenant_id = $1 AND o.upn = $3) \
     AND k.key_id > $2 ORDER BY k.key_id LIMIT $4"
);

/// The lower bound `$2` of [`SEARCH_USERS_SQL`]: the prefix, or `after` if it sorts later.
fn range_start<'a>(prefix: &'a str, after: Option<&'a str>) -> &'a str {
    match after {
        Some(a) if a > prefix => a,
        _ => prefix,
    }
}

/// The exclusive upper bound of UPNs that start with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[async_trait]
impl DirectoryAdmin for PgStorage {
    async fn search_users(
        &self,
        tenant: &str,
        prefix: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<UserListing>> {
        Ok(sqlx::query_as::<_, UserListing>(SEARCH_USERS_SQL)
            .bind(tenant)
            .bind(range_start(prefix, after))
            .bind(prefix_end(prefix))
            .bind(after.unwrap_or(""))
            .bind(limit.clamp(1, MAX_USER_PAGE))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn devices_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<DeviceListing>> {
        let after = after.unwrap_or("");
        let limit = limit.clamp(1, MAX_PAGE);
        let query = match owner {
            Some(owner) => sqlx::query_as::<_, DeviceListing>(OWNER_DEVICES_PAGE_SQL)
                .bind(tenant)
                .bind(after)
                .bind(owner)
                .bind(limit),
            None => sqlx::query_as::<_, DeviceListing>(DEVICES_PAGE_SQL)
                .bind(tenant)
                .bind(after)
                .bind(limit),
        };
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn keys_page(
        &self,
        tenant: &str,
        owner: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<KeyListing>> {
        let after = after.unwrap_or("");
        let limit = limit.clamp(1, MAX_PAGE);
        let query = match owner {
            Some(owner) => sqlx::query_as::<_, KeyListing>(OWNER_KEYS_PAGE_SQL)
                .bind(tenant)
                .bind(after)
                .bind(owner)
                .bind(limit),
            None => sqlx::query_as::<_, KeyListing>(KEYS_PAGE_SQL)
                .bind(tenant)
                .bind(after)
                .bind(limit),
        };
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn enable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE users SET disabled = FALSE WHERE tenant_id = $1 AND upn = $2")
                .bind(tenant)
                .bind(upn)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reset_mfa(
        &self,
        tenant: &str,
        user_id: &str,
        sealed_secret: &[u8],
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET totp_secret = $3, last_totp_step = NULL \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(sealed_secret)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn enable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
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
        retrying!(async {
            let mut tx = self.begin().await?;
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            )
            .bind(tenant)
            .bind(device_id)
            .fetch_optional(&mut *tx)
            .await?;
            if found.is_none() {
                return Ok(false);
            }
            delete_device_rows(&mut tx, tenant, device_id, audit).await?;
            insert_audit(&mut tx, tenant, audit).await?;
            tx.commit().await?;
            Ok(true)
        })
    }
}

/// The statements that delete what is on a device, and then the device, in order (each
/// binds the tenant `$1` and the device id `$2`).
const DEVICE_DELETES: [&str; 7] = [
    "DELETE FROM key_credentials WHERE tenant_id = $1 AND device_id = $2",
    "DELETE FROM prts WHERE tenant_id = $1 AND device_id = $2",
    "DELETE FROM policy_sessions WHERE tenant_id = $1 AND device_id = $2",
    "DELETE FROM tpm_activations WHERE tenant_id = $1 AND device_id = $2",
    "DELETE FROM tpm_devices WHERE tenant_id = $1 AND device_id = $2",
    "DELETE FROM policy_group_members WHERE tenant_id = $1 AND kind = 'device' AND member = $2",
    "DELETE FROM devices WHERE tenant_id = $1 AND id = $2",
];

/// Inside the caller's transaction (the device row locked): revokes the certificates in
/// force of the device and of its Hello keys (a `cert_revoke` line each), clears the
/// certificates' link to the device (they stay listed), and deletes the device with its
/// keys, tokens, policy sessions, TPM records and group memberships.
async fn delete_device_rows(
    tx: &mut PgConnection,
    tenant: &str,
    device_id: &str,
    audit: &AuditRecord,
) -> StorageResult<()> {
    let reason = CASCADE_REASONS.device_deleted;
    revoke_where(&mut *tx, tenant, Holder::Device(device_id), reason, audit).await?;
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT key_id FROM key_credentials WHERE tenant_id = $1 AND device_id = $2 \
         ORDER BY key_id",
    )
    .bind(tenant)
    .bind(device_id)
    .fetch_all(&mut *tx)
    .await?;
    for key in &keys {
        let mut line = audit.clone();
        line.key_id = Some(key.clone());
        revoke_where(&mut *tx, tenant, Holder::Key(key), reason, &line).await?;
    }
    sqlx::query("UPDATE certificates SET device_id = NULL WHERE tenant_id = $1 AND device_id = $2")
        .bind(tenant)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    for sql in DEVICE_DELETES {
        sqlx::query(sql)
            .bind(tenant)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod plans;
