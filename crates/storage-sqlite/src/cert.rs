//! [`CertStorage`] on SQLite (portable SQL), and the revocation run inside the directory's
//! own transactions ([`revoke_where`]).

use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

use super::tx::{bind_row, consume_nonce, insert_audit, key_is_live};
use super::SqliteStorage;
use latchkey_storage::audit::event;
use latchkey_storage::cert::{
    CertAuthorityRecord, CertStorage, CertTemplateRecord, CertificateRecord, IssueOutcome,
    PkiState, RevokeOutcome, RevokedRow, KIND_USER, STATE_REVOKED, STATE_SUPERSEDED, STATE_VALID,
};
use latchkey_storage::rows::{ToRow, INSERT_CERTIFICATE};
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageResult};

const CERT_COLUMNS: &str = "c.serial, c.kind, c.user_id, u.upn, c.device_id, c.key_id, \
     c.template, c.subject, c.not_before, c.not_after, c.der, c.fingerprint, c.state, \
     c.revoked_at, c.reason, c.renewed_from, c.issued_at";
const CERT_FROM: &str =
    "FROM certificates c LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.user_id";

/// Which certificates a directory change revokes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Holder<'a> {
    /// Those certifying this Hello key.
    Key(&'a str),
    /// Those of this device.
    Device(&'a str),
    /// Those of the user with this UPN.
    UserUpn(&'a str),
}

/// Revokes, inside `tx`, every certificate of `holder` that is not revoked and has not
/// expired at `audit.at`, for `reason`; writes a `cert_revoke` line per certificate (the
/// other fields taken from `audit`) and marks the CRL stale. Returns how many.
pub(super) async fn revoke_where(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    holder: Holder<'_>,
    reason: &str,
    audit: &AuditRecord,
) -> StorageResult<u64> {
    let at = audit.at;
    let (filter, value) = match holder {
        Holder::Key(key_id) => ("key_id = $2", key_id),
        Holder::Device(device_id) => ("device_id = $2", device_id),
        Holder::UserUpn(upn) => (
            "user_id = (SELECT id FROM users WHERE tenant_id = $1 AND upn = $2)",
            upn,
        ),
    };
    let serials: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT serial FROM certificates WHERE tenant_id = $1 AND {filter} \
         AND state <> $3 AND not_after > $4 ORDER BY serial"
    ))
    .bind(tenant)
    .bind(value)
    .bind(STATE_REVOKED)
    .bind(at)
    .fetch_all(&mut **tx)
    .await?;
    for serial in &serials {
        mark_revoked(tx, tenant, serial, reason, at).await?;
        let mut line = audit.clone();
        line.event = event::CERT_REVOKE.to_owned();
        line.outcome = "success".to_owned();
        line.reason = Some(format!("serial={serial} reason={reason}"));
        insert_audit(tx, tenant, &line).await?;
    }
    Ok(u64::try_from(serials.len()).unwrap_or(u64::MAX))
}

async fn mark_revoked(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    serial: &str,
    reason: &str,
    at: i64,
) -> StorageResult<()> {
    sqlx::query(
        "UPDATE certificates SET state = $3, revoked_at = $4, reason = $5 \
         WHERE tenant_id = $1 AND serial = $2",
    )
    .bind(tenant)
    .bind(serial)
    .bind(STATE_REVOKED)
    .bind(at)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE cert_pki_state SET revision = revision + 1 WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn insert_certificate(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    c: &CertificateRecord,
) -> StorageResult<()> {
    let inserted = bind_row(sqlx::query(INSERT_CERTIFICATE).bind(tenant), c.row())
        .execute(&mut **tx)
        .await;
    super::tx::conflict_if_duplicate(inserted, || format!("certificate {}", c.serial))?;
    Ok(())
}

#[async_trait]
impl CertStorage for SqliteStorage {
    async fn cert_authorities(&self, tenant: &str) -> StorageResult<Vec<CertAuthorityRecord>> {
        Ok(sqlx::query_as::<_, CertAuthorityRecord>(
            "SELECT role, algorithm, cert_pem, key_pem, created_at FROM cert_authorities \
             WHERE tenant_id = $1 ORDER BY role",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_cert_authorities(
        &self,
        tenant: &str,
        authorities: &[CertAuthorityRecord],
        templates: &[CertTemplateRecord],
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM cert_authorities WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await?;
        if existing > 0 {
            return Ok(false);
        }
        for a in authorities {
            sqlx::query(
                "INSERT INTO cert_authorities (tenant_id, role, algorithm, cert_pem, key_pem, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tenant)
            .bind(&a.role)
            .bind(&a.algorithm)
            .bind(&a.cert_pem)
            .bind(&a.key_pem)
            .bind(a.created_at)
            .execute(&mut *tx)
            .await?;
        }
        for t in templates {
            sqlx::query(
                "INSERT INTO cert_templates (tenant_id, name, body, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, name) DO NOTHING",
            )
            .bind(tenant)
            .bind(&t.name)
            .bind(&t.body)
            .bind(t.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO cert_pki_state (tenant_id, base_url, crl_number, crl_der, \
             crl_this_update, crl_next_update, revision, signed_revision) \
             VALUES ($1, NULL, 0, NULL, 0, 0, 1, 0) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_pki_base_url(&self, tenant: &str, base_url: &str) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query(
            "UPDATE cert_pki_state SET base_url = $2 WHERE tenant_id = $1 \
             AND (base_url IS NULL OR base_url <> $2)",
        )
        .bind(tenant)
        .bind(base_url)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pki_state(&self, tenant: &str) -> StorageResult<Option<PkiState>> {
        Ok(sqlx::query_as::<_, PkiState>(
            "SELECT base_url, crl_number, crl_der, crl_this_update, crl_next_update, revision, \
             signed_revision \
             FROM cert_pki_state WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn store_crl(
        &self,
        tenant: &str,
        previous_number: i64,
        s: &PkiState,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query(
            "UPDATE cert_pki_state SET crl_number = $3, crl_der = $4, crl_this_update = $5, \
             crl_next_update = $6, signed_revision = $7 WHERE tenant_id = $1 AND crl_number = $2",
        )
        .bind(tenant)
        .bind(previous_number)
        .bind(s.crl_number)
        .bind(&s.crl_der)
        .bind(s.crl_this_update)
        .bind(s.crl_next_update)
        .bind(s.signed_revision)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn cert_templates(&self, tenant: &str) -> StorageResult<Vec<CertTemplateRecord>> {
        Ok(sqlx::query_as::<_, CertTemplateRecord>(
            "SELECT name, body, updated_at FROM cert_templates WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn put_cert_template(
        &self,
        tenant: &str,
        t: &CertTemplateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query(
            "INSERT INTO cert_templates (tenant_id, name, body, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET body = $3, updated_at = $4",
        )
        .bind(tenant)
        .bind(&t.name)
        .bind(&t.body)
        .bind(t.updated_at)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_certificate(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        c: &CertificateRecord,
        audit: &[AuditRecord],
    ) -> StorageResult<IssueOutcome> {
        let (mut tx, _gate) = self.write().await?;
        // Dropping the transaction on an early return rolls everything back.
        consume_nonce(&mut tx, tenant, nonce).await?;
        let live = match (&c.key_id, &c.user_id, &c.device_id) {
            (Some(key), Some(user), Some(device)) => {
                key_is_live(&mut tx, tenant, key, user, device).await?
            }
            _ => false,
        };
        if c.kind != KIND_USER || !live {
            return Ok(IssueOutcome::KeyGone);
        }
        if let Some(old) = &c.renewed_from {
            let done = sqlx::query(
                "UPDATE certificates SET state = $3 WHERE tenant_id = $1 AND serial = $2 \
                 AND state = $4 AND key_id = $5",
            )
            .bind(tenant)
            .bind(old)
            .bind(STATE_SUPERSEDED)
            .bind(STATE_VALID)
            .bind(&c.key_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(IssueOutcome::NotRenewable);
            }
        }
        insert_certificate(&mut tx, tenant, c).await?;
        for line in audit {
            insert_audit(&mut tx, tenant, line).await?;
        }
        tx.commit().await?;
        Ok(IssueOutcome::Issued)
    }

    async fn record_kdc_certificate(
        &self,
        tenant: &str,
        c: &CertificateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        insert_certificate(&mut tx, tenant, c).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn kerberos_principal(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM kerberos_principals WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn set_kerberos_principal(
        &self,
        tenant: &str,
        user_id: &str,
        name: Option<&str>,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        match name {
            Some(name) => {
                sqlx::query(
                    "INSERT INTO kerberos_principals (tenant_id, user_id, name, updated_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tenant_id, user_id) DO UPDATE SET name = $3, updated_at = $4",
                )
                .bind(tenant)
                .bind(user_id)
                .bind(name)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "DELETE FROM kerberos_principals WHERE tenant_id = $1 AND user_id = $2",
                )
                .bind(tenant)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn kerberos_realm(&self, tenant: &str) -> StorageResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT realm FROM kerberos_settings WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn record_kdc_setup(
        &self,
        tenant: &str,
        c: &CertificateRecord,
        realm: &str,
        at: i64,
        audit: &[AuditRecord],
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        insert_certificate(&mut tx, tenant, c).await?;
        sqlx::query(
            "INSERT INTO kerberos_settings (tenant_id, realm, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET realm = $2, updated_at = $3",
        )
        .bind(tenant)
        .bind(realm)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        for line in audit {
            insert_audit(&mut tx, tenant, line).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn certificate(
        &self,
        tenant: &str,
        serial: &str,
    ) -> StorageResult<Option<CertificateRecord>> {
        Ok(sqlx::query_as::<_, CertificateRecord>(&format!(
            "SELECT {CERT_COLUMNS} {CERT_FROM} WHERE c.tenant_id = $1 AND c.serial = $2"
        ))
        .bind(tenant)
        .bind(serial)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_certificates(
        &self,
        tenant: &str,
        upn: Option<&str>,
        limit: Option<i64>,
    ) -> StorageResult<Vec<CertificateRecord>> {
        Ok(sqlx::query_as::<_, CertificateRecord>(&format!(
            "SELECT {CERT_COLUMNS} {CERT_FROM} WHERE c.tenant_id = $1 \
             AND ($2 IS NULL OR u.upn = $2) ORDER BY c.issued_at DESC, c.serial LIMIT $3"
        ))
        .bind(tenant)
        .bind(upn)
        .bind(limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn revoke_certificate(
        &self,
        tenant: &str,
        serial: &str,
        reason: &str,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RevokeOutcome> {
        let (mut tx, _gate) = self.write().await?;
        let state: Option<String> = sqlx::query_scalar(
            "SELECT state FROM certificates WHERE tenant_id = $1 AND serial = $2",
        )
        .bind(tenant)
        .bind(serial)
        .fetch_optional(&mut *tx)
        .await?;
        match state.as_deref() {
            None => return Ok(RevokeOutcome::NotFound),
            Some(STATE_REVOKED) => return Ok(RevokeOutcome::AlreadyRevoked),
            Some(_) => {}
        }
        mark_revoked(&mut tx, tenant, serial, reason, at).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(RevokeOutcome::Revoked)
    }

    async fn nonce_used(&self, tenant: &str, nonce_id: &str) -> StorageResult<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT nonce_id FROM used_nonces WHERE tenant_id = $1 AND nonce_id = $2",
        )
        .bind(tenant)
        .bind(nonce_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn revoked_certificates(&self, tenant: &str, now: i64) -> StorageResult<Vec<RevokedRow>> {
        Ok(sqlx::query_as::<_, RevokedRow>(
            "SELECT serial, revoked_at, reason FROM certificates WHERE tenant_id = $1 \
             AND state = $2 AND not_after > $3 AND revoked_at IS NOT NULL AND reason IS NOT NULL \
             ORDER BY serial",
        )
        .bind(tenant)
        .bind(STATE_REVOKED)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}
