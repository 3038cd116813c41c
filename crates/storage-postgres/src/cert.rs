//! [`CertStorage`] on PostgreSQL, and the revocation run inside the directory's own
//! transactions ([`revoke_where`]).
//!
//! How each write meets the isolation contract at `READ COMMITTED`:
//!
//! - `create_cert_authorities`: the tenant row locked `FOR NO KEY UPDATE` first
//!   ([`lock_tenant`]), so of concurrent creators one stores and the others find its
//!   authorities and return `false`.
//! - `store_crl`: a compare-and-set on the CRL number (`UPDATE ... WHERE crl_number =
//!   $previous`, re-evaluated on the newest row): one CRL per number.
//! - `record_certificate`: the nonce (`ON CONFLICT DO NOTHING`), the key guard
//!   ([`key_is_live`]: key, device and user `FOR SHARE`, ordered with a delete or
//!   disable), and for a renewal the conditional `UPDATE ... WHERE state = 'valid'` on the
//!   renewed certificate: of concurrent renewals one supersedes it, the others match
//!   nothing (`NotRenewable`, rolled back). Retried whole on a deadlock
//!   ([`crate::retry`]), which it can meet with a directory revocation that takes the
//!   certificate rows before the key's.
//! - `revoke_certificate`: the conditional `UPDATE ... WHERE state <> 'revoked'` (one of
//!   concurrent revocations revokes and audits), then the CRL's revision; retried on a
//!   deadlock (the directory's [`revoke_where`] takes certificate and PKI rows in turn).
//! - Templates, Kerberos principals and the realm: upserts on their primary keys; the
//!   KDC certificate: its primary key (`Conflict`).

use async_trait::async_trait;
use sqlx::PgConnection;

use super::pin_recovery::lock_tenant;
use super::tx::{bind_row, consume_nonce, insert_audit, key_is_live};
use super::PgStorage;
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
pub(crate) enum Holder<'a> {
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
pub(crate) async fn revoke_where(
    tx: &mut PgConnection,
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
    .fetch_all(&mut *tx)
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
    tx: &mut PgConnection,
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
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE cert_pki_state SET revision = revision + 1 WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(crate) async fn insert_certificate(
    tx: &mut PgConnection,
    tenant: &str,
    c: &CertificateRecord,
) -> StorageResult<()> {
    let inserted = bind_row(sqlx::query(INSERT_CERTIFICATE).bind(tenant), c.row())
        .execute(&mut *tx)
        .await;
    super::tx::conflict_if_duplicate(inserted, || format!("certificate {}", c.serial))?;
    Ok(())
}

/// The PKI state row's columns, in [`PkiState`]'s order.
const PKI_COLUMNS: &str = "base_url, crl_number, crl_der, crl_this_update, crl_next_update, \
     revision, signed_revision";

impl PgStorage {
    /// One attempt of [`CertStorage::record_certificate`], in its own transaction.
    async fn record_certificate_once(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        c: &CertificateRecord,
        audit: &[AuditRecord],
    ) -> StorageResult<IssueOutcome> {
        let mut tx = self.begin().await?;
        // Dropping the transaction on an early return rolls everything back.
        consume_nonce(&mut tx, tenant, nonce).await?;
        let live = match (&c.key_id, &c.user_id, &c.device_id) {
            (Some(key), Some(user), Some(device)) if c.kind == KIND_USER => {
                key_is_live(&mut tx, tenant, key, user, device).await?
            }
            _ => false,
        };
        if !live {
            return Ok(IssueOutcome::KeyGone);
        }
        if let Some(old) = &c.renewed_from {
            // Re-evaluated on the newest row after a concurrent renewal commits: one wins.
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

    /// One attempt of [`CertStorage::revoke_certificate`], in its own transaction.
    async fn revoke_certificate_once(
        &self,
        tenant: &str,
        serial: &str,
        reason: &str,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RevokeOutcome> {
        let mut tx = self.begin().await?;
        // Conditional, so of concurrent revocations one revokes and audits.
        let done = sqlx::query(
            "UPDATE certificates SET state = $3, revoked_at = $4, reason = $5 \
             WHERE tenant_id = $1 AND serial = $2 AND state <> $3",
        )
        .bind(tenant)
        .bind(serial)
        .bind(STATE_REVOKED)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM certificates WHERE tenant_id = $1 AND serial = $2)",
            )
            .bind(tenant)
            .bind(serial)
            .fetch_one(&mut *tx)
            .await?;
            return Ok(if exists {
                RevokeOutcome::AlreadyRevoked
            } else {
                RevokeOutcome::NotFound
            });
        }
        sqlx::query("UPDATE cert_pki_state SET revision = revision + 1 WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(RevokeOutcome::Revoked)
    }
}

#[async_trait]
impl CertStorage for PgStorage {
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
        let mut tx = self.begin().await?;
        // Of concurrent creators one at a time; the next sees the authorities stored.
        lock_tenant(&mut tx, tenant).await?;
        let existing: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM cert_authorities WHERE tenant_id = $1)",
        )
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
        if existing {
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
        // One statement: its own transaction.
        sqlx::query(
            "UPDATE cert_pki_state SET base_url = $2 WHERE tenant_id = $1 \
             AND base_url IS DISTINCT FROM $2",
        )
        .bind(tenant)
        .bind(base_url)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn pki_state(&self, tenant: &str) -> StorageResult<Option<PkiState>> {
        Ok(sqlx::query_as::<_, PkiState>(&format!(
            "SELECT {PKI_COLUMNS} FROM cert_pki_state WHERE tenant_id = $1"
        ))
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
        // The compare-and-set, one statement: a concurrent writer's update is waited for
        // and the condition re-evaluated on its row, so one CRL per number is stored.
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
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
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
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO cert_templates (tenant_id, name, body, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET body = EXCLUDED.body, \
             updated_at = EXCLUDED.updated_at",
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
        cert: &CertificateRecord,
        audit: &[AuditRecord],
    ) -> StorageResult<IssueOutcome> {
        retrying!(self.record_certificate_once(tenant, nonce, cert, audit))
    }

    async fn record_kdc_certificate(
        &self,
        tenant: &str,
        c: &CertificateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        insert_certificate(&mut tx, tenant, c).await?;
        insert_audit(&mut tx, tenant, audit).await?;
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
        // `LIMIT NULL` is no limit; a negative limit lists nothing.
        let limit = limit.map(|l| l.max(0));
        let filter = if upn.is_some() { "AND u.upn = $3" } else { "" };
        let sql = format!(
            "SELECT {CERT_COLUMNS} {CERT_FROM} WHERE c.tenant_id = $1 {filter} \
             ORDER BY c.issued_at DESC, c.serial LIMIT $2"
        );
        let query = sqlx::query_as::<_, CertificateRecord>(&sql)
            .bind(tenant)
            .bind(limit);
        let query = match upn {
            Some(upn) => query.bind(upn),
            None => query,
        };
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn revoke_certificate(
        &self,
        tenant: &str,
        serial: &str,
        reason: &str,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RevokeOutcome> {
        retrying!(self.revoke_certificate_once(tenant, serial, reason, at, audit))
    }

    async fn nonce_used(&self, tenant: &str, nonce_id: &str) -> StorageResult<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM used_nonces WHERE tenant_id = $1 AND nonce_id = $2)",
        )
        .bind(tenant)
        .bind(nonce_id)
        .fetch_one(&self.pool)
        .await?)
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
        let mut tx = self.begin().await?;
        match name {
            Some(name) => {
                sqlx::query(
                    "INSERT INTO kerberos_principals (tenant_id, user_id, name, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, user_id) \
                     DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at",
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
        let mut tx = self.begin().await?;
        insert_certificate(&mut tx, tenant, c).await?;
        sqlx::query(
            "INSERT INTO kerberos_settings (tenant_id, realm, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET realm = EXCLUDED.realm, \
             updated_at = EXCLUDED.updated_at",
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
}
