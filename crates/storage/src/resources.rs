//! The audiences of access tokens: resources registered with `latchkeyd resource add`, and
//! the issue of a token for an audience. Same rules as [`super::Storage`]: every method is
//! one transaction, takes the tenant id and filters on it.

use async_trait::async_trait;
use serde::Serialize;

use super::{AuditRecord, ConsumedNonce, StorageResult};

/// A resource (an API) that access tokens may be issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Resource {
    /// The audience URI, e.g. `api://payroll` (the token's `aud`, compared exactly).
    pub uri: String,
    /// Display name.
    pub name: String,
    /// Registration time.
    pub created_at: i64,
}

/// Resources and token issue.
#[async_trait]
pub trait ResourceStorage: Send + Sync + 'static {
    /// Registers a resource (conflict if the URI is registered), audited.
    async fn add_resource(
        &self,
        tenant: &str,
        resource: &Resource,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// All resources, oldest first.
    async fn list_resources(&self, tenant: &str) -> StorageResult<Vec<Resource>>;
    /// Removes a resource, audited; false (and nothing written) if there is no such resource.
    async fn remove_resource(
        &self,
        tenant: &str,
        uri: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Records the issue of an access token: consumes the nonce of its proof and writes the
    /// audit line, provided `audience` (when given) is a registered resource or application
    /// at that moment. Returns false, writing nothing, when it is not;
    /// `StorageError::NonceReplayed` when the nonce was already used.
    async fn issue_token(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audience: Option<&str>,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
}
