//! OpenID Connect clients, authorization codes and refresh tokens.
//!
//! - `create_client`, `store_code`: the primary key refuses a duplicate (the statement
//!   fails and the transaction is dropped with the error).
//! - `take_code`: `UPDATE ... SET used = TRUE WHERE used = FALSE` is re-evaluated on the
//!   newest row after waiting for a concurrent redeemer, so one caller gets the code. A
//!   caller that finds it used takes the family lock, deletes the code and revokes the
//!   family.
//! - `store_refresh`: takes the family lock, then re-reads that the code is still there
//!   and used. Against a reuse either the reuse waits (and its revocation then sees the
//!   stored token) or the store waits (and then finds the code deleted).
//! - `rotate_refresh`: takes the family lock, revokes the presented token by a conditional
//!   update (`AND revoked = FALSE AND expires_at > now`, one winner), and re-checks the user
//!   `FOR SHARE` (a disable not committed yet is waited for). A loser finds the token
//!   revoked and revokes the family under the same lock.
//!
//! The family lock (`pg_advisory_xact_lock` on a hash of the tenant and family id, held
//! to the end of the transaction) is what a row lock cannot give: a revocation of the
//! family must also see a token that a rotation in flight inserts, and the inserted row
//! does not exist yet to be locked. Two families whose hashes collide only wait for each
//! other.

use latchkey_storage::web::{AuthCode, CodeRedemption, Grant, OidcClient, RefreshGrant, Rotation};
use latchkey_storage::{AuditRecord, StorageResult};
use sqlx::PgConnection;

use crate::tx::{conflict_if_duplicate, insert_audit};
use crate::PgStorage;

const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, created_at";
const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, \
     code_challenge, amr, auth_time, expires_at";

/// Registers a client with its audit line.
pub(super) async fn create_client(
    s: &PgStorage,
    tenant: &str,
    c: &OidcClient,
    a: &AuditRecord,
) -> StorageResult<()> {
    let mut tx = s.begin().await?;
    let inserted = sqlx::query(
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
    .await;
    conflict_if_duplicate(inserted, || format!("client {}", c.client_id))?;
    insert_audit(&mut tx, tenant, a).await?;
    tx.commit().await?;
    Ok(())
}

/// A client by id.
pub(super) async fn client(
    s: &PgStorage,
    tenant: &str,
    client_id: &str,
) -> StorageResult<Option<OidcClient>> {
    Ok(sqlx::query_as::<_, OidcClient>(&format!(
        "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE tenant_id = $1 AND client_id = $2"
    ))
    .bind(tenant)
    .bind(client_id)
    .fetch_optional(&s.pool)
    .await?)
}

/// Every client, oldest first.
pub(super) async fn list_clients(s: &PgStorage, tenant: &str) -> StorageResult<Vec<OidcClient>> {
    Ok(sqlx::query_as::<_, OidcClient>(&format!(
        "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE tenant_id = $1 \
         ORDER BY created_at, client_id"
    ))
    .bind(tenant)
    .fetch_all(&s.pool)
    .await?)
}

/// Stores a code, deleting the codes that expired an hour before it expires.
pub(super) async fn store_code(s: &PgStorage, tenant: &str, c: &AuthCode) -> StorageResult<()> {
    retrying!(async {
        let mut tx = s.begin().await?;
        sqlx::query("DELETE FROM oidc_codes WHERE tenant_id = $1 AND expires_at < $2")
            .bind(tenant)
            .bind(c.expires_at.saturating_sub(3600))
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
    })
}

/// Redeems a code once; a reuse deletes it and revokes its family.
pub(super) async fn take_code(
    s: &PgStorage,
    tenant: &str,
    code_hash: &str,
    reuse_audit: &AuditRecord,
) -> StorageResult<CodeRedemption> {
    retrying!(async {
        let mut tx = s.begin().await?;
        let code = sqlx::query_as::<_, AuthCode>(&format!(
            "UPDATE oidc_codes SET used = TRUE WHERE tenant_id = $1 AND code_hash = $2 \
             AND used = FALSE RETURNING {CODE_COLUMNS}"
        ))
        .bind(tenant)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(code) = code {
            tx.commit().await?;
            return Ok(CodeRedemption::Redeemed(code));
        }
        lock_family(&mut tx, tenant, code_hash).await?;
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
    })
}

/// Stores the first refresh token of a family while its code is still recorded as used.
pub(super) async fn store_refresh(
    s: &PgStorage,
    tenant: &str,
    t: &RefreshGrant,
    a: &AuditRecord,
) -> StorageResult<bool> {
    retrying!(async {
        let mut tx = s.begin().await?;
        lock_family(&mut tx, tenant, &t.family_id).await?;
        let redeemed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM oidc_codes WHERE tenant_id = $1 AND code_hash = $2 \
             AND used)",
        )
        .bind(tenant)
        .bind(&t.family_id)
        .fetch_one(&mut *tx)
        .await?;
        if !redeemed {
            return Ok(false);
        }
        insert_refresh(&mut tx, tenant, t, &t.grant, &t.family_id).await?;
        insert_audit(&mut tx, tenant, a).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// The presented token's grant, from its revoking `UPDATE ... RETURNING`.
type GrantRow = (String, String, String, String, i64);

/// Rotates a live token once; presenting a revoked one revokes its family.
pub(super) async fn rotate_refresh(
    s: &PgStorage,
    tenant: &str,
    old_hash: &str,
    client_id: &str,
    new: &RefreshGrant,
    now: i64,
    reuse_audit: &AuditRecord,
) -> StorageResult<Rotation> {
    retrying!(async {
        let mut tx = s.begin().await?;
        let family: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(family_id, token_hash) FROM oidc_refresh_tokens \
             WHERE tenant_id = $1 AND token_hash = $2 AND client_id = $3",
        )
        .bind(tenant)
        .bind(old_hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(family) = family else {
            return Ok(Rotation::Invalid);
        };
        lock_family(&mut tx, tenant, &family).await?;
        let old = sqlx::query_as::<_, GrantRow>(
            "UPDATE oidc_refresh_tokens SET revoked = TRUE WHERE tenant_id = $1 \
             AND token_hash = $2 AND client_id = $3 AND revoked = FALSE AND expires_at > $4 \
             RETURNING client_id, user_id, scope, amr, auth_time",
        )
        .bind(tenant)
        .bind(old_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((client_id, user_id, scope, amr, auth_time)) = old {
            if !user_is_enabled(&mut tx, tenant, &user_id).await? {
                // Dropping the transaction undoes the revocation.
                return Ok(Rotation::Invalid);
            }
            let grant = Grant {
                client_id,
                user_id,
                scope,
                amr,
                auth_time,
            };
            insert_refresh(&mut tx, tenant, new, &grant, &family).await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(grant));
        }
        let revoked: Option<bool> = sqlx::query_scalar(
            "SELECT revoked FROM oidc_refresh_tokens WHERE tenant_id = $1 \
             AND token_hash = $2 AND client_id = $3",
        )
        .bind(tenant)
        .bind(old_hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        if revoked != Some(true) {
            return Ok(Rotation::Invalid);
        }
        let revoked = revoke_family(&mut tx, tenant, &family, reuse_audit).await?;
        tx.commit().await?;
        Ok(Rotation::Reused { revoked })
    })
}

/// Whether the user exists and is not disabled, its row locked `FOR SHARE` (a disable not
/// committed yet is waited for and then seen; a later one waits for this transaction).
async fn user_is_enabled(
    tx: &mut PgConnection,
    tenant: &str,
    user_id: &str,
) -> StorageResult<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND NOT disabled FOR SHARE",
    )
    .bind(tenant)
    .bind(user_id)
    .fetch_optional(tx)
    .await?;
    Ok(found.is_some())
}

/// Takes the family lock of (`tenant`, `family`) until the transaction ends.
async fn lock_family(tx: &mut PgConnection, tenant: &str, family: &str) -> StorageResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("latchkey/oidc-family/{tenant}/{family}"))
        .execute(tx)
        .await?;
    Ok(())
}

async fn insert_refresh(
    tx: &mut PgConnection,
    tenant: &str,
    t: &RefreshGrant,
    grant: &Grant,
    family: &str,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO oidc_refresh_tokens (tenant_id, token_hash, client_id, user_id, scope, amr, \
         auth_time, expires_at, revoked, family_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9)",
    )
    .bind(tenant)
    .bind(&t.token_hash)
    .bind(&grant.client_id)
    .bind(&grant.user_id)
    .bind(&grant.scope)
    .bind(&grant.amr)
    .bind(grant.auth_time)
    .bind(t.expires_at)
    .bind(family)
    .execute(tx)
    .await?;
    Ok(())
}

/// Revokes every live refresh token of `family` (the caller holds the family lock) and,
/// when it revoked any, writes `a` with the count appended to its note (so presenting a
/// dead token again and again adds no lines); returns the count.
async fn revoke_family(
    tx: &mut PgConnection,
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
    .execute(&mut *tx)
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
    insert_audit(tx, tenant, &line).await?;
    Ok(revoked)
}
