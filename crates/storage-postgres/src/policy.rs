//! [`PolicyStorage`] on PostgreSQL.
//!
//! How each write meets the isolation contract at `READ COMMITTED`:
//!
//! - **Policy changes are serialised on the tenant's `policy_state` row.** The first
//!   statement of every change takes that row's lock: `save_csp` with its compare-and-set
//!   (`UPDATE policy_state SET version = version + 1 WHERE version = $expected`, a
//!   condition PostgreSQL re-evaluates on the newest row after waiting, so a stale save
//!   matches nothing and writes nothing), every other change (`put_gpo`, `delete_gpo`,
//!   groups and members) with the atomic `version = version + 1`. A change therefore runs
//!   entirely after the one before it committed, and its later statements (each with a
//!   fresh snapshot) see that change: the group checks, the GPO link order and the
//!   deletes read what the previous change left. Each change gets its own version; one
//!   that ends as `Unchanged`, `Conflict` or an error rolls its bump back.
//! - **Admin tokens**: the primary key and the unique `token_hash` (`Conflict`); a revoke
//!   is one conditional update.
//! - **Nonces**: `ON CONFLICT DO NOTHING` on `used_nonces` ([`consume_nonce`]).
//! - **Policy sessions**: opened once by the primary key (`Conflict`, nonce not
//!   consumed), closed once by the condition `closed_at IS NULL`.
//! - **`load_csp`** reads the version and the values in one `REPEATABLE READ` snapshot.

use async_trait::async_trait;
use sqlx::PgConnection;

use super::tx::{conflict_if_duplicate, consume_nonce, insert_audit};
use super::PgStorage;
use latchkey_storage::policy::*;
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageError, StorageResult};

/// Bumps the tenant's policy version (creating its row at 1), taking the row's lock for
/// the rest of the transaction; returns the new version.
async fn bump_version(conn: &mut PgConnection, tenant: &str, now: i64) -> StorageResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO policy_state (tenant_id, version, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET version = policy_state.version + 1, \
         updated_at = EXCLUDED.updated_at RETURNING version",
    )
    .bind(tenant)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// The compare-and-set of `save_csp`: moves the version from `expected` to `expected + 1`
/// and returns it, or `None` (nothing changed) when the version is not `expected`. The
/// row is locked either way.
async fn claim_version(
    conn: &mut PgConnection,
    tenant: &str,
    expected: i64,
    now: i64,
) -> StorageResult<Option<i64>> {
    let sql = if expected == 0 {
        // Version 0 is "no row yet" (or a row still at 0): create it at 1, or move it.
        "INSERT INTO policy_state (tenant_id, version, updated_at) VALUES ($1, 1, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET version = policy_state.version + 1, \
         updated_at = EXCLUDED.updated_at WHERE policy_state.version = $2 RETURNING version"
    } else {
        "UPDATE policy_state SET version = version + 1, updated_at = $3 \
         WHERE tenant_id = $1 AND version = $2 RETURNING version"
    };
    Ok(sqlx::query_scalar(sql)
        .bind(tenant)
        .bind(expected)
        .bind(now)
        .fetch_optional(conn)
        .await?)
}

async fn group_exists(conn: &mut PgConnection, tenant: &str, name: &str) -> StorageResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM policy_groups WHERE tenant_id = $1 AND name = $2)",
    )
    .bind(tenant)
    .bind(name)
    .fetch_one(conn)
    .await?)
}

/// Replaces everything stored for one `(scope, principal)` store.
async fn write_store(
    conn: &mut PgConnection,
    tenant: &str,
    s: &CspStoreWrite,
) -> StorageResult<()> {
    for table in ["policy_csp_values", "policy_csp_tenant_nodes"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND scope = $2 AND principal = $3"
        ))
        .bind(tenant)
        .bind(&s.scope)
        .bind(&s.principal)
        .execute(&mut *conn)
        .await?;
    }
    if s.tenant_node {
        sqlx::query(
            "INSERT INTO policy_csp_tenant_nodes (tenant_id, scope, principal) \
             VALUES ($1, $2, $3)",
        )
        .bind(tenant)
        .bind(&s.scope)
        .bind(&s.principal)
        .execute(&mut *conn)
        .await?;
    }
    if s.values.is_empty() {
        return Ok(());
    }
    // One statement for the store's leaves, whatever their number.
    let mut nodes = Vec::with_capacity(s.values.len());
    let mut formats = Vec::with_capacity(s.values.len());
    let mut data = Vec::with_capacity(s.values.len());
    for (node, format, value) in &s.values {
        nodes.push(node.as_str());
        formats.push(format.as_str());
        data.push(value.as_str());
    }
    sqlx::query(
        "INSERT INTO policy_csp_values (tenant_id, scope, principal, node, format, data) \
         SELECT $1, $2, $3, v.node, v.format, v.data \
         FROM UNNEST($4::TEXT[], $5::TEXT[], $6::TEXT[]) AS v(node, format, data)",
    )
    .bind(tenant)
    .bind(&s.scope)
    .bind(&s.principal)
    .bind(&nodes)
    .bind(&formats)
    .bind(&data)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The link order a GPO half is stored with: its own when given (>= 0), else that of an
/// existing half of the same name, else after every other GPO.
async fn link_order_of(conn: &mut PgConnection, tenant: &str, g: &GpoRow) -> StorageResult<i64> {
    if g.link_order >= 0 {
        return Ok(g.link_order);
    }
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(link_order) FROM policy_gpos WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tenant)
    .bind(&g.name)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(order) = existing {
        return Ok(order);
    }
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(link_order) FROM policy_gpos WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(conn)
            .await?;
    Ok(max.map_or(1, |m| m.saturating_add(1)))
}

#[async_trait]
impl PolicyStorage for PgStorage {
    async fn policy_version(&self, tenant: &str) -> StorageResult<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM policy_state WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }

    async fn load_csp(&self, tenant: &str, upn: Option<&str>) -> StorageResult<CspSnapshot> {
        // One snapshot for the three reads, so the version is that of the values.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM policy_state WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
        let user = upn.unwrap_or(ALL_PRINCIPALS);
        let rows = sqlx::query_as::<_, CspRow>(
            "SELECT scope, principal, node, format, data FROM policy_csp_values \
             WHERE tenant_id = $1 AND principal IN ($2, $3) \
             ORDER BY scope, principal, node",
        )
        .bind(tenant)
        .bind(ALL_PRINCIPALS)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let tenant_nodes: Vec<(String, String)> = sqlx::query_as(
            "SELECT scope, principal FROM policy_csp_tenant_nodes \
             WHERE tenant_id = $1 AND principal IN ($2, $3) ORDER BY scope, principal",
        )
        .bind(tenant)
        .bind(ALL_PRINCIPALS)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CspSnapshot {
            version: version.unwrap_or(0),
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
        let mut tx = self.begin().await?;
        // The compare-and-set first: a stale save stops here, having written nothing.
        let Some(version) = claim_version(&mut tx, tenant, expected, now).await? else {
            return Ok(Versioned::Unchanged);
        };
        for s in stores {
            write_store(&mut tx, tenant, s).await?;
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Versioned::Changed { value: (), version })
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
        let mut tx = self.begin().await?;
        let version = bump_version(&mut tx, tenant, g.updated_at).await?;
        if let Some(group) = &g.target_group {
            if !group_exists(&mut tx, tenant, group).await? {
                return Ok(Versioned::Unchanged);
            }
        }
        let order = link_order_of(&mut tx, tenant, g).await?;
        sqlx::query(
            "INSERT INTO policy_gpos (tenant_id, name, scope, target_group, link_order, \
             settings_json, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, name, scope) DO UPDATE SET \
             target_group = EXCLUDED.target_group, link_order = EXCLUDED.link_order, \
             settings_json = EXCLUDED.settings_json, updated_at = EXCLUDED.updated_at",
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
        let mut tx = self.begin().await?;
        let version = bump_version(&mut tx, tenant, now).await?;
        let done = match scope {
            Some(scope) => {
                sqlx::query(
                    "DELETE FROM policy_gpos WHERE tenant_id = $1 AND name = $2 AND scope = $3",
                )
                .bind(tenant)
                .bind(name)
                .bind(scope)
                .execute(&mut *tx)
                .await?
            }
            None => {
                sqlx::query("DELETE FROM policy_gpos WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
            }
        };
        if done.rows_affected() == 0 {
            return Ok(Versioned::Unchanged);
        }
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Versioned::Changed {
            value: done.rows_affected(),
            version,
        })
    }

    async fn list_group_members(&self, tenant: &str) -> StorageResult<Vec<GroupMemberRow>> {
        Ok(sqlx::query_as::<_, GroupMemberRow>(
            "SELECT g.name, m.kind, m.member FROM policy_groups g \
             LEFT JOIN policy_group_members m \
             ON m.tenant_id = g.tenant_id AND m.group_name = g.name \
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
        let mut tx = self.begin().await?;
        let version = bump_version(&mut tx, tenant, now).await?;
        let inserted = sqlx::query(
            "INSERT INTO policy_groups (tenant_id, name, created_at) VALUES ($1, $2, $3)",
        )
        .bind(tenant)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await;
        // On the error the transaction is dropped: the bump is rolled back with it.
        conflict_if_duplicate(inserted, || format!("group {name}"))?;
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Versioned::Changed { value: (), version })
    }

    async fn delete_group(
        &self,
        tenant: &str,
        name: &str,
        audit: &AuditRecord,
        now: i64,
    ) -> StorageResult<Versioned<()>> {
        let mut tx = self.begin().await?;
        let version = bump_version(&mut tx, tenant, now).await?;
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM policy_gpos WHERE tenant_id = $1 AND target_group = $2)",
        )
        .bind(tenant)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if used {
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
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Versioned::Changed { value: (), version })
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
        let mut tx = self.begin().await?;
        let version = bump_version(&mut tx, tenant, now).await?;
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
        insert_audit(&mut tx, tenant, audit).await?;
        tx.commit().await?;
        Ok(Versioned::Changed { value: (), version })
    }

    async fn create_admin_token(
        &self,
        tenant: &str,
        t: &AdminTokenRow,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE admin_tokens SET revoked = TRUE WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
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
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
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
        // On the error the transaction is dropped: the nonce stays unused.
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
        let mut tx = self.begin().await?;
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
