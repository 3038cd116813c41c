//! The administration commands' writes that change or remove whole directory objects
//! (`latchkeyd tenant rename`, `user enable|delete|reset-password|reset-mfa`, `device
//! delete`, `client delete|rotate-secret`). Each is one `BEGIN IMMEDIATE` transaction with
//! its audit line: it commits whole or not at all.
//!
//! What a deletion takes with it (Entra ID's model, with one difference, see
//! [`SqliteStorage::delete_user`]): the object's sessions and credentials are deleted, its
//! certificates in force are revoked (and stay listed, on the CRL, with the link to the
//! deleted row cleared), and the audit trail keeps every line that names it.

use sqlx::{Sqlite, Transaction};

use super::cert::{revoke_where, Holder};
use super::tx::insert_audit;
use super::SqliteStorage;
use latchkey_storage::cert::CASCADE_REASONS;
use latchkey_storage::{AuditRecord, StorageResult};

/// What `delete_user` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDeletion {
    /// No user with this UPN; nothing written.
    NoSuchUser,
    /// The user is the registered owner of this many devices; nothing written.
    OwnsDevices(u64),
    /// Deleted, with what went with it.
    Deleted(Removed),
}

/// What went with a deleted user or device.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    /// Hello keys deleted.
    pub hello_keys: u64,
    /// FIDO2 security keys deleted.
    pub security_keys: u64,
    /// Certificates revoked.
    pub certificates_revoked: u64,
    /// Primary refresh tokens, browser sessions and application grants deleted.
    pub sessions: u64,
}

/// What `rotate_client_secret` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRotation {
    /// No such client; nothing written.
    NoSuchClient,
    /// A public client has no secret; nothing written.
    Public,
    /// The new secret's hash is stored.
    Rotated,
}

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
    /// Renames the tenant; false if there is no such tenant.
    pub async fn rename_tenant(
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

    /// Enables a disabled user (sign-in works again with the same credentials); false if
    /// there is no such user. Certificates revoked when it was disabled stay revoked.
    pub async fn enable_user(
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

    /// Replaces a user's password hash and ends the user's browser sessions (they were
    /// opened with the old password); false if there is no such user. Hello keys and their
    /// primary refresh tokens are not password-based and stay.
    pub async fn reset_password(
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

    /// Replaces a user's (sealed) TOTP secret and forgets the last step used, so that only
    /// codes of the new secret are accepted from now on; false if there is no such user.
    pub async fn reset_mfa(
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

    /// Deletes a user with its Hello keys (on every device), security keys, primary
    /// refresh tokens, browser sessions, application codes and refresh tokens, Kerberos
    /// principal override and group memberships; revokes its certificates in force
    /// (`cessationOfOperation`), which stay listed without the user. Entra ID keeps a
    /// deleted user's devices without an owner; a Latchkey device always names its
    /// registered owner (the join-with-MFA rule reads it), so the user's own devices must
    /// be deleted first ([`UserDeletion::OwnsDevices`], nothing written).
    pub async fn delete_user(
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

    /// Deletes a device with the Hello keys registered on it (any user's), its primary
    /// refresh tokens, policy sessions, TPM records and group memberships; revokes its
    /// certificates and its keys' certificates in force (`cessationOfOperation`), which stay
    /// listed without the device. `None`, with nothing written, if there is no such device.
    pub async fn delete_device(
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

    /// Deletes an application with its authorization codes and refresh tokens (its
    /// access tokens expire on their own); false if there is no such client.
    pub async fn delete_client(
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

    /// Replaces a confidential client's secret hash: the old secret is refused from the
    /// commit on. Its refresh tokens stay (they need the client's secret to be used).
    pub async fn rotate_client_secret(
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
}
