//! [`CertStorage`] on PostgreSQL, and the revocation run inside the directory's own
//! transactions ([`revoke_where`]).

use async_trait::async_trait;
use sqlx::PgConnection;

use super::tx::{consume_nonce, insert_audit, key_is_live};
use super::PgStorage;
use latchkey_storage::audit::event;
use latchkey_storage::cert::{
    CertAuthorityRecord, CertStorage, CertTemplateRecord, CertificateRecord, IssueOutcome,
    PkiState, RevokeOutcome, RevokedRow, KIND_USER, STATE_REVOKED, STATE_SUPERSEDED, STATE_VALID,
};
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
    let inserted = sqlx::query(
        "INSERT INTO certificates (tenant_id, serial, kind, user_id, device_id, key_id, \
         template, subject, not_before, not_after, der, fingerprint, state, revoked_at, \
         reason, renewed_from, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(tenant)
    .bind(&c.serial)
    .bind(&c.kind)
    .bind(&c.user_id)
    .bind(&c.device_id)
    .bind(&c.key_id)
    .bind(&c.template)
    .bind(&c.subject)
    .bind(c.not_before)
    .bind(c.not_after)
    .bind(&c.der)
    .bind(&c.fingerprint)
    .bind(&c.state)
    .bind(c.revoked_at)
    .bind(&c.reason)
    .bind(&c.renewed_from)
    .bind(c.issued_at)
    .execute(&mut *tx)
    .await;
    super::tx::conflict_if_duplicate(inserted, || format!("certificate {}", c.serial))?;
    Ok(())
}

#[allow(unused_variables)]
#[async_trait]
impl CertStorage for PgStorage {
    async fn cert_authorities(&self, tenant: &str) -> StorageResult<Vec<CertAuthorityRecord>> {
        todo!("storage-postgres: cert_authorities")
    }
    async fn create_cert_authorities(
        &self,
        tenant: &str,
        authorities: &[CertAuthorityRecord],
        templates: &[CertTemplateRecord],
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: create_cert_authorities")
    }
    async fn set_pki_base_url(&self, tenant: &str, base_url: &str) -> StorageResult<()> {
        todo!("storage-postgres: set_pki_base_url")
    }
    async fn pki_state(&self, tenant: &str) -> StorageResult<Option<PkiState>> {
        todo!("storage-postgres: pki_state")
    }
    async fn store_crl(
        &self,
        tenant: &str,
        previous_number: i64,
        state: &PkiState,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: store_crl")
    }
    async fn cert_templates(&self, tenant: &str) -> StorageResult<Vec<CertTemplateRecord>> {
        todo!("storage-postgres: cert_templates")
    }
    async fn put_cert_template(
        &self,
        tenant: &str,
        template: &CertTemplateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: put_cert_template")
    }
    async fn record_certificate(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        cert: &CertificateRecord,
        audit: &[AuditRecord],
    ) -> StorageResult<IssueOutcome> {
        todo!("storage-postgres: record_certificate")
    }
    async fn record_kdc_certificate(
        &self,
        tenant: &str,
        cert: &CertificateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: record_kdc_certificate")
    }
    async fn certificate(
        &self,
        tenant: &str,
        serial: &str,
    ) -> StorageResult<Option<CertificateRecord>> {
        todo!("storage-postgres: certificate")
    }
    async fn list_certificates(
        &self,
        tenant: &str,
        upn: Option<&str>,
        limit: Option<i64>,
    ) -> StorageResult<Vec<CertificateRecord>> {
        todo!("storage-postgres: list_certificates")
    }
    async fn revoke_certificate(
        &self,
        tenant: &str,
        serial: &str,
        reason: &str,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RevokeOutcome> {
        todo!("storage-postgres: revoke_certificate")
    }
    async fn nonce_used(&self, tenant: &str, nonce_id: &str) -> StorageResult<bool> {
        todo!("storage-postgres: nonce_used")
    }
    async fn revoked_certificates(&self, tenant: &str, now: i64) -> StorageResult<Vec<RevokedRow>> {
        todo!("storage-postgres: revoked_certificates")
    }
    async fn kerberos_principal(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> StorageResult<Option<String>> {
        todo!("storage-postgres: kerberos_principal")
    }
    async fn set_kerberos_principal(
        &self,
        tenant: &str,
        user_id: &str,
        name: Option<&str>,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: set_kerberos_principal")
    }
    async fn kerberos_realm(&self, tenant: &str) -> StorageResult<Option<String>> {
        todo!("storage-postgres: kerberos_realm")
    }
    async fn record_kdc_setup(
        &self,
        tenant: &str,
        cert: &CertificateRecord,
        realm: &str,
        at: i64,
        audit: &[AuditRecord],
    ) -> StorageResult<()> {
        todo!("storage-postgres: record_kdc_setup")
    }
}
