//! TPM attestation state: the tenant's TPM manufacturer roots, pending credential
//! activations and each device's activated TPM. Same rules as [`super::Storage`]: every
//! method is one transaction, takes the tenant id and filters on it.

use async_trait::async_trait;
use serde::Serialize;

use super::{AuditRecord, ConsumedNonce, StorageResult};

/// A TPM manufacturer certificate the tenant trusts (`latchkeyd tpm-roots add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TpmRoot {
    /// Lowercase hex SHA-256 of the DER certificate.
    pub fingerprint: String,
    /// The certificate, DER.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// Its subject.
    pub subject: String,
    /// Whether it is an intermediate (used to build chains, not a trust anchor).
    pub intermediate: bool,
    /// The end of its validity period (Unix seconds).
    pub not_after: i64,
    /// When it was added.
    pub added_at: i64,
}

/// What the service learnt of a device's TPM from its EK certificate and AIK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TpmIdentity {
    /// The device.
    pub device_id: String,
    /// The AIK's TPMT_PUBLIC.
    #[serde(skip)]
    pub aik_public: Vec<u8>,
    /// The AIK's name, lowercase hex.
    pub aik_name: String,
    /// Lowercase hex SHA-256 of the EK's TPMT_PUBLIC.
    pub ek_public_hash: String,
    /// tcpaTpmManufacturer from the EK certificate (e.g. `id:49424D00`).
    pub manufacturer: String,
    /// tcpaTpmModel.
    pub model: String,
    /// tcpaTpmVersion.
    pub version: String,
    /// The TPM specification family (`2.0`).
    pub family: String,
    /// Subject of the tenant root the EK certificate chained to.
    pub root_subject: String,
}

/// A credential activation waiting for its secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingActivation {
    /// The activation handle.
    pub id: String,
    /// SHA-256 of the secret sealed in the credential.
    pub secret_hash: Vec<u8>,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// The TPM it is for.
    #[sqlx(flatten)]
    pub identity: TpmIdentity,
}

/// A device's activated TPM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeviceTpm {
    /// The TPM.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub identity: TpmIdentity,
    /// When the activation finished.
    pub activated_at: i64,
}

/// How finishing an activation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishOutcome {
    /// Recorded.
    Activated,
    /// The activation was consumed meanwhile (a concurrent finish).
    AlreadyUsed,
    /// Another device has this AIK.
    AikOfAnotherDevice,
}

/// TPM roots, activations and activated TPMs.
#[async_trait]
pub trait TpmStorage: Send + Sync + 'static {
    /// Adds a root or intermediate (conflict if its fingerprint is there), audited.
    async fn add_tpm_root(
        &self,
        tenant: &str,
        root: &TpmRoot,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// All roots and intermediates, oldest first.
    async fn list_tpm_roots(&self, tenant: &str) -> StorageResult<Vec<TpmRoot>>;
    /// Removes a root, audited; false (nothing written) if there is none with that
    /// fingerprint.
    async fn remove_tpm_root(
        &self,
        tenant: &str,
        fingerprint: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Consumes the nonce and stores a pending activation, replacing the device's earlier
    /// one; audited.
    async fn begin_tpm_activation(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        pending: &PendingActivation,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// The pending activation `id` of `device_id`, expired or not.
    async fn tpm_activation(
        &self,
        tenant: &str,
        device_id: &str,
        id: &str,
    ) -> StorageResult<Option<PendingActivation>>;
    /// Consumes the nonce and the activation `id` (once) and records the device's TPM
    /// (replacing an earlier one of this device), audited. Nothing is written unless the
    /// outcome is [`FinishOutcome::Activated`].
    async fn finish_tpm_activation(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        id: &str,
        tpm: &DeviceTpm,
        audit: &AuditRecord,
    ) -> StorageResult<FinishOutcome>;
    /// The device's activated TPM.
    async fn device_tpm(&self, tenant: &str, device_id: &str) -> StorageResult<Option<DeviceTpm>>;
    /// The device that has the AIK named `aik_name`, if any.
    async fn device_of_aik(&self, tenant: &str, aik_name: &str) -> StorageResult<Option<String>>;
}
