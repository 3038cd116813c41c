//! Certificate trust state: the issuing CA and registration authority, templates, issued
//! certificates and the CRL. Same rules as [`super::Storage`]: every method is one
//! transaction, takes the tenant id and filters on it.
//!
//! Revocation by the directory (deleting or replacing a Hello key, disabling a device or a
//! user) happens inside those operations' own transactions in [`super::Storage`]; see
//! [`CASCADE_REASONS`].

use async_trait::async_trait;
use serde::Serialize;

use super::{AuditRecord, ConsumedNonce, StorageResult};

/// `certificates.state` of a certificate in force.
pub const STATE_VALID: &str = "valid";
/// `certificates.state` of a certificate renewed by a newer one (valid until it expires,
/// not revoked).
pub const STATE_SUPERSEDED: &str = "superseded";
/// `certificates.state` of a revoked certificate.
pub const STATE_REVOKED: &str = "revoked";
/// `certificates.kind` of a Hello (user) certificate.
pub const KIND_USER: &str = "user";
/// `certificates.kind` of a KDC certificate.
pub const KIND_KDC: &str = "kdc";
/// `cert_authorities.role` of the issuing CA.
pub const ROLE_ISSUING: &str = "issuing";
/// `cert_authorities.role` of the registration authority.
pub const ROLE_RA: &str = "ra";

/// The RFC 5280 reason names recorded when the directory revokes: a deleted key, a replaced
/// key, a disabled device, a disabled user, a deleted user or device.
pub const CASCADE_REASONS: CascadeReasons = CascadeReasons {
    key_deleted: "cessationOfOperation",
    key_replaced: "superseded",
    device_disabled: "cessationOfOperation",
    user_disabled: "privilegeWithdrawn",
    user_deleted: "cessationOfOperation",
    device_deleted: "cessationOfOperation",
};

/// See [`CASCADE_REASONS`].
#[derive(Debug, Clone, Copy)]
pub struct CascadeReasons {
    /// The Hello key was deleted.
    pub key_deleted: &'static str,
    /// The Hello key was replaced by a new registration.
    pub key_replaced: &'static str,
    /// The device was disabled (or left).
    pub device_disabled: &'static str,
    /// The user was disabled.
    pub user_disabled: &'static str,
    /// The user was deleted (`latchkeyd user delete`).
    pub user_deleted: &'static str,
    /// The device was deleted (`latchkeyd device delete`).
    pub device_deleted: &'static str,
}

/// The issuing CA or the registration authority, as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct CertAuthorityRecord {
    /// [`ROLE_ISSUING`] or [`ROLE_RA`].
    pub role: String,
    /// `p256` or `rsa3072`.
    pub algorithm: String,
    /// Its certificate, PEM.
    pub cert_pem: String,
    /// Its private key, sealed (`sealed:v1:`).
    pub key_pem: String,
    /// Creation time.
    pub created_at: i64,
}

impl std::fmt::Debug for CertAuthorityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthorityRecord")
            .field("role", &self.role)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A certificate template, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CertTemplateRecord {
    /// Its name.
    pub name: String,
    /// The JSON of `latchkey_pki::Template`.
    pub body: String,
    /// Last change.
    pub updated_at: i64,
}

/// A certificate the issuing CA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CertificateRecord {
    /// Serial number, lowercase hex without leading zero bytes.
    pub serial: String,
    /// [`KIND_USER`] or [`KIND_KDC`].
    pub kind: String,
    /// The user (Hello certificates).
    pub user_id: Option<String>,
    /// The user's UPN (filled by listings; not stored).
    #[sqlx(default)]
    pub upn: Option<String>,
    /// The device (Hello certificates).
    pub device_id: Option<String>,
    /// The Hello key certified.
    pub key_id: Option<String>,
    /// The template it was issued on.
    pub template: String,
    /// Its subject, as text.
    pub subject: String,
    /// Start of validity.
    pub not_before: i64,
    /// End of validity.
    pub not_after: i64,
    /// The certificate, DER.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// Lowercase hex SHA-256 of `der`.
    pub fingerprint: String,
    /// [`STATE_VALID`], [`STATE_SUPERSEDED`] or [`STATE_REVOKED`].
    pub state: String,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// The RFC 5280 reason name it was revoked for.
    pub reason: Option<String>,
    /// The serial it renewed.
    pub renewed_from: Option<String>,
    /// When it was issued.
    pub issued_at: i64,
}

/// A revoked certificate, for the CRL and OCSP.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevokedRow {
    /// Serial number (hex).
    pub serial: String,
    /// When it was revoked.
    pub revoked_at: i64,
    /// The RFC 5280 reason name.
    pub reason: String,
}

/// The PKI state: base URL and current CRL.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PkiState {
    /// The public base URL the service last started with.
    pub base_url: Option<String>,
    /// The number of the current CRL (0 before the first).
    pub crl_number: i64,
    /// The current CRL, DER.
    pub crl_der: Option<Vec<u8>>,
    /// Its thisUpdate.
    pub crl_this_update: i64,
    /// Its nextUpdate.
    pub crl_next_update: i64,
    /// Incremented by every revocation.
    pub revision: i64,
    /// The revision the current CRL includes.
    pub signed_revision: i64,
}

/// How issuing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueOutcome {
    /// Recorded.
    Issued,
    /// The key is no longer registered for this user and device, or the user or device
    /// was disabled meanwhile: nothing written.
    KeyGone,
    /// The certificate being renewed is no longer `valid` (renewed or revoked
    /// meanwhile): nothing written.
    NotRenewable,
}

/// How a revocation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now.
    Revoked,
    /// No such certificate.
    NotFound,
    /// It was revoked before (nothing written).
    AlreadyRevoked,
}

/// The issuing CA, the RA, templates, certificates and the CRL.
#[async_trait]
pub trait CertStorage: Send + Sync + 'static {
    /// The stored authorities (none before they are created).
    async fn cert_authorities(&self, tenant: &str) -> StorageResult<Vec<CertAuthorityRecord>>;
    /// Stores the issuing CA and the RA, the default templates (unless templates of those
    /// names exist) and the PKI state row, audited; unless authorities exist already, in
    /// which case nothing is written and `false` is returned.
    async fn create_cert_authorities(
        &self,
        tenant: &str,
        authorities: &[CertAuthorityRecord],
        templates: &[CertTemplateRecord],
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Records the public base URL the service runs at.
    async fn set_pki_base_url(&self, tenant: &str, base_url: &str) -> StorageResult<()>;
    /// The PKI state (none before the authorities are created).
    async fn pki_state(&self, tenant: &str) -> StorageResult<Option<PkiState>>;
    /// Stores a new CRL if the current one still has number `previous_number` (so two
    /// writers never store two CRLs of one number); `false` otherwise, nothing written.
    async fn store_crl(
        &self,
        tenant: &str,
        previous_number: i64,
        state: &PkiState,
    ) -> StorageResult<bool>;

    /// All templates, by name.
    async fn cert_templates(&self, tenant: &str) -> StorageResult<Vec<CertTemplateRecord>>;
    /// Creates or replaces a template, audited.
    async fn put_cert_template(
        &self,
        tenant: &str,
        template: &CertTemplateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()>;

    /// Consumes the nonce and records the certificate, provided its key is still
    /// registered for its user and device and neither is disabled; with `renewed_from`,
    /// that certificate must still be `valid` and becomes `superseded`. Every line of
    /// `audit` is written with it. Nothing is written unless [`IssueOutcome::Issued`].
    async fn record_certificate(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        cert: &CertificateRecord,
        audit: &[AuditRecord],
    ) -> StorageResult<IssueOutcome>;
    /// Records a KDC certificate, audited.
    async fn record_kdc_certificate(
        &self,
        tenant: &str,
        cert: &CertificateRecord,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// One certificate, with its user's UPN.
    async fn certificate(
        &self,
        tenant: &str,
        serial: &str,
    ) -> StorageResult<Option<CertificateRecord>>;
    /// All certificates (or one user's), newest first, with their users' UPNs; at most
    /// `limit` of them when given.
    async fn list_certificates(
        &self,
        tenant: &str,
        upn: Option<&str>,
        limit: Option<i64>,
    ) -> StorageResult<Vec<CertificateRecord>>;
    /// Revokes one certificate at `at` for `reason` and marks the CRL stale, audited.
    async fn revoke_certificate(
        &self,
        tenant: &str,
        serial: &str,
        reason: &str,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RevokeOutcome>;
    /// Whether the nonce `nonce_id` was consumed already (a read; the consuming
    /// transaction is what decides).
    async fn nonce_used(&self, tenant: &str, nonce_id: &str) -> StorageResult<bool>;
    /// The revoked certificates that have not expired at `now` (the CRL's entries).
    async fn revoked_certificates(&self, tenant: &str, now: i64) -> StorageResult<Vec<RevokedRow>>;

    /// The user's principal name override (`latchkeyd kerberos set-principal`), if any.
    async fn kerberos_principal(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> StorageResult<Option<String>>;
    /// Sets (`Some`) or removes (`None`) the principal name override of the user `user_id`,
    /// audited, in one transaction.
    async fn set_kerberos_principal(
        &self,
        tenant: &str,
        user_id: &str,
        name: Option<&str>,
        at: i64,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// The tenant's Kerberos realm (`latchkeyd kerberos kdc-setup`), if one was recorded.
    async fn kerberos_realm(&self, tenant: &str) -> StorageResult<Option<String>>;
    /// In one transaction: records the KDC certificate `cert`, makes `realm` the tenant's
    /// Kerberos realm (replacing any earlier one) as of `at`, and writes every line of
    /// `audit`. Nothing is written if any part fails.
    async fn record_kdc_setup(
        &self,
        tenant: &str,
        cert: &CertificateRecord,
        realm: &str,
        at: i64,
        audit: &[AuditRecord],
    ) -> StorageResult<()>;
}
