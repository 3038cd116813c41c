//! [`PolicyStorage`] on SQLite. Portable SQL: `$n` parameters, `ON CONFLICT ... DO UPDATE`
//! (SQLite 3.24+, PostgreSQL 9.5+), no SQLite-only functions.

use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

use super::tx::{conflict_if_duplicate, consume_nonce, insert_audit};
use super::SqliteStorage;
use latchkey_storage::policy::*;
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageError, StorageResult};

type Tx = Transaction<'static, Sqlite>;

/// Bumps the tenant's policy version inside `tx`; returns the new version.
async fn bump_version(tx: &mut Tx, tenant: &str, now: i64) -> StorageResult<i64> {
    sqlx::query(
        "INSERT INTO policy_state (tenant_id, version, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET version = policy_state.version + 1, \
         updated_at = $2",
    )
    .bind(tenant)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    current_version(tx, tenant).await
}

/// Ends a policy change made in `tx`: bumps the version, writes the audit line and commits;
/// returns `value` with the new version.
async fn commit_change<T>(
    mut tx: Tx,
    tenant: &str,
    audit: &AuditRecord,
    now: i64,
    value: T,
) -> StorageResult<Versioned<T>> {
    let version = bump_version(&mut tx, tenant, now).await?;
    insert_audit(&mut tx, tenant, audit).await?;
    tx.commit().await?;
    Ok(Versioned::Changed { value, version })
}

async fn current_version(tx: &mut Tx, tenant: &str) -> StorageResult<i64> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT version FROM policy_state WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(v.unwrap_or(0))
}

async fn group_exists(tx: &mut Tx, tenant: &str, name: &str) -> StorageResult<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM policy_groups WHERE tenant_id = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}

#[async_trait]
impl PolicyStorage for SqliteStorage {
    async fn policy_version(&self, tenant: &str) -> StorageResult<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM policy_state WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    async fn load_csp(&self, tenant: &str, upn: Option<&str>) -> StorageResult<CspSnapshot> {
        // One read transaction, so the version and the values are from the same moment.
        let mut tx = self.pool.begin().await?;
        let version = current_version(&mut tx, tenant).await?;
        let user = upn.unwrap_or(ALL_PRINCIPALS);
        let rows = sqlx::query_as::<_, CspRow>(
            "SELECT scope, principal, node, format, data FROM policy_csp_values \
             WHERE tenant_id = $1 AND (principal = $2 OR principal = $3) \
             ORDER BY scope, principal, node",
        )
        .bind(tenant)
        .bind(ALL_PRINCIPALS)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let tenant_nodes: Vec<(String, String)> = sqlx::query_as(
            "SELECT scope, principal FROM policy_csp_tenant_nodes \
             WHERE tenant_id = $1 AND (principal = $2 OR principal = $3)",
        )
        .bind(tenant)
        .bind(ALL_PRINCIPALS)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CspSnapshot {
            version,
            rows,
            tenant_nodes,
        })
    }

    async fn save_csp(
        &self,
        tenant: &str,
        expected: i64,
        stores: &[CspStoreWrite],
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        let (mut tx, _gate) = self.write().await?;
        if current_version(&mut tx, tenant).await? != expected {
            return Ok(Versioned::Unchanged);
        }
        for s in stores {
            sqlx::query(
                "DELETE FROM policy_csp_values WHERE tenant_id = $1 AND scope = $2 AND principal = $3",
            )
            .bind(tenant)
            .bind(&s.scope)
            .bind(&s.principal)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM policy_csp_tenant_nodes WHERE tenant_id = $1 AND scope = $2 \
                 AND principal = $3",
            )
            .bind(tenant)
            .bind(&s.scope)
            .bind(&s.principal)
            .execute(&mut *tx)
            .await?;
            if s.tenant_node {
                sqlx::query(
                    "INSERT INTO policy_csp_tenant_nodes (tenant_id, scope, principal) \
                     VALUES ($1, $2, $3)",
                )
                .bind(tenant)
                .bind(&s.scope)
                .bind(&s.principal)
                .execute(&mut *tx)
                .await?;
            }
            for (node, format, data) in &s.values {
                sqlx::query(
                    "INSERT INTO policy_csp_values (tenant_id, scope, principal, node, format, data) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(tenant)
                .bind(&s.scope)
                .bind(&s.principal)
                .bind(node)
                .bind(format)
                .bind(data)
                .execute(&mut *tx)
                .await?;
            }
        }
        commit_change(tx, tenant, audit, now, ()).await
    }

    async fn list_gpos(&self, tenant: &str) -> StorageResult<Vec<GpoRow>> {
        Ok(sqlx::query_as::<_, GpoRow>(
            "SELECT name, scope, target_group, link_order, settings_json, updated_at \
             FROM policy_gpos WHERE tenant_id = $1 ORDER BY link_order, name, scope",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn put_gpo(
        &self,
        tenant: &str,
        g: &GpoRow,
        audit: &AuditRecord,
    ) -> StorageResult<Versioned<()>> {
        let (mut tx, _gate) = self.write().await?;
        if let Some(group) = &g.target_group {
            if !group_exists(&mut tx, tenant, group).await? {
                return Ok(Versioned::Unchanged);
            }
        }
        let order = if g.link_order >= 0 {
            g.link_order
        } else {
            // Keep the order of an existing GPO of that name; a new one goes last.
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(link_order) FROM policy_gpos WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant)
            .bind(&g.name)
            .fetch_one(&mut *tx)
            .await?;
            match existing {
                Some(o) => o,
                None => {
                    let max: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(link_order) FROM policy_gpos WHERE tenant_id = $1",
                    )
                    .bind(tenant)
                    .fetch_one(&mut *tx)
                    .await?;
                    max.map_or(1, |m| m.saturating_add(1))
                }
            }
        };
        sqlx::query(
            "INSERT INTO policy_gpos (tenant_id, name, scope, target_group, link_order, \
             settings_json, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, name, scope) DO UPDATE SET target_group = $4, \
             link_order = $5, settings_json = $6, updated_at = $7",
        )
        .bind(tenant)
        .bind(&g.name)
        .bind(&g.scope)
        .bind(&g.target_group)
        .bind(order)
        .bind(&g.settings_json)
        .bind(g.updated_at)
        .execute(&mut *tx)
        .await?;
        let version = bump_version(&mut tx, tenant, g.updated_at).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Versioned::Changed { value: (), version })
    }

    async fn delete_gpo(
        &self,
        tenant: &str,
        name: &str,
        scope: Option<&str>,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<u64>> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM policy_gpos WHERE tenant_id = $1 AND name = $2 \
             AND ($3 IS NULL OR scope = $3)",
        )
        .bind(tenant)
        .bind(name)
        .bind(scope)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Versioned::Unchanged);
        }
        commit_change(tx, tenant, audit, now, done.rows_affected()).await
    }

    async fn list_group_members(&self, tenant: &str) -> StorageResult<Vec<GroupMemberRow>> {
        Ok(sqlx::query_as::<_, GroupMemberRow>(
            "SELECT g.name, m.kind, m.member FROM policy_groups g \
             LEFT JOIN policy_group_members m ON m.tenant_id = g.tenant_id AND m.group_name = g.name \
             WHERE g.tenant_id = $1 ORDER BY g.name, m.kind, m.member",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        let (mut tx, _gate) = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO policy_groups (tenant_id, name, created_at) VALUES ($1, $2, $3)",
        )
        .bind(tenant)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await;
        conflict_if_duplicate(inserted, || format!("group {name}"))?;
        commit_change(tx, tenant, audit, now, ()).await
    }

    async fn delete_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        let (mut tx, _gate) = self.write().await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM policy_gpos WHERE tenant_id = $1 AND target_group = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if used > 0 {
            return Err(StorageError::Conflict(format!(
                "Group Policy filtered on group {name}"
            )));
        }
        sqlx::query("DELETE FROM policy_group_members WHERE tenant_id = $1 AND group_name = $2")
            .bind(tenant)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM policy_groups WHERE tenant_id = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(Versioned::Unchanged);
        }
        commit_change(tx, tenant, audit, now, ()).await
    }

    async fn set_group_member(
        &self,
        tenant: &str,
        name: &str,
        (kind, member): (&str, &str),
        add: bool,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        let (mut tx, _gate) = self.write().await?;
        if !group_exists(&mut tx, tenant, name).await? {
            return Ok(Versioned::Unchanged);
        }
        let done = if add {
            sqlx::query(
                "INSERT INTO policy_group_members (tenant_id, group_name, kind, member) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
        } else {
            sqlx::query(
                "DELETE FROM policy_group_members WHERE tenant_id = $1 AND group_name = $2 \
                 AND kind = $3 AND member = $4",
            )
        }
        .bind(tenant)
        .bind(name)
        .bind(kind)
        .bind(member)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Versioned::Unchanged);
        }
        commit_change(tx, tenant, audit, now, ()).await
    }

    async fn create_admin_token(
        &self,
        tenant: &str,
        t: &AdminTokenRow,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO admin_tokens (tenant_id, id, token_hash, label, created_at, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(&t.id)
        .bind(&t.token_hash)
        .bind(&t.label)
        .bind(t.created_at)
        .bind(t.revoked)
        .execute(&mut *tx)
        .await;
        conflict_if_duplicate(inserted, || format!("admin token {}", t.id))?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn admin_token_by_hash(
        &self,
        tenant: &str,
        hash: &str,
    ) -> StorageResult<Option<AdminTokenRow>> {
        Ok(sqlx::query_as::<_, AdminTokenRow>(
            "SELECT id, token_hash, label, created_at, revoked FROM admin_tokens \
             WHERE tenant_id = $1 AND token_hash = $2",
        )
        .bind(tenant)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_admin_tokens(&self, tenant: &str) -> StorageResult<Vec<AdminTokenRow>> {
        Ok(sqlx::query_as::<_, AdminTokenRow>(
            "SELECT id, token_hash, label, created_at, revoked FROM admin_tokens \
             WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn revoke_admin_token(
        &self,
        tenant: &str,
        id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done =
            sqlx::query("UPDATE admin_tokens SET revoked = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .bind(true)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn consume_with_audit(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_policy_session(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        s: &PolicySessionRow,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        let inserted = sqlx::query(
            "INSERT INTO policy_sessions (tenant_id, device_id, session_id, upn, version, \
             commands, opened_at, closed_at, failed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant)
        .bind(&s.device_id)
        .bind(&s.session_id)
        .bind(&s.upn)
        .bind(s.version)
        .bind(s.commands)
        .bind(s.opened_at)
        .bind(s.closed_at)
        .bind(s.failed)
        .execute(&mut *tx)
        .await;
        conflict_if_duplicate(inserted, || format!("session {}", s.session_id))?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn close_policy_session(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        device_id: &str,
        session_id: &str,
        failed: i64,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        consume_nonce(&mut tx, tenant, nonce).await?;
        let done = sqlx::query(
            "UPDATE policy_sessions SET closed_at = $4, failed = $5 WHERE tenant_id = $1 \
             AND device_id = $2 AND session_id = $3 AND closed_at IS NULL",
        )
        .bind(tenant)
        .bind(device_id)
        .bind(session_id)
        .bind(audit.at)
        .bind(failed)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn policy_sessions(
        &self,
        tenant: &str,
        device_id: &str,
    ) -> StorageResult<Vec<PolicySessionRow>> {
        Ok(sqlx::query_as::<_, PolicySessionRow>(
            "SELECT device_id, session_id, upn, version, commands, opened_at, closed_at, failed \
             FROM policy_sessions WHERE tenant_id = $1 AND device_id = $2 \
             ORDER BY opened_at DESC, session_id",
        )
        .bind(tenant)
        .bind(device_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
