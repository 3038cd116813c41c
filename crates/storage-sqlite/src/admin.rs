//! [`AdminStorage`] on SQLite: the administration commands' writes that change or remove
//! whole directory objects (`latchkeyd tenant rename`, `user enable|delete|reset-password|
//! reset-mfa`, `device delete`, `client delete|rotate-secret`), and the audit search of
//! `latchkeyd audit` (by time through the `audit_by_time` index, user, device, event and
//! outcome, newest entries kept when a limit applies). Each write is one `BEGIN IMMEDIATE`
//! transaction with its audit line: it commits whole or not at all. What a deletion takes
//! with it is described in [`latchkey_storage::admin`].

use sqlx::QueryBuilder;
use sqlx::{Sqlite, Transaction};

use super::cert::{revoke_where, Holder};
use super::tx::insert_audit;
use super::SqliteStorage;
use async_trait::async_trait;
use latchkey_storage::admin::{
    entry_of_row, AdminStorage, AuditEntry, AuditFilter, AuditRow, Removed, SecretRotation,
    UserDeletion, AUDIT_ENTRY_COLUMNS,
};
use latchkey_storage::cert::CASCADE_REASONS;
use latchkey_storage::import::BatchImport;
use latchkey_storage::{AuditRecord, StorageResult, UserImport};

async fn delete_rows(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &str,
    tenant: &str,
    key: &str,
) -> StorageResult<u64> {
    Ok(sqlx::query(sql)
        .bind(tenant)
        .bind(key)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

impl SqliteStorage {
    /// Enables a disabled user (sign-in works again with the same credentials); false if
    /// there is no such user. Certificates revoked when it was disabled stay revoked.
    pub(crate) async fn enable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        self.delete_one_audited(
            "UPDATE users SET disabled = FALSE WHERE tenant_id = $1 AND upn = $2",
            tenant,
            upn,
            audit,
        )
        .await
    }

    /// Replaces a user's (sealed) TOTP secret and forgets the last step used, so that only
    /// codes of the new secret are accepted from now on; false if there is no such user.
    pub(crate) async fn reset_mfa(
        &self,
        tenant: &str,
        user_id: &str,
        sealed_secret: &[u8],
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
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
}

#[async_trait]
impl AdminStorage for SqliteStorage {
    async fn begin_user_import(&self, tenant: &str) -> StorageResult<Box<dyn UserImport>> {
        // The gate and SQLite's write lock are held until the import ends.
        let (tx, gate) = self.write().await?;
        Ok(Box::new(BatchImport::new(tx, tenant, gate)))
    }
    async fn rename_tenant(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        self.delete_one_audited(
            "UPDATE tenants SET name = $2 WHERE id = $1",
            tenant,
            name,
            audit,
        )
        .await
    }

    async fn reset_password(
        &self,
        tenant: &str,
        upn: &str,
        password_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done =
            sqlx::query("UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND upn = $2")
                .bind(tenant)
                .bind(upn)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        delete_rows(
            &mut tx,
            "DELETE FROM web_sessions WHERE tenant_id = $1 AND user_id = \
             (SELECT id FROM users WHERE tenant_id = $1 AND upn = $2)",
            tenant,
            upn,
        )
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<UserDeletion> {
        let (mut tx, _gate) = self.write().await?;
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND upn = $2")
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
        sqlx::query("UPDATE certificates SET user_id = NULL WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        removed.hello_keys = delete_rows(
            &mut tx,
            "DELETE FROM key_credentials WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        removed.security_keys = delete_rows(
            &mut tx,
            "DELETE FROM security_keys WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        for table in [
            "prts",
            "web_sessions",
            "oidc_refresh_tokens",
            "oidc_codes",
            "webauthn_challenges",
        ] {
            removed.sessions += delete_rows(
                &mut tx,
                &format!("DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2"),
                tenant,
                &id,
            )
            .await?;
        }
        delete_rows(
            &mut tx,
            "DELETE FROM kerberos_principals WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            &id,
        )
        .await?;
        delete_rows(
            &mut tx,
            "DELETE FROM policy_group_members WHERE tenant_id = $1 AND kind = 'user' \
             AND member = $2",
            tenant,
            upn,
        )
        .await?;
        delete_rows(
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

    async fn remove_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<Option<Removed>> {
        let (mut tx, _gate) = self.write().await?;
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(device_id)
                .fetch_one(&mut *tx)
                .await?;
        if exists != 1 {
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
            "SELECT key_id FROM key_credentials WHERE tenant_id = $1 AND device_id = $2",
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
        sqlx::query(
            "UPDATE certificates SET device_id = NULL WHERE tenant_id = $1 AND device_id = $2",
        )
        .bind(tenant)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
        removed.hello_keys = delete_rows(
            &mut tx,
            "DELETE FROM key_credentials WHERE tenant_id = $1 AND device_id = $2",
            tenant,
            device_id,
        )
        .await?;
        removed.sessions = delete_rows(
            &mut tx,
            "DELETE FROM prts WHERE tenant_id = $1 AND device_id = $2",
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
            delete_rows(&mut tx, sql, tenant, device_id).await?;
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Some(removed))
    }

    async fn delete_client(
        &self,
        tenant: &str,
        client_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        for sql in [
            "DELETE FROM oidc_codes WHERE tenant_id = $1 AND client_id = $2",
            "DELETE FROM oidc_refresh_tokens WHERE tenant_id = $1 AND client_id = $2",
        ] {
            delete_rows(&mut tx, sql, tenant, client_id).await?;
        }
        let gone = delete_rows(
            &mut tx,
            "DELETE FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2",
            tenant,
            client_id,
        )
        .await?;
        if gone != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        secret_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<SecretRotation> {
        let (mut tx, _gate) = self.write().await?;
        let current: Option<Option<String>> = sqlx::query_scalar(
            "SELECT secret_hash FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2",
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
                // A prefix match without LIKE's wildcards: substr compares exactly.
                q.push(" AND substr(event, 1, ")
                    .push_bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
                    .push(") = ")
                    .push_bind(prefix.to_owned());
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
