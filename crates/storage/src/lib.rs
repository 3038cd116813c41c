//! Latchkey's storage layer: the interface every backend implements, the records it stores,
//! and the audit line builder. Each method is one operation and one transaction: it commits
//! whole or not at all. Every method takes the tenant id, and every query filters on it.
//!
//! The embedded backend is `latchkey-storage-sqlite`; a PostgreSQL one implements the same
//! traits. The records derive `sqlx::FromRow`, so the row mapping is shared by the backends.
//!
//! What each operation guarantees when others run at the same time (in this process, in
//! another process, in another replica) is the [`contract`]: every backend meets it and runs
//! the conformance suite (`latchkey-storage-conformance`) that checks it.
#![forbid(unsafe_code)]

pub mod admin;
pub mod attempts;
pub mod audit;
pub mod cert;
pub mod contract;
pub mod directory;
pub mod import;
mod models;
pub mod pin_recovery;
pub mod policy;
pub mod resources;
pub mod rows;
mod secrets_error;
pub mod tpm;
pub mod web;

use async_trait::async_trait;

pub use admin::AdminStorage;
pub use attempts::AttemptStorage;
pub use cert::CertStorage;
pub use directory::DirectoryAdmin;
pub use import::UserImport;
pub use models::*;
pub use pin_recovery::PinRecoveryStorage;
pub use policy::PolicyStorage;
pub use resources::{Resource, ResourceStorage};
pub use secrets_error::SecretsError;
pub use tpm::TpmStorage;
pub use web::WebStorage;

/// A backend's connection pool and sign-in writer figures at one moment (for the
/// metrics). A backend without a sign-in writer (PostgreSQL) reports its figures as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageFigures {
    /// Open connections of the pool.
    pub pool_size: u32,
    /// Idle connections of the pool.
    pub pool_idle: usize,
    /// The pool's maximum.
    pub pool_max: u32,
    /// Writes waiting for the sign-in writer.
    pub writer_queued: u64,
    /// Batches the writer has run (committed or rolled back).
    pub writer_batches: u64,
    /// Writes the writer has taken.
    pub writer_writes: u64,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The nonce was already consumed.
    #[error("nonce already used")]
    NonceReplayed,
    /// A uniqueness rule was violated (e.g. the UPN exists).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A key registration would replace an existing key and was not allowed to.
    #[error("would replace key {0}")]
    WouldReplace(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database failed on a direct connection (the sign-in hot path).
    #[error("database error: {0}")]
    Sqlite(String),
    /// The sign-in writer has stopped (the service is shutting down).
    #[error("the sign-in writer has stopped")]
    WriterStopped,
    /// Migrating the schema failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Sealing a secret failed while the storage sealed existing secrets.
    #[error(transparent)]
    Secrets(#[from] crate::SecretsError),
    /// A bulk import was used after one of its batches failed (it holds nothing).
    #[error("the import failed a batch and holds nothing; start it again")]
    ImportSpent,
    /// A bulk import batch larger than [`import::MAX_BATCH`].
    #[error("an import batch of {0} users (at most {max})", max = import::MAX_BATCH)]
    BatchTooLarge(usize),
}

impl StorageError {
    /// Whether the database could not be reached or went away (the connection failed,
    /// the pool found no connection in time, the server is shutting down or not yet
    /// accepting): a failure that passes when the database is back, answered 503 by the
    /// service, as opposed to an answer of the database about the request.
    pub fn is_unavailable(&self) -> bool {
        let StorageError::Database(err) = self else {
            return false;
        };
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception) and 57P01-57P03 (the server is
            // shutting down, crashed, or cannot accept connections yet).
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
            }),
            _ => false,
        }
    }
}

/// Result of storage operations.
pub type StorageResult<T> = Result<T, StorageError>;

/// The directory's persistent state.
#[async_trait]
pub trait Storage:
    PolicyStorage
    + ResourceStorage
    + TpmStorage
    + CertStorage
    + PinRecoveryStorage
    + Send
    + Sync
    + 'static
{
    /// The tenant of this data directory, if created.
    async fn load_tenant(&self) -> StorageResult<Option<TenantRecord>>;
    /// Creates the tenant unless one exists; returns the tenant that is stored.
    async fn create_tenant(&self, tenant: &TenantRecord) -> StorageResult<TenantRecord>;
    /// Seals a data directory's secrets in one transaction: the tenant's with `sealed`, and
    /// every user's TOTP secret through `seal_totp`. Does nothing and returns `false` when
    /// the tenant's secrets are sealed already (another process did it first).
    async fn seal_secrets(
        &self,
        tenant: &str,
        sealed: &SealedTenantSecrets,
        seal_totp: &SealTotp<'_>,
    ) -> StorageResult<bool>;

    /// Creates a user (conflict if the UPN exists), audited.
    async fn create_user(
        &self,
        tenant: &str,
        user: &User,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Looks a user up by UPN.
    async fn user_by_upn(&self, tenant: &str, upn: &str) -> StorageResult<Option<User>>;
    /// All users.
    async fn list_users(&self, tenant: &str) -> StorageResult<Vec<UserListing>>;
    /// Disables a user; false if there is no such user.
    async fn disable_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Records a successful password sign-in: the TOTP step used and the audit line.
    /// Refused, returning false and writing nothing, if that step or a later one was already
    /// used, or if the user is unknown or disabled when this transaction runs (a disable
    /// that commits while the password is checked wins; see [`contract`]).
    async fn password_signin(
        &self,
        tenant: &str,
        user_id: &str,
        totp_step: Option<i64>,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Appends one audit line (failures are recorded this way).
    async fn append_audit(&self, tenant: &str, audit: &AuditRecord) -> StorageResult<()>;
    /// The audit trail from `since` on, oldest first.
    async fn audit_since(&self, tenant: &str, since: i64) -> StorageResult<Vec<AuditRecord>>;

    /// Looks a device up.
    async fn device(&self, tenant: &str, device_id: &str) -> StorageResult<Option<Device>>;
    /// The UPN of a device's owner; `None` if there is no such device. One keyed lookup
    /// (the effective policy needs it for every device it is computed for).
    async fn device_owner(&self, tenant: &str, device_id: &str) -> StorageResult<Option<String>>;
    /// Consumes the nonce and records the device, audited.
    async fn join_device(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device: &Device,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Consumes the nonce and disables the device, which ends its tokens (every use of a token
    /// checks its device), audited.
    async fn leave_device(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Disables a device, which ends its tokens (admin); false if there is no such device.
    async fn disable_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// All devices with their owners.
    async fn list_devices(&self, tenant: &str) -> StorageResult<Vec<DeviceListing>>;

    /// Consumes the nonce and registers the key, replacing the user's earlier key on the
    /// same device; returns the replaced key id. Audited (as `key_replace` when replacing).
    /// When `allow_replace` is false and the user has a key on the device, nothing is
    /// written (not even the nonce) and [`StorageError::WouldReplace`] is returned. With
    /// `certificate`, the certificate issued for the key and its audit lines are written in
    /// the same transaction.
    async fn register_key(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        key: &KeyCredential,
        allow_replace: bool,
        audit: &AuditRecord,
        certificate: Option<(&cert::CertificateRecord, &[AuditRecord])>,
    ) -> StorageResult<Option<String>>;
    /// All keys, or one user's.
    async fn list_keys(&self, tenant: &str, upn: Option<&str>) -> StorageResult<Vec<KeyListing>>;
    /// Deletes a key (admin); false if there is no such key.
    async fn delete_key(
        &self,
        tenant: &str,
        key_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;

    /// Reads the user, device and key a sign-in names.
    async fn signin_context(
        &self,
        tenant: &str,
        upn: &str,
        device_id: &str,
        key_id: &str,
    ) -> StorageResult<SignInContext>;
    /// Consumes the nonce and stores the new token, provided the key is still registered
    /// for its user and device and neither device nor user is disabled, checked in the
    /// writing transaction so that no sign-in commits after a key delete or a disable
    /// commits ([`contract`]). False otherwise: no token and no audit line are written; the
    /// nonce may stay consumed (the SQLite hot path keeps it), so the caller treats it as
    /// spent. Audited.
    async fn complete_signin(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        prt: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Reads a primary refresh token with its user, device and key.
    async fn prt_context(
        &self,
        tenant: &str,
        token_hash: &str,
    ) -> StorageResult<Option<PrtContext>>;
    /// Consumes the nonce, revokes the old token and stores the new one (false if the old
    /// one was revoked meanwhile, or its key, device or user went away). Audited.
    async fn renew_prt(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        old_hash: &str,
        new: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;

    /// Deletes consumed nonces that expired before `now`.
    async fn prune_nonces(&self, tenant: &str, now: i64) -> StorageResult<u64>;
    /// Deletes primary refresh tokens that expired before `before`; returns how many.
    async fn prune_prts(&self, tenant: &str, before: i64) -> StorageResult<u64>;
    /// Row counts of the tenant's tables.
    async fn counts(&self, tenant: &str) -> StorageResult<Counts>;
    /// Reads the tenant's row: the database answers (readiness).
    async fn ping(&self, tenant: &str) -> StorageResult<()>;
    /// Up to `limit` audit lines older than `before` with a sequence number above
    /// `after_seq`, in sequence order, each with its sequence number (for export).
    async fn audit_page(
        &self,
        tenant: &str,
        before: i64,
        after_seq: i64,
        limit: i64,
    ) -> StorageResult<Vec<(i64, AuditRecord)>>;
    /// Deletes the audit lines older than `before` (and, when given, with a sequence
    /// number at most `up_to_seq`), in bounded batches; returns how many.
    async fn prune_audit(
        &self,
        tenant: &str,
        before: i64,
        up_to_seq: Option<i64>,
    ) -> StorageResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_database_is_unavailable_and_an_answer_of_it_is_not() {
        let lost = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ];
        for err in lost {
            let shown = err.to_string();
            assert!(StorageError::Database(err).is_unavailable(), "{shown}");
        }
        assert!(!StorageError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StorageError::NonceReplayed.is_unavailable());
        assert!(!StorageError::Conflict("user a".to_owned()).is_unavailable());
    }
}
