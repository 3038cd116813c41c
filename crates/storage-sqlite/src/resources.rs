//! [`ResourceStorage`] on SQLite (portable SQL).

use async_trait::async_trait;

use super::tx::{conflict_if_duplicate, insert_audit};
use super::SqliteStorage;
use latchkey_storage::resources::{Resource, ResourceStorage};
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageResult};

#[async_trait]
impl ResourceStorage for SqliteStorage {
    async fn add_resource(
        &self,
        tenant: &str,
        r: &Resource,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        conflict_if_duplicate(
            sqlx::query(
                "INSERT INTO resources (tenant_id, uri, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant)
            .bind(&r.uri)
            .bind(&r.name)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await,
            || format!("resource {}", r.uri),
        )?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_resources(&self, tenant: &str) -> StorageResult<Vec<Resource>> {
        Ok(sqlx::query_as::<_, Resource>(
            "SELECT uri, name, created_at FROM resources WHERE tenant_id = $1 \
             ORDER BY created_at, uri",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn remove_resource(
        &self,
        tenant: &str,
        uri: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        self.delete_one_audited(
            "DELETE FROM resources WHERE tenant_id = $1 AND uri = $2",
            tenant,
            uri,
            audit,
        )
        .await
    }

    async fn issue_token(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audience: Option<&str>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        // Batched with the sign-ins (`signin_batch`): each token's commit would otherwise
        // pay its own fsync under `synchronous=FULL`.
        self.signins
            .issue_token(tenant, nonce, audience, audit)
            .await
    }
}
