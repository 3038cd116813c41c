//! [`TpmStorage`] on PostgreSQL.

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::tpm::*;
use latchkey_storage::*;

#[allow(unused_variables)]
#[async_trait]
impl TpmStorage for PgStorage {
    async fn add_tpm_root(
        &self,
        tenant: &str,
        root: &TpmRoot,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: add_tpm_root")
    }
    async fn list_tpm_roots(&self, tenant: &str) -> StorageResult<Vec<TpmRoot>> {
        todo!("storage-postgres: list_tpm_roots")
    }
    async fn remove_tpm_root(
        &self,
        tenant: &str,
        fingerprint: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        todo!("storage-postgres: remove_tpm_root")
    }
    async fn begin_tpm_activation(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        pending: &PendingActivation,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        todo!("storage-postgres: begin_tpm_activation")
    }
    async fn tpm_activation(
        &self,
        tenant: &str,
        device_id: &str,
        id: &str,
    ) -> StorageResult<Option<PendingActivation>> {
        todo!("storage-postgres: tpm_activation")
    }
    async fn finish_tpm_activation(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        id: &str,
        tpm: &DeviceTpm,
        audit: &AuditRecord,
    ) -> StorageResult<FinishOutcome> {
        todo!("storage-postgres: finish_tpm_activation")
    }
    async fn device_tpm(&self, tenant: &str, device_id: &str) -> StorageResult<Option<DeviceTpm>> {
        todo!("storage-postgres: device_tpm")
    }
    async fn device_of_aik(&self, tenant: &str, aik_name: &str) -> StorageResult<Option<String>> {
        todo!("storage-postgres: device_of_aik")
    }
}
