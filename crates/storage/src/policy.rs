//! The policy part of the storage interface: the CSP layer, Group Policy, groups, the policy
//! version, device policy sessions and administrators' API tokens.
//!
//! Same rules as [`super::Storage`]: every method is one transaction, takes the tenant id
//! and filters on it. Every change to policy, Group Policy or groups bumps the tenant's
//! policy version by one and writes its audit line in the same transaction.

use async_trait::async_trait;

use super::{AuditRecord, ConsumedNonce, StorageResult};

/// `principal` of the device scope and of the all-users user scope.
pub const ALL_PRINCIPALS: &str = "";

/// One stored CSP leaf value.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CspRow {
    /// `device` or `user`.
    pub scope: String,
    /// `""` (device scope, all users) or a UPN.
    pub principal: String,
    /// The node's path below `PassportForWork/`, with the literal `{TenantId}` segment.
    pub node: String,
    /// OMA-DM format: `bool`, `int` or `chr`.
    pub format: String,
    /// The value's text form.
    pub data: String,
}

/// One scope store to write: replaces everything stored for `(scope, principal)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspStoreWrite {
    /// `device` or `user`.
    pub scope: String,
    /// `""` or a UPN.
    pub principal: String,
    /// Whether the `{TenantId}` node exists.
    pub tenant_node: bool,
    /// `(node, format, data)` of every leaf.
    pub values: Vec<(String, String, String)>,
}

/// The CSP layer as stored, with the policy version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CspSnapshot {
    /// The tenant's policy version.
    pub version: i64,
    /// Values of the requested principals.
    pub rows: Vec<CspRow>,
    /// `(scope, principal)` stores whose `{TenantId}` node exists.
    pub tenant_nodes: Vec<(String, String)>,
}

/// One Group Policy object half (computer or user configuration).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GpoRow {
    /// Display name.
    pub name: String,
    /// `computer` or `user`.
    pub scope: String,
    /// Security filtering group (lower case), `None` for all devices / users.
    pub target_group: Option<String>,
    /// Link order: lower wins.
    pub link_order: i64,
    /// `latchkey_policy::gpo::GpoSettings` as JSON.
    pub settings_json: String,
    /// Last change (Unix seconds).
    pub updated_at: i64,
}

/// A group and one of its members (a group without members has `kind`/`member` `None`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupMemberRow {
    /// Group name (lower case).
    pub name: String,
    /// `user` or `device`.
    pub kind: Option<String>,
    /// UPN or device id.
    pub member: Option<String>,
}

/// An administrator's API token (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminTokenRow {
    /// Token id (shown in lists and the audit trail).
    pub id: String,
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    /// The administrator's label.
    pub label: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Whether revoked.
    pub revoked: bool,
}

/// A device policy session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicySessionRow {
    /// Device id.
    pub device_id: String,
    /// The SyncML SessionID the device chose.
    pub session_id: String,
    /// The user the policy was computed for.
    pub upn: Option<String>,
    /// The policy version sent.
    pub version: i64,
    /// How many commands were sent.
    pub commands: i64,
    /// When message 1 arrived.
    pub opened_at: i64,
    /// When the device's statuses arrived.
    pub closed_at: Option<i64>,
    /// How many of the device's statuses were not 2xx.
    pub failed: Option<i64>,
}

/// What a change to a policy layer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioned<T> {
    /// Done; the policy version is now `version`.
    Changed {
        /// The operation's own result.
        value: T,
        /// The new policy version.
        version: i64,
    },
    /// Nothing to change (the thing named does not exist, or the version moved).
    Unchanged,
}

/// Policy storage.
#[async_trait]
pub trait PolicyStorage: Send + Sync + 'static {
    /// The tenant's policy version (0 when policy was never changed).
    async fn policy_version(&self, tenant: &str) -> StorageResult<i64>;
    /// The CSP layer: the device scope, the all-users user scope and, when `upn` is given,
    /// that user's own user scope.
    async fn load_csp(&self, tenant: &str, upn: Option<&str>) -> StorageResult<CspSnapshot>;
    /// Replaces the given scope stores and sets the version to `expected + 1`, audited;
    /// `Unchanged` (and nothing written) when the version is no longer `expected`.
    async fn save_csp(
        &self,
        tenant: &str,
        expected: i64,
        stores: &[CspStoreWrite],
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>>;

    /// Every GPO half, in link order.
    async fn list_gpos(&self, tenant: &str) -> StorageResult<Vec<GpoRow>>;
    /// Inserts or replaces a GPO half (a new one with `link_order` < 0 goes last), audited.
    async fn put_gpo(
        &self,
        tenant: &str,
        gpo: &GpoRow,
        audit: &AuditRecord,
    ) -> StorageResult<Versioned<()>>;
    /// Deletes a GPO (one half, or both when `scope` is `None`), audited.
    async fn delete_gpo(
        &self,
        tenant: &str,
        name: &str,
        scope: Option<&str>,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<u64>>;

    /// Every group with its members.
    async fn list_group_members(&self, tenant: &str) -> StorageResult<Vec<GroupMemberRow>>;
    /// Creates a group (conflict if it exists), audited.
    async fn create_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>>;
    /// Deletes a group, its members and nothing else, audited.
    async fn delete_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>>;
    /// Adds (`add`) or removes a member `(kind, member)`, audited; `Unchanged` when the
    /// group does not exist or the membership is already as asked.
    async fn set_group_member(
        &self,
        tenant: &str,
        name: &str,
        (kind, member): (&str, &str),
        add: bool,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>>;

    /// Stores a new admin token, audited.
    async fn create_admin_token(
        &self,
        tenant: &str,
        token: &AdminTokenRow,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Looks a token up by its hash.
    async fn admin_token_by_hash(
        &self,
        tenant: &str,
        hash: &str,
    ) -> StorageResult<Option<AdminTokenRow>>;
    /// Every admin token.
    async fn list_admin_tokens(&self, tenant: &str) -> StorageResult<Vec<AdminTokenRow>>;
    /// Revokes a token, audited; false if there is no such token.
    async fn revoke_admin_token(
        &self,
        tenant: &str,
        id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;

    /// Consumes the nonce and records the audit line (effective-policy delivery).
    async fn consume_with_audit(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Consumes the nonce and opens a session (conflict if the device reuses a SessionID),
    /// audited.
    async fn open_policy_session(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        session: &PolicySessionRow,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// Consumes the nonce and closes an open session with the device's result, audited;
    /// false (nothing written) when there is no such open session.
    async fn close_policy_session(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device_id: &str,
        session_id: &str,
        failed: i64,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// A device's sessions, newest first.
    async fn policy_sessions(
        &self,
        tenant: &str,
        device_id: &str,
    ) -> StorageResult<Vec<PolicySessionRow>>;
}
