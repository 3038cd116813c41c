//! The SQLite implementation of [`WebStorage`]. The service shares its main storage's
//! connection pool and write gate (`SqliteStorage::web_storage`); the admin commands open
//! their own pool on the same database file (migrated by
//! [`crate::SqliteStorage::open`]). Writes take the in-process gate, then
//! `BEGIN IMMEDIATE`; against other processes the busy timeout queues them.

use latchkey_storage::audit::{stored, MAX_FIELD, MAX_REASON};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::DB_FILE;
use latchkey_storage::web::*;
use latchkey_storage::{AuditRecord, StorageResult, User};

const USER_COLUMNS: &str = "id, upn, display_name, password_hash, totp_secret, last_totp_step, \
     disabled, created_at";
const KEY_COLUMNS: &str = "k.credential_id, k.user_id, k.name, k.aaguid, k.format, \
     k.trusted_root, k.public_key_cose, k.sign_count, k.created_at, k.last_used_at";

/// SQLite storage of the web side.
#[derive(Debug, Clone)]
pub struct SqliteWebStorage {
    pool: SqlitePool,
    write_gate: Arc<Mutex<()>>,
}

impl SqliteWebStorage {
    /// Opens `DATA_DIR/latchkey.db` (already migrated by `SqliteStorage::open`).
    pub async fn open(data_dir: &Path) -> StorageResult<SqliteWebStorage> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(data_dir.join(DB_FILE))
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("synchronous", crate::SYNCHRONOUS)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteWebStorage {
            pool,
            write_gate: Arc::new(Mutex::new(())),
        })
    }

    /// Web storage on the service's own pool, queueing its writes on the same in-process
    /// gate as every other writer of the service (see `SqliteStorage::web_storage`).
    pub(super) fn sharing(pool: SqlitePool, write_gate: Arc<Mutex<()>>) -> SqliteWebStorage {
        SqliteWebStorage { pool, write_gate }
    }

    /// Begins a write transaction; the returned guard must live until it commits.
    async fn write(&self) -> StorageResult<(Transaction<'static, Sqlite>, OwnedMutexGuard<()>)> {
        let gate = self.write_gate.clone().lock_owned().await;
        Ok((self.pool.begin_with("BEGIN IMMEDIATE").await?, gate))
    }

    /// The pool (for the storage tests).
    #[cfg(test)]
    pub(crate) fn pool_for_tests(&self) -> SqlitePool {
        self.pool.clone()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn audit(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    a: &AuditRecord,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO audit (tenant_id, at, event, actor, device_id, key_id, source, outcome, \
         reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant)
    .bind(a.at)
    .bind(&a.event)
    .bind(stored(&a.actor, MAX_FIELD))
    .bind(stored(&a.device_id, MAX_FIELD))
    .bind(stored(&a.key_id, MAX_FIELD))
    .bind(stored(&a.source, MAX_FIELD))
    .bind(&a.outcome)
    .bind(stored(&a.reason, MAX_REASON))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_session(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    s: &WebSession,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO web_sessions (tenant_id, id_hash, user_id, amr, csrf, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(&s.id_hash)
    .bind(&s.user_id)
    .bind(&s.amr)
    .bind(&s.csrf)
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn consume_challenge(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    id: &str,
    now: i64,
) -> StorageResult<bool> {
    let done = sqlx::query(
        "DELETE FROM webauthn_challenges WHERE tenant_id = $1 AND id = $2 AND expires_at > $3",
    )
    .bind(tenant)
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl WebStorage for SqliteWebStorage {
    async fn user_by_id(&self, tenant: &str, user_id: &str) -> StorageResult<Option<User>> {
        Ok(sqlx::query_as::<_, User>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn create_client(
        &self,
        tenant: &str,
        c: &OidcClient,
        a: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query(
            "INSERT INTO oidc_clients (tenant_id, client_id, name, secret_hash, redirect_uris, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.redirect_uris)
        .bind(c.created_at)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self, tenant: &str, client_id: &str) -> StorageResult<Option<OidcClient>> {
        Ok(sqlx::query_as::<_, OidcClient>(
            "SELECT client_id, name, secret_hash, redirect_uris, created_at FROM oidc_clients \
             WHERE tenant_id = $1 AND client_id = $2",
        )
        .bind(tenant)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_clients(&self, tenant: &str) -> StorageResult<Vec<OidcClient>> {
        Ok(sqlx::query_as::<_, OidcClient>(
            "SELECT client_id, name, secret_hash, redirect_uris, created_at FROM oidc_clients \
             WHERE tenant_id = $1 ORDER BY created_at, client_id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn store_code(&self, tenant: &str, c: &AuthCode) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query("DELETE FROM oidc_codes WHERE tenant_id = $1 AND expires_at < $2")
            .bind(tenant)
            .bind(c.expires_at - 3600)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_codes (tenant_id, code_hash, client_id, user_id, redirect_uri, \
             scope, nonce, code_challenge, amr, auth_time, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(tenant)
        .bind(&c.code_hash)
        .bind(&c.grant.client_id)
        .bind(&c.grant.user_id)
        .bind(&c.redirect_uri)
        .bind(&c.grant.scope)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(&c.grant.amr)
        .bind(c.grant.auth_time)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_code(
        &self,
        tenant: &str,
        code_hash: &str,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<CodeRedemption> {
        let (mut tx, _gate) = self.write().await?;
        let code = sqlx::query_as::<_, AuthCode>(
            "UPDATE oidc_codes SET used = TRUE WHERE tenant_id = $1 AND code_hash = $2 \
             AND used = FALSE RETURNING code_hash, client_id, user_id, redirect_uri, scope, \
             nonce, code_challenge, amr, auth_time, expires_at",
        )
        .bind(tenant)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(code) = code {
            tx.commit().await?;
            return Ok(CodeRedemption::Redeemed(code));
        }
        let reused = sqlx::query("DELETE FROM oidc_codes WHERE tenant_id = $1 AND code_hash = $2")
            .bind(tenant)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
        if reused.rows_affected() != 1 {
            return Ok(CodeRedemption::Unknown);
        }
        let revoked = revoke_family(&mut tx, tenant, code_hash, reuse_audit).await?;
        tx.commit().await?;
        Ok(CodeRedemption::Reused { revoked })
    }

    async fn store_refresh(
        &self,
        tenant: &str,
        t: &RefreshGrant,
        a: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let redeemed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM oidc_codes WHERE tenant_id = $1 AND code_hash = $2 \
             AND used = TRUE)",
        )
        .bind(tenant)
        .bind(&t.family_id)
        .fetch_one(&mut *tx)
        .await?;
        if !redeemed {
            return Ok(false);
        }
        insert_refresh(&mut tx, tenant, t).await?;
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_refresh(
        &self,
        tenant: &str,
        old_hash: &str,
        client_id: &str,
        new: &RefreshGrant,
        now: i64,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<Rotation> {
        let (mut tx, _gate) = self.write().await?;
        let old = sqlx::query_as::<_, (String, String, String, String, i64, Option<String>)>(
            "UPDATE oidc_refresh_tokens SET revoked = TRUE WHERE tenant_id = $1 \
             AND token_hash = $2 AND client_id = $3 AND revoked = FALSE AND expires_at > $4 \
             AND user_id IN (SELECT id FROM users WHERE tenant_id = $1 AND disabled = FALSE) \
             RETURNING client_id, user_id, scope, amr, auth_time, family_id",
        )
        .bind(tenant)
        .bind(old_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((client_id, user_id, scope, amr, auth_time, family)) = old {
            let grant = Grant {
                client_id,
                user_id,
                scope,
                amr,
                auth_time,
            };
            let mut new = new.clone();
            new.grant = grant.clone();
            new.family_id = family.unwrap_or_else(|| old_hash.to_owned());
            insert_refresh(&mut tx, tenant, &new).await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(grant));
        }
        let presented = sqlx::query_as::<_, (bool, Option<String>)>(
            "SELECT revoked, family_id FROM oidc_refresh_tokens WHERE tenant_id = $1 \
             AND token_hash = $2 AND client_id = $3",
        )
        .bind(tenant)
        .bind(old_hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((true, family)) = presented else {
            return Ok(Rotation::Invalid);
        };
        let family = family.unwrap_or_else(|| old_hash.to_owned());
        let revoked = revoke_family(&mut tx, tenant, &family, reuse_audit).await?;
        tx.commit().await?;
        Ok(Rotation::Reused { revoked })
    }

    async fn password_session(
        &self,
        tenant: &str,
        step: i64,
        s: &WebSession,
        a: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query(
            "UPDATE users SET last_totp_step = $3 WHERE tenant_id = $1 AND id = $2 \
             AND disabled = FALSE AND (last_totp_step IS NULL OR last_totp_step < $3)",
        )
        .bind(tenant)
        .bind(&s.user_id)
        .bind(step)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_session(&mut tx, tenant, s).await?;
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn session(
        &self,
        tenant: &str,
        id_hash: &str,
        now: i64,
    ) -> StorageResult<Option<(WebSession, User)>> {
        let session = sqlx::query_as::<_, WebSession>(
            "SELECT id_hash, user_id, amr, csrf, created_at, expires_at FROM web_sessions \
             WHERE tenant_id = $1 AND id_hash = $2 AND expires_at > $3",
        )
        .bind(tenant)
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(session) = session else {
            return Ok(None);
        };
        Ok(self
            .user_by_id(tenant, &session.user_id)
            .await?
            .filter(|u| !u.disabled)
            .map(|u| (session, u)))
    }

    async fn delete_session(
        &self,
        tenant: &str,
        id_hash: &str,
        a: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query("DELETE FROM web_sessions WHERE tenant_id = $1 AND id_hash = $2")
            .bind(tenant)
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_expired(&self, tenant: &str, before: i64) -> StorageResult<u64> {
        let (mut tx, _gate) = self.write().await?;
        let mut gone = 0;
        for table in [
            "web_sessions",
            "oidc_codes",
            "oidc_refresh_tokens",
            "webauthn_challenges",
        ] {
            let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND expires_at < $2");
            gone += sqlx::query(&sql)
                .bind(tenant)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(gone)
    }

    async fn ceremony_used(&self, tenant: &str, id: &str) -> StorageResult<bool> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM used_nonces WHERE tenant_id = $1 AND nonce_id = $2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn store_challenge(&self, tenant: &str, c: &Challenge, now: i64) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query("DELETE FROM webauthn_challenges WHERE tenant_id = $1 AND expires_at <= $2")
            .bind(tenant)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO webauthn_challenges (tenant_id, id, purpose, user_id, challenge, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(&c.id)
        .bind(&c.purpose)
        .bind(&c.user_id)
        .bind(&c.challenge)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn challenge(
        &self,
        tenant: &str,
        id: &str,
        now: i64,
    ) -> StorageResult<Option<Challenge>> {
        Ok(sqlx::query_as::<_, Challenge>(
            "SELECT id, purpose, user_id, challenge, expires_at FROM webauthn_challenges \
             WHERE tenant_id = $1 AND id = $2 AND expires_at > $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_security_keys(
        &self,
        tenant: &str,
        user_id: Option<&str>,
    ) -> StorageResult<Vec<SecurityKeyListing>> {
        Ok(sqlx::query_as::<_, SecurityKeyListing>(&format!(
            "SELECT u.upn, {KEY_COLUMNS} FROM security_keys k JOIN users u \
             ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
             WHERE k.tenant_id = $1 AND ($2 IS NULL OR k.user_id = $2) \
             ORDER BY u.upn, k.created_at, k.credential_id"
        ))
        .bind(tenant)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn security_key(
        &self,
        tenant: &str,
        credential_id: &str,
    ) -> StorageResult<Option<SecurityKey>> {
        Ok(sqlx::query_as::<_, SecurityKey>(&format!(
            "SELECT {KEY_COLUMNS} FROM security_keys k \
             WHERE k.tenant_id = $1 AND k.credential_id = $2"
        ))
        .bind(tenant)
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn register_security_key(
        &self,
        tenant: &str,
        challenge_id: &str,
        k: &SecurityKey,
        max: i64,
        now: i64,
        a: &AuditRecord,
    ) -> StorageResult<RegisterOutcome> {
        let (mut tx, _gate) = self.write().await?;
        if !consume_challenge(&mut tx, tenant, challenge_id, now).await? {
            return Ok(RegisterOutcome::CeremonyGone);
        }
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM security_keys WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant)
        .bind(&k.user_id)
        .fetch_one(&mut *tx)
        .await?;
        if count >= max {
            return Ok(RegisterOutcome::LimitReached);
        }
        let inserted = sqlx::query(
            "INSERT INTO security_keys (tenant_id, credential_id, user_id, name, aaguid, \
             format, trusted_root, public_key_cose, sign_count, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
        )
        .bind(tenant)
        .bind(&k.credential_id)
        .bind(&k.user_id)
        .bind(&k.name)
        .bind(&k.aaguid)
        .bind(&k.format)
        .bind(k.trusted_root)
        .bind(&k.public_key_cose)
        .bind(k.sign_count)
        .bind(k.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Ok(RegisterOutcome::Duplicate)
            }
            Err(e) => return Err(e.into()),
        }
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(RegisterOutcome::Registered)
    }

    async fn security_key_session(
        &self,
        tenant: &str,
        ceremony: &latchkey_storage::ConsumedNonce,
        credential_id: &str,
        old_count: i64,
        new_count: i64,
        s: &WebSession,
        a: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        // The stateless ceremony is recorded as used here, once (latchkey_web::ceremony).
        let fresh = sqlx::query(
            "INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(&ceremony.id)
        .bind(ceremony.expires_at)
        .execute(&mut *tx)
        .await?;
        if fresh.rows_affected() != 1 {
            return Ok(false);
        }
        let moved = sqlx::query(
            "UPDATE security_keys SET sign_count = $4, last_used_at = $5 \
             WHERE tenant_id = $1 AND credential_id = $2 AND sign_count = $3 \
             AND user_id IN (SELECT id FROM users WHERE tenant_id = $1 AND disabled = FALSE)",
        )
        .bind(tenant)
        .bind(credential_id)
        .bind(old_count)
        .bind(new_count)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        insert_session(&mut tx, tenant, s).await?;
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rename_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        name: &str,
        a: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query(
            "UPDATE security_keys SET name = $4 WHERE tenant_id = $1 AND credential_id = $2 \
             AND ($3 IS NULL OR user_id = $3)",
        )
        .bind(tenant)
        .bind(credential_id)
        .bind(user_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        a: &AuditRecord,
    ) -> StorageResult<bool> {
        let (mut tx, _gate) = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM security_keys WHERE tenant_id = $1 AND credential_id = $2 \
             AND ($3 IS NULL OR user_id = $3)",
        )
        .bind(tenant)
        .bind(credential_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn security_key_settings(&self, tenant: &str) -> StorageResult<SecurityKeySettings> {
        let row = sqlx::query_as::<_, SecurityKeySettings>(
            "SELECT require_trusted_root, aaguid_mode, aaguids, roots_pem \
             FROM security_key_settings WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.unwrap_or_else(|| SecurityKeySettings {
            aaguid_mode: "any".to_owned(),
            ..SecurityKeySettings::default()
        }))
    }

    async fn set_security_key_settings(
        &self,
        tenant: &str,
        s: &SecurityKeySettings,
        a: &AuditRecord,
    ) -> StorageResult<()> {
        let (mut tx, _gate) = self.write().await?;
        sqlx::query(
            "INSERT INTO security_key_settings (tenant_id, require_trusted_root, aaguid_mode, \
             aaguids, roots_pem) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE \
             SET require_trusted_root = $2, aaguid_mode = $3, aaguids = $4, roots_pem = $5",
        )
        .bind(tenant)
        .bind(s.require_trusted_root)
        .bind(&s.aaguid_mode)
        .bind(&s.aaguids)
        .bind(&s.roots_pem)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_of(
        &self,
        tenant: &str,
        actor: &str,
        limit: i64,
    ) -> StorageResult<Vec<AuditRecord>> {
        Ok(sqlx::query_as::<_, AuditRecord>(
            "SELECT at, event, actor, device_id, key_id, source, outcome, reason FROM audit \
             WHERE tenant_id = $1 AND actor = $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(actor)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn audit_latest(&self, tenant: &str, limit: i64) -> StorageResult<Vec<AuditRecord>> {
        Ok(sqlx::query_as::<_, AuditRecord>(
            "SELECT at, event, actor, device_id, key_id, source, outcome, reason FROM audit \
             WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(tenant)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn insert_refresh(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    t: &RefreshGrant,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO oidc_refresh_tokens (tenant_id, token_hash, client_id, user_id, scope, amr, \
         auth_time, expires_at, revoked, family_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9)",
    )
    .bind(tenant)
    .bind(&t.token_hash)
    .bind(&t.grant.client_id)
    .bind(&t.grant.user_id)
    .bind(&t.grant.scope)
    .bind(&t.grant.amr)
    .bind(t.grant.auth_time)
    .bind(t.expires_at)
    .bind(&t.family_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes every live refresh token of `family` and, when it revoked any, writes `a` with
/// the count appended to its note (so presenting a dead token again and again adds no
/// lines); returns the count.
async fn revoke_family(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &str,
    family: &str,
    a: &AuditRecord,
) -> StorageResult<u64> {
    let revoked = sqlx::query(
        "UPDATE oidc_refresh_tokens SET revoked = TRUE WHERE tenant_id = $1 AND family_id = $2 \
         AND revoked = FALSE",
    )
    .bind(tenant)
    .bind(family)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if revoked == 0 {
        return Ok(0);
    }
    let mut line = a.clone();
    let note = match line.reason.take() {
        Some(note) => format!("{note}; {revoked} refresh token(s) of the family revoked"),
        None => format!("{revoked} refresh token(s) of the family revoked"),
    };
    line.reason = Some(note);
    audit(tx, tenant, &line).await?;
    Ok(revoked)
}
