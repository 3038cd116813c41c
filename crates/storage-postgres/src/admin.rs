//! [`AdminStorage`] on PostgreSQL: the administration commands' changes that rename, reset
//! or remove whole directory objects, and the audit search of `latchkeyd audit`. Each
//! change is one `READ COMMITTED` transaction with its audit line, run again whole on a
//! deadlock or serialization failure (`retrying!`). What a deletion takes with it is
//! described in [`latchkey_storage::admin`].
//!
//! Means per operation (see [`latchkey_storage::contract`]):
//! - `rename_tenant`, `reset_password`: one conditional `UPDATE` of the row (which locks
//!   it); nothing else is written when it finds no row.
//! - `delete_user`: locks the user row `FOR UPDATE` first. The sign-in, renewal,
//!   certificate and PIN-reset guards read the user `FOR SHARE` (`key_is_live`), so each
//!   either commits before the delete or waits for it and then finds no user; a device
//!   join or any other row naming the user takes a `FOR KEY SHARE` lock through its
//!   foreign key, so the owned-devices count made after the lock cannot miss a device
//!   joined meanwhile (that join waits, then fails on the deleted user).
//! - `remove_device`: locks the device row `FOR UPDATE` first, with the same effect for
//!   sign-ins (they read the device `FOR SHARE`) and key registrations (they lock the
//!   device `FOR UPDATE`), so the keys listed after the lock are all the device's keys.
//! - `delete_client`: locks the client row `FOR UPDATE` first: a code or refresh token
//!   stored meanwhile takes `FOR KEY SHARE` through its foreign key, waits, and fails.
//! - `rotate_client_secret`: reads the client `FOR UPDATE`, then updates it.
//! - `audit_search`, `audit_entry`: reads (one statement, one snapshot).

use async_trait::async_trait;
use sqlx::{PgConnection, QueryBuilder};

use super::cert::{revoke_where, Holder};
use super::tx::insert_audit;
use super::PgStorage;
use latchkey_storage::admin::{
    entry_of_row, AdminStorage, AuditEntry, AuditFilter, AuditRow, Removed, SecretRotation,
    UserDeletion, AUDIT_ENTRY_COLUMNS,
};
use latchkey_storage::cert::CASCADE_REASONS;
use latchkey_storage::import::BatchImport;
use latchkey_storage::{AuditRecord, StorageResult, UserImport};

/// Runs `sql` with the tenant as `$1` and `key` as `$2`; returns the rows it changed.
async fn run(conn: &mut PgConnection, sql: &str, tenant: &str, key: &str) -> StorageResult<u64> {
    Ok(sqlx::query(sql)
        .bind(tenant)
        .bind(key)
        .execute(conn)
        .await?
        .rows_affected())
}

/// The tables whose rows of a deleted user are its sessions and grants.
const USER_SESSION_TABLES: [&str; 5] = [
    "prts",
    "web_sessions",
    "oidc_refresh_tokens",
    "oidc_codes",
    "webauthn_challenges",
];

impl PgStorage {
    /// `delete_user`'s one attempt.
    async fn delete_user_once(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<UserDeletion> {
        let mut tx = self.begin().await?;
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND upn = $2 FOR UPDATE")
                .bind(tenant)
                .bind(upn)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else {
            return Ok(UserDeletion::NoSuchUser);
        };
        let owned: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND owner_user_id = $2",
        )
        .bind(tenant)
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        if owned > 0 {
            return Ok(UserDeletion::OwnsDevices(
                u64::try_from(owned).unwrap_or(u64::MAX),
            ));
        }
        let mut removed = Removed {
            certificates_revoked: revoke_where(
                &mut tx,
                tenant,
                Holder::UserUpn(upn),
                CASCADE_REASONS.user_deleted,
                audit,
            )
            .await?,
            ..Removed::default()
        };
        // Certificates of the user's keys name the user too, so the revocation above
        // covered them; what is left is to cut the links to the rows deleted below.
        run(
            &mut tx,
            "UPDATE certificates SET user_id = NULL WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        removed.hello_keys = run(
            &mut tx,
            "DELETE FROM key_credentials WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        removed.security_keys = run(
            &mut tx,
            "DELETE FROM security_keys WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        for table in USER_SESSION_TABLES {
            removed.sessions += run(
                &mut tx,
                &format!("DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2"),
                tenant,
                &id,
            )
            .await?;
        }
        run(
            &mut tx,
            "DELETE FROM kerberos_principals WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        run(
            &mut tx,
            "DELETE FROM policy_group_members WHERE tenant_id = $1 AND kind = 'user' \
             AND member = $2",
            tenant,
            upn,
        )
        .await?;
        run(
            &mut tx,
            "DELETE FROM users WHERE tenant_id = $1 AND id = $2",
            tenant,
            &id,
        )
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(UserDeletion::Deleted(removed))
    }

    /// `remove_device`'s one attempt.
    async fn remove_device_once(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<Option<Removed>> {
        let mut tx = self.begin().await?;
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
                .bind(tenant)
                .bind(device_id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Ok(None);
        }
        let reason = CASCADE_REASONS.device_deleted;
        let mut removed = Removed {
            certificates_revoked: revoke_where(
                &mut tx,
                tenant,
                Holder::Device(device_id),
                reason,
                audit,
            )
            .await?,
            ..Removed::default()
        };
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT key_id FROM key_credentials WHERE tenant_id = $1 AND device_id = $2 \
             ORDER BY key_id FOR UPDATE",
        )
        .bind(tenant)
        .bind(device_id)
        .fetch_all(&mut *tx)
        .await?;
        for key in &keys {
            let mut line = audit.clone();
            line.key_id = Some(key.clone());
            removed.certificates_revoked +=
                revoke_where(&mut tx, tenant, Holder::Key(key), reason, &line).await?;
        }
        run(
            &mut tx,
            "UPDATE certificates SET device_id = NULL WHERE tenant_id = $1 AND device_id = $2",
            tenant,
            device_id,
        )
        .await?;
        // Tokens first: they refer to the keys as well as to the device.
        removed.sessions = run(
            &mut tx,
            "DELETE FROM prts WHERE tenant_id = $1 AND device_id = $2",
            tenant,
            device_id,
        )
        .await?;
        removed.hello_keys = run(
            &mut tx,
            "DELETE FROM key_credentials WHERE tenant_id = $1 AND device_id = $2",
            tenant,
            device_id,
        )
        .await?;
        for sql in [
            "DELETE FROM policy_sessions WHERE tenant_id = $1 AND device_id = $2",
            "DELETE FROM tpm_activations WHERE tenant_id = $1 AND device_id = $2",
            "DELETE FROM tpm_devices WHERE tenant_id = $1 AND device_id = $2",
            "DELETE FROM policy_group_members WHERE tenant_id = $1 AND kind = 'device' \
             AND member = $2",
            "DELETE FROM devices WHERE tenant_id = $1 AND id = $2",
        ] {
            run(&mut tx, sql, tenant, device_id).await?;
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Some(removed))
    }

    /// `delete_client`'s one attempt.
    async fn delete_client_once(
        &self,
        tenant: &str,
        client_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2 FOR UPDATE",
        )
        .bind(tenant)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM oidc_codes WHERE tenant_id = $1 AND client_id = $2",
            "DELETE FROM oidc_refresh_tokens WHERE tenant_id = $1 AND client_id = $2",
            "DELETE FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2",
        ] {
            run(&mut tx, sql, tenant, client_id).await?;
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl AdminStorage for PgStorage {
    async fn begin_user_import(&self, tenant: &str) -> StorageResult<Box<dyn UserImport>> {
        // Row inserts only: the service keeps running; a concurrent `user add` of the same
        // UPN waits for the import's row and then conflicts (or the import does).
        Ok(Box::new(BatchImport::new(self.begin().await?, tenant, ())))
    }
    async fn rename_tenant(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE tenants SET name = $2 WHERE id = $1")
            .bind(tenant)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reset_password(
        &self,
        tenant: &str,
        upn: &str,
        password_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(async {
            let mut tx = self.begin().await?;
            let id: Option<String> = sqlx::query_scalar(
                "UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND upn = $2 \
                 RETURNING id",
            )
            .bind(tenant)
            .bind(upn)
            .bind(password_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                return Ok(false);
            };
            run(
                &mut tx,
                "DELETE FROM web_sessions WHERE tenant_id = $1 AND user_id = $2",
                tenant,
                &id,
            )
            .await?;
            insert_audit(&mut tx, tenant, audit).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn delete_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<UserDeletion> {
        retrying!(self.delete_user_once(tenant, upn, audit))
    }

    async fn remove_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<Option<Removed>> {
        retrying!(self.remove_device_once(tenant, device_id, audit))
    }

    async fn delete_client(
        &self,
        tenant: &str,
        client_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        retrying!(self.delete_client_once(tenant, client_id, audit))
    }

    async fn rotate_client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        secret_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<SecretRotation> {
        let mut tx = self.begin().await?;
        let current: Option<Option<String>> = sqlx::query_scalar(
            "SELECT secret_hash FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2 \
             FOR UPDATE",
        )
        .bind(tenant)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        match current {
            None => return Ok(SecretRotation::NoSuchClient),
            Some(None) => return Ok(SecretRotation::Public),
            Some(Some(_)) => {}
        }
        sqlx::query(
            "UPDATE oidc_clients SET secret_hash = $3 WHERE tenant_id = $1 AND client_id = $2",
        )
        .bind(tenant)
        .bind(client_id)
        .bind(secret_hash)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(SecretRotation::Rotated)
    }

    async fn audit_search(
        &self,
        tenant: &str,
        filter: &AuditFilter,
    ) -> StorageResult<Vec<AuditEntry>> {
        let mut q = QueryBuilder::new(AUDIT_ENTRY_COLUMNS);
        q.push(" WHERE tenant_id = ").push_bind(tenant.to_owned());
        if let Some(since) = filter.since {
            q.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            q.push(" AND at < ").push_bind(until);
        }
        if let Some(user) = &filter.user {
            q.push(" AND (actor = ")
                .push_bind(user.clone())
                .push(" OR reason = ")
                .push_bind(user.clone())
                .push(")");
        }
        if let Some(device) = &filter.device {
            q.push(" AND device_id = ").push_bind(device.clone());
        }
        match filter.event.as_deref().map(|e| (e.strip_suffix('*'), e)) {
            Some((Some(prefix), _)) => {
                // A prefix match without LIKE's wildcards: starts_with compares exactly.
                q.push(" AND starts_with(event, ")
                    .push_bind(prefix.to_owned())
                    .push(")");
            }
            Some((None, exact)) => {
                q.push(" AND event = ").push_bind(exact.to_owned());
            }
            None => {}
        }
        if let Some(outcome) = &filter.outcome {
            q.push(" AND outcome = ").push_bind(outcome.clone());
        }
        q.push(" ORDER BY seq DESC");
        if let Some(limit) = filter.limit {
            q.push(" LIMIT ").push_bind(i64::from(limit));
        }
        let rows: Vec<AuditRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let mut entries: Vec<AuditEntry> = rows.into_iter().map(entry_of_row).collect();
        entries.reverse();
        Ok(entries)
    }

    async fn audit_entry(&self, tenant: &str, seq: i64) -> StorageResult<Option<AuditEntry>> {
        let row: Option<AuditRow> = sqlx::query_as(&format!(
            "{AUDIT_ENTRY_COLUMNS} WHERE tenant_id = $1 AND seq = $2"
        ))
        .bind(tenant)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(entry_of_row))
    }
}
