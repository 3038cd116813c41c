//! The administration commands' changes that rename, reset or remove whole directory
//! objects (`latchkeyd tenant rename`, `user enable|delete|reset-password|reset-mfa`,
//! `device delete`, `client delete|rotate-secret`) and the audit search of `latchkeyd
//! audit`. Enabling a user and replacing a TOTP secret are the web administration's
//! [`DirectoryAdmin::enable_user`] and [`DirectoryAdmin::reset_mfa`], shared rather than
//! repeated here; [`DirectoryAdmin::delete_device`] is [`AdminStorage::remove_device`]
//! without the counts.
//!
//! Each change is one transaction with its audit line: it commits whole or not at all, and
//! an answer other than the success one writes nothing. Deletions are revocations
//! ([`crate::contract`]): no sign-in, renewal, certificate issue or PIN reset that depends
//! on the deleted user, device or key commits after the deletion commits.
//!
//! What a deletion takes with it (Entra ID's model, with one difference, see
//! [`AdminStorage::delete_user`]): the object's sessions and credentials are deleted, its
//! certificates in force are revoked (and stay listed, on the CRL, with the link to the
//! deleted row cleared), and the audit trail keeps every line that names it.

use async_trait::async_trait;

use super::{AuditRecord, DirectoryAdmin, StorageResult, UserImport};

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

/// What `audit_search` selects; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Entries before this time (Unix seconds).
    pub until: Option<i64>,
    /// Entries whose actor is this UPN, or whose note is exactly this UPN (administrators'
    /// lines about the user).
    pub user: Option<String>,
    /// Entries naming this device.
    pub device: Option<String>,
    /// This event, or, ending in `*`, events starting with what precedes it.
    pub event: Option<String>,
    /// This outcome.
    pub outcome: Option<String>,
    /// At most this many entries: the newest.
    pub limit: Option<u32>,
}

/// One audit entry with its id (the sequence number).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// The entry's id (`latchkeyd audit show ID`).
    pub seq: i64,
    /// The line.
    #[serde(flatten)]
    pub record: AuditRecord,
}

/// The columns both backends select for an [`AuditEntry`], in [`AuditRow`]'s order.
pub const AUDIT_ENTRY_COLUMNS: &str =
    "SELECT seq, at, event, actor, device_id, key_id, source, outcome, reason FROM audit";

/// One row of [`AUDIT_ENTRY_COLUMNS`].
pub type AuditRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

/// The entry of one [`AuditRow`].
pub fn entry_of_row(r: AuditRow) -> AuditEntry {
    AuditEntry {
        seq: r.0,
        record: AuditRecord {
            at: r.1,
            event: r.2,
            actor: r.3,
            device_id: r.4,
            key_id: r.5,
            source: r.6,
            outcome: r.7,
            reason: r.8,
        },
    }
}

/// The administration commands' directory changes and audit search, over the storage of
/// one service (any backend).
#[async_trait]
pub trait AdminStorage: DirectoryAdmin + Send + Sync {
    /// Opens a bulk user import into `tenant`: one write transaction, committed by
    /// [`UserImport::commit`] (see [`crate::import`]). On SQLite it holds the database's
    /// write lock until it is committed or dropped.
    async fn begin_user_import(&self, tenant: &str) -> StorageResult<Box<dyn UserImport>>;
    /// Renames the tenant; false if there is no such tenant.
    async fn rename_tenant(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Replaces a user's password hash and ends the user's browser sessions (they were
    /// opened with the old password); false if there is no such user. Hello keys and their
    /// primary refresh tokens are not password-based and stay.
    async fn reset_password(
        &self,
        tenant: &str,
        upn: &str,
        password_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Deletes a user with its Hello keys (on every device), security keys, primary
    /// refresh tokens, browser sessions, application codes and refresh tokens, Kerberos
    /// principal override and group memberships; revokes its certificates in force
    /// (`cessationOfOperation`), which stay listed without the user. Entra ID keeps a
    /// deleted user's devices without an owner; a Latchkey device always names its
    /// registered owner (the join-with-MFA rule reads it), so the user's own devices must
    /// be deleted first ([`UserDeletion::OwnsDevices`], nothing written).
    async fn delete_user(
        &self,
        tenant: &str,
        upn: &str,
        audit: &AuditRecord,
    ) -> StorageResult<UserDeletion>;
    /// Deletes a device with the Hello keys registered on it (any user's), its primary
    /// refresh tokens, policy sessions, TPM records and group memberships; revokes its
    /// certificates and its keys' certificates in force (`cessationOfOperation`), which
    /// stay listed without the device. `None`, with nothing written, if there is no such
    /// device.
    async fn remove_device(
        &self,
        tenant: &str,
        device_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<Option<Removed>>;
    /// Deletes an application with its authorization codes and refresh tokens (its
    /// access tokens expire on their own); false if there is no such client.
    async fn delete_client(
        &self,
        tenant: &str,
        client_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Replaces a confidential client's secret hash: the old secret is refused from the
    /// commit on. Its refresh tokens stay (they need the client's secret to be used).
    async fn rotate_client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        secret_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<SecretRotation>;
    /// The entries `filter` selects, oldest first (the newest `limit` when limited).
    async fn audit_search(
        &self,
        tenant: &str,
        filter: &AuditFilter,
    ) -> StorageResult<Vec<AuditEntry>>;
    /// One entry by its id.
    async fn audit_entry(&self, tenant: &str, seq: i64) -> StorageResult<Option<AuditEntry>>;
}
