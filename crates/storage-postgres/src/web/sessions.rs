//! Browser sessions, the web's users and audit views.
//!
//! - `password_session`: one conditional update of the user row takes the TOTP step
//!   (`AND NOT disabled AND (last_totp_step IS NULL OR last_totp_step < $step)`, the rule
//!   `password_signin` uses): PostgreSQL re-evaluates it on the newest row after waiting
//!   for a concurrent writer of the row, so a step is taken once, never one at or below
//!   the last accepted, and never after a committed disable. The session and the audit
//!   line are written only when it took the step.
//! - `delete_session`: one delete with its line. `prune_expired`: deletes of rows expired
//!   before the time given, in one transaction.
//! - `session`: one statement (the session joined to its enabled user), so the answer is
//!   one committed state.

use latchkey_storage::web::WebSession;
use latchkey_storage::{AuditRecord, StorageResult, User};
use sqlx::{FromRow, PgConnection, Row};

use crate::tx::insert_audit;
use crate::PgStorage;

const USER_COLUMNS: &str = "id, upn, display_name, password_hash, totp_secret, last_totp_step, \
     disabled, created_at";
const AUDIT_COLUMNS: &str = "at, event, actor, device_id, key_id, source, outcome, reason";

/// A user by object id.
pub(super) async fn user_by_id(
    s: &PgStorage,
    tenant: &str,
    user_id: &str,
) -> StorageResult<Option<User>> {
    Ok(sqlx::query_as::<_, User>(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(user_id)
    .fetch_optional(&s.pool)
    .await?)
}

/// Stores a browser session (inside the caller's transaction).
pub(super) async fn insert_session(
    tx: &mut PgConnection,
    tenant: &str,
    session: &WebSession,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO web_sessions (tenant_id, id_hash, user_id, amr, csrf, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(&session.id_hash)
    .bind(&session.user_id)
    .bind(&session.amr)
    .bind(&session.csrf)
    .bind(session.created_at)
    .bind(session.expires_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Takes the TOTP step of the session's user, then stores the session and its line.
pub(super) async fn password_session(
    s: &PgStorage,
    tenant: &str,
    step: i64,
    session: &WebSession,
    a: &AuditRecord,
) -> StorageResult<bool> {
    let mut tx = s.begin().await?;
    let taken = sqlx::query(
        "UPDATE users SET last_totp_step = $3 WHERE tenant_id = $1 AND id = $2 \
         AND NOT disabled AND (last_totp_step IS NULL OR last_totp_step < $3)",
    )
    .bind(tenant)
    .bind(&session.user_id)
    .bind(step)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(false);
    }
    insert_session(&mut tx, tenant, session).await?;
    insert_audit(&mut tx, tenant, a).await?;
    tx.commit().await?;
    Ok(true)
}

/// The session's columns, renamed apart from the user's.
const SESSION_COLUMNS: &str = "s.id_hash AS s_id_hash, s.user_id AS s_user_id, s.amr AS s_amr, \
     s.csrf AS s_csrf, s.created_at AS s_created_at, s.expires_at AS s_expires_at";

/// A live session with its user, when the user is not disabled.
pub(super) async fn session(
    s: &PgStorage,
    tenant: &str,
    id_hash: &str,
    now: i64,
) -> StorageResult<Option<(WebSession, User)>> {
    let row = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS}, u.id, u.upn, u.display_name, u.password_hash, \
         u.totp_secret, u.last_totp_step, u.disabled, u.created_at \
         FROM web_sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
         WHERE s.tenant_id = $1 AND s.id_hash = $2 AND s.expires_at > $3 AND NOT u.disabled"
    ))
    .bind(tenant)
    .bind(id_hash)
    .bind(now)
    .fetch_optional(&s.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session = WebSession {
        id_hash: row.try_get("s_id_hash")?,
        user_id: row.try_get("s_user_id")?,
        amr: row.try_get("s_amr")?,
        csrf: row.try_get("s_csrf")?,
        created_at: row.try_get("s_created_at")?,
        expires_at: row.try_get("s_expires_at")?,
    };
    Ok(Some((session, User::from_row(&row)?)))
}

/// Ends a session, audited (also when there was no such session, as on SQLite).
pub(super) async fn delete_session(
    s: &PgStorage,
    tenant: &str,
    id_hash: &str,
    a: &AuditRecord,
) -> StorageResult<()> {
    let mut tx = s.begin().await?;
    sqlx::query("DELETE FROM web_sessions WHERE tenant_id = $1 AND id_hash = $2")
        .bind(tenant)
        .bind(id_hash)
        .execute(&mut *tx)
        .await?;
    insert_audit(&mut tx, tenant, a).await?;
    tx.commit().await?;
    Ok(())
}

/// The tables `prune_expired` deletes expired rows from.
const EXPIRING: [&str; 4] = [
    "web_sessions",
    "oidc_codes",
    "oidc_refresh_tokens",
    "webauthn_challenges",
];

/// Deletes the web's rows that expired before `before`; returns how many.
pub(super) async fn prune_expired(s: &PgStorage, tenant: &str, before: i64) -> StorageResult<u64> {
    retrying!(async {
        let mut tx = s.begin().await?;
        let mut gone = 0u64;
        for table in EXPIRING {
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
    })
}

/// The latest lines naming `actor`, newest first.
pub(super) async fn audit_of(
    s: &PgStorage,
    tenant: &str,
    actor: &str,
    limit: i64,
) -> StorageResult<Vec<AuditRecord>> {
    Ok(sqlx::query_as::<_, AuditRecord>(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE tenant_id = $1 AND actor = $2 \
         ORDER BY seq DESC LIMIT $3"
    ))
    .bind(tenant)
    .bind(actor)
    .bind(limit.max(0))
    .fetch_all(&s.pool)
    .await?)
}

/// The latest lines, newest first.
pub(super) async fn audit_latest(
    s: &PgStorage,
    tenant: &str,
    limit: i64,
) -> StorageResult<Vec<AuditRecord>> {
    Ok(sqlx::query_as::<_, AuditRecord>(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2"
    ))
    .bind(tenant)
    .bind(limit.max(0))
    .fetch_all(&s.pool)
    .await?)
}
