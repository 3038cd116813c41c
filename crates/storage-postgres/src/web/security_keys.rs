//! WebAuthn challenges, FIDO2 security keys and the tenant's security-key settings.
//!
//! - `register`: the challenge is taken by a conditional delete (`AND expires_at > now`;
//!   a concurrent taker waits and then finds it gone), then the user row is locked
//!   `FOR NO KEY UPDATE` before the keys are counted, so concurrent registrations of one
//!   user count one after another and never pass `max`. (`FOR NO KEY UPDATE` excludes
//!   the other registrations as `FOR UPDATE` would, without blocking the foreign-key
//!   checks of rows that merely reference the user.) A credential id already stored is
//!   found by `ON CONFLICT DO NOTHING`: `Duplicate`, nothing written.
//! - `signin`: the ceremony is recorded by the nonce primary key (`ON CONFLICT DO
//!   NOTHING`: one taker), the counter moves by a conditional update (`AND sign_count =
//!   $old`), and the key's user is re-read `FOR SHARE` (a disable not committed yet is
//!   waited for and then seen).
//! - `rename`, `delete`: one conditional statement with its line.
//! - `set_settings`: one upsert (`ON CONFLICT DO UPDATE`).
//!
//! An optional owner is never written as `($n IS NULL OR user_id = $n)`: each case has its
//! own statement, so each can use its index.

use latchkey_storage::web::{
    Challenge, RegisterOutcome, SecurityKey, SecurityKeyListing, SecurityKeySettings, WebSession,
};
use latchkey_storage::{AuditRecord, ConsumedNonce, StorageError, StorageResult};
use sqlx::postgres::PgArguments;
use sqlx::{PgConnection, Postgres};

use super::sessions::insert_session;
use crate::tx::{consume_nonce, insert_audit};
use crate::PgStorage;

const KEY_COLUMNS: &str = "k.credential_id, k.user_id, k.name, k.aaguid, k.format, \
     k.trusted_root, k.public_key_cose, k.sign_count, k.created_at, k.last_used_at";

/// Stores a challenge, deleting the expired ones.
pub(super) async fn store_challenge(
    s: &PgStorage,
    tenant: &str,
    c: &Challenge,
    now: i64,
) -> StorageResult<()> {
    retrying!(async {
        let mut tx = s.begin().await?;
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
    })
}

/// A live challenge.
pub(super) async fn challenge(
    s: &PgStorage,
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
    .fetch_optional(&s.pool)
    .await?)
}

/// Every security key, or one user's, by owner UPN and registration time.
pub(super) async fn list(
    s: &PgStorage,
    tenant: &str,
    user_id: Option<&str>,
) -> StorageResult<Vec<SecurityKeyListing>> {
    let select = format!(
        "SELECT u.upn, {KEY_COLUMNS} FROM security_keys k JOIN users u \
         ON u.tenant_id = k.tenant_id AND u.id = k.user_id WHERE k.tenant_id = $1"
    );
    let order = "ORDER BY u.upn, k.created_at, k.credential_id";
    let sql = match user_id {
        Some(_) => format!("{select} AND k.user_id = $2 {order}"),
        None => format!("{select} {order}"),
    };
    let query = sqlx::query_as::<_, SecurityKeyListing>(&sql).bind(tenant);
    let query = match user_id {
        Some(user_id) => query.bind(user_id),
        None => query,
    };
    Ok(query.fetch_all(&s.pool).await?)
}

/// A security key by credential id.
pub(super) async fn by_credential_id(
    s: &PgStorage,
    tenant: &str,
    credential_id: &str,
) -> StorageResult<Option<SecurityKey>> {
    Ok(sqlx::query_as::<_, SecurityKey>(&format!(
        "SELECT {KEY_COLUMNS} FROM security_keys k \
         WHERE k.tenant_id = $1 AND k.credential_id = $2"
    ))
    .bind(tenant)
    .bind(credential_id)
    .fetch_optional(&s.pool)
    .await?)
}

/// Takes the challenge and stores the key unless its user has `max` keys already.
pub(super) async fn register(
    s: &PgStorage,
    tenant: &str,
    challenge_id: &str,
    k: &SecurityKey,
    max: i64,
    now: i64,
    a: &AuditRecord,
) -> StorageResult<RegisterOutcome> {
    retrying!(async {
        let mut tx = s.begin().await?;
        let taken = sqlx::query(
            "DELETE FROM webauthn_challenges WHERE tenant_id = $1 AND id = $2 \
             AND expires_at > $3",
        )
        .bind(tenant)
        .bind(challenge_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            return Ok(RegisterOutcome::CeremonyGone);
        }
        // Registrations of this user queue here; the count below is then the latest.
        sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE")
            .bind(tenant)
            .bind(&k.user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM security_keys WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant)
        .bind(&k.user_id)
        .fetch_one(&mut *tx)
        .await?;
        if count >= max {
            return Ok(RegisterOutcome::LimitReached);
        }
        if !insert_key(&mut tx, tenant, k).await? {
            return Ok(RegisterOutcome::Duplicate);
        }
        insert_audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(RegisterOutcome::Registered)
    })
}

/// Inserts a key; false (nothing written, the transaction still usable) when its
/// credential id is stored already.
async fn insert_key(tx: &mut PgConnection, tenant: &str, k: &SecurityKey) -> StorageResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO security_keys (tenant_id, credential_id, user_id, name, aaguid, \
         format, trusted_root, public_key_cose, sign_count, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL) ON CONFLICT DO NOTHING",
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
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The counter move a security-key sign-in asks for.
#[derive(Debug, Clone, Copy)]
pub(super) struct CounterMove<'a> {
    /// The key.
    pub credential_id: &'a str,
    /// The counter the caller read.
    pub old_count: i64,
    /// The counter of the assertion.
    pub new_count: i64,
}

/// Records the ceremony, moves the counter and opens the session of the key's owner.
pub(super) async fn signin(
    s: &PgStorage,
    tenant: &str,
    ceremony: &ConsumedNonce,
    counter: &CounterMove<'_>,
    session: &WebSession,
    a: &AuditRecord,
) -> StorageResult<bool> {
    retrying!(async {
        let mut tx = s.begin().await?;
        match consume_nonce(&mut tx, tenant, ceremony).await {
            Ok(()) => {}
            Err(StorageError::NonceReplayed) => return Ok(false),
            Err(e) => return Err(e),
        }
        let moved = sqlx::query(
            "UPDATE security_keys SET sign_count = $4, last_used_at = $5 \
             WHERE tenant_id = $1 AND credential_id = $2 AND sign_count = $3 AND user_id = $6",
        )
        .bind(tenant)
        .bind(counter.credential_id)
        .bind(counter.old_count)
        .bind(counter.new_count)
        .bind(session.created_at)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        let enabled: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND NOT disabled FOR SHARE",
        )
        .bind(tenant)
        .bind(&session.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if enabled.is_none() {
            return Ok(false);
        }
        insert_session(&mut tx, tenant, session).await?;
        insert_audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Whether the ceremony (or nonce) id is recorded as used.
pub(super) async fn ceremony_used(s: &PgStorage, tenant: &str, id: &str) -> StorageResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM used_nonces WHERE tenant_id = $1 AND nonce_id = $2)",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(&s.pool)
    .await?)
}

/// A statement already bound.
type Bound<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Runs `change` and, when it changed exactly one row, writes the line, in one
/// transaction.
async fn audited_one(
    s: &PgStorage,
    tenant: &str,
    change: Bound<'_>,
    a: &AuditRecord,
) -> StorageResult<bool> {
    let mut tx = s.begin().await?;
    let done = change.execute(&mut *tx).await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    insert_audit(&mut tx, tenant, a).await?;
    tx.commit().await?;
    Ok(true)
}

/// Renames a key (of `user_id` when given).
pub(super) async fn rename(
    s: &PgStorage,
    tenant: &str,
    user_id: Option<&str>,
    credential_id: &str,
    name: &str,
    a: &AuditRecord,
) -> StorageResult<bool> {
    let change = match user_id {
        Some(user_id) => sqlx::query(
            "UPDATE security_keys SET name = $3 WHERE tenant_id = $1 AND credential_id = $2 \
             AND user_id = $4",
        )
        .bind(tenant)
        .bind(credential_id)
        .bind(name)
        .bind(user_id),
        None => sqlx::query(
            "UPDATE security_keys SET name = $3 WHERE tenant_id = $1 AND credential_id = $2",
        )
        .bind(tenant)
        .bind(credential_id)
        .bind(name),
    };
    audited_one(s, tenant, change, a).await
}

/// Deletes a key (of `user_id` when given).
pub(super) async fn delete(
    s: &PgStorage,
    tenant: &str,
    user_id: Option<&str>,
    credential_id: &str,
    a: &AuditRecord,
) -> StorageResult<bool> {
    let change = match user_id {
        Some(user_id) => sqlx::query(
            "DELETE FROM security_keys WHERE tenant_id = $1 AND credential_id = $2 \
             AND user_id = $3",
        )
        .bind(tenant)
        .bind(credential_id)
        .bind(user_id),
        None => {
            sqlx::query("DELETE FROM security_keys WHERE tenant_id = $1 AND credential_id = $2")
                .bind(tenant)
                .bind(credential_id)
        }
    };
    audited_one(s, tenant, change, a).await
}

/// The tenant's settings, or the defaults (any AAGUID, no roots required).
pub(super) async fn settings(s: &PgStorage, tenant: &str) -> StorageResult<SecurityKeySettings> {
    let row = sqlx::query_as::<_, SecurityKeySettings>(
        "SELECT require_trusted_root, aaguid_mode, aaguids, roots_pem \
         FROM security_key_settings WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(&s.pool)
    .await?;
    Ok(row.unwrap_or_else(|| SecurityKeySettings {
        aaguid_mode: "any".to_owned(),
        ..SecurityKeySettings::default()
    }))
}

/// Replaces the tenant's settings, audited.
pub(super) async fn set_settings(
    s: &PgStorage,
    tenant: &str,
    settings: &SecurityKeySettings,
    a: &AuditRecord,
) -> StorageResult<()> {
    let mut tx = s.begin().await?;
    sqlx::query(
        "INSERT INTO security_key_settings (tenant_id, require_trusted_root, aaguid_mode, \
         aaguids, roots_pem) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE \
         SET require_trusted_root = EXCLUDED.require_trusted_root, \
         aaguid_mode = EXCLUDED.aaguid_mode, aaguids = EXCLUDED.aaguids, \
         roots_pem = EXCLUDED.roots_pem",
    )
    .bind(tenant)
    .bind(settings.require_trusted_root)
    .bind(&settings.aaguid_mode)
    .bind(&settings.aaguids)
    .bind(&settings.roots_pem)
    .execute(&mut *tx)
    .await?;
    insert_audit(&mut tx, tenant, a).await?;
    tx.commit().await?;
    Ok(())
}
