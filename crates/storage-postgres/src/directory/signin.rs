//! The sign-in hot path on PostgreSQL: the reads of a sign-in and of a token use (one
//! statement each, prepared once per connection by sqlx's statement cache), and the
//! sign-in's write as one statement.
//!
//! [`complete`] consumes the nonce, checks that the key is still registered for its user
//! and device with neither disabled, stores the token and writes the audit line in one
//! `INSERT ... ON CONFLICT DO NOTHING` and three data-modifying `WITH` parts: one round
//! trip and one implicit transaction. The guard reads the key, device and user rows
//! `FOR SHARE` (as [`crate::tx::key_is_live`] does): a key delete or a disable that has not
//! committed is waited for and then seen, one that starts later waits for this commit, so
//! no sign-in commits after a delete or disable commits.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::tx::{bind_row, consume_nonce, insert_audit, insert_prt};
use crate::PgStorage;
use latchkey_storage::rows::ToRow;
use latchkey_storage::{
    AuditRecord, ConsumedNonce, Device, KeyCredential, Prt, PrtContext, SignInContext,
    StorageError, StorageResult, User,
};

/// The user, device and key columns of the aliases `u`, `d`, `k`, in the order
/// [`parties`] reads them.
macro_rules! party_columns {
    () => {
        "u.id, u.upn, u.display_name, u.password_hash, u.totp_secret, u.last_totp_step, \
         u.disabled, u.created_at, \
         d.id, d.display_name, d.os, d.join_type, d.owner_user_id, d.joined_with_mfa, \
         d.public_key_spki, d.cert_pem, d.cert_thumbprint, d.disabled, d.created_at, \
         k.key_id, k.user_id, k.device_id, k.alg, k.public_key, k.usage, k.attestation, \
         k.created_at, k.tpm_manufacturer"
    };
}

/// The user by UPN, the device by id and the key by id: three primary-key or unique
/// lookups, each row absent (NULL) when there is none.
pub(super) const SIGNIN_SQL: &str = concat!(
    "SELECT ",
    party_columns!(),
    " FROM (SELECT 1) AS one \
     LEFT JOIN users u ON u.tenant_id = $1 AND u.upn = $2 \
     LEFT JOIN devices d ON d.tenant_id = $1 AND d.id = $3 \
     LEFT JOIN key_credentials k ON k.tenant_id = $1 AND k.key_id = $4"
);

/// The token by hash with its user, device, and key (the key only while it is still
/// registered for that user and device).
pub(super) const PRT_SQL: &str = concat!(
    "SELECT p.token_hash, p.user_id, p.device_id, p.key_id, p.issued_at, p.expires_at, \
     p.revoked, ",
    party_columns!(),
    " FROM prts p \
     LEFT JOIN users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id \
     LEFT JOIN devices d ON d.tenant_id = p.tenant_id AND d.id = p.device_id \
     LEFT JOIN key_credentials k ON k.tenant_id = p.tenant_id AND k.key_id = p.key_id \
       AND k.user_id = p.user_id AND k.device_id = p.device_id \
     WHERE p.tenant_id = $1 AND p.token_hash = $2"
);

/// The sign-in's write (see the module header). Binds: tenant, nonce id, nonce expiry,
/// token hash, user, device, key, issued, expires, revoked, then the audit line's at,
/// event, actor, device, key, source, outcome, reason. Answers whether the nonce was
/// fresh and whether the token was stored.
pub(super) const COMPLETE_SQL: &str = "WITH nonce AS ( \
       INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES ($1, $2, $3) \
       ON CONFLICT DO NOTHING RETURNING 1 AS fresh), \
     live AS ( \
       SELECT 1 AS live FROM key_credentials k \
       JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
       JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
       WHERE k.tenant_id = $1 AND k.key_id = $7 AND k.user_id = $5 AND k.device_id = $6 \
       AND NOT d.disabled AND NOT u.disabled AND EXISTS (SELECT 1 FROM nonce) \
       FOR SHARE OF k, d, u), \
     token AS ( \
       INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, issued_at, \
       expires_at, revoked) SELECT $1, $4, $5, $6, $7, $8, $9, $10 FROM live \
       RETURNING 1 AS stored), \
     line AS ( \
       INSERT INTO audit (tenant_id, at, event, actor, device_id, key_id, source, outcome, \
       reason) SELECT $1, $11, $12, $13, $14, $15, $16, $17, $18 FROM token) \
     SELECT EXISTS (SELECT 1 FROM nonce) AS fresh, EXISTS (SELECT 1 FROM token) AS stored";

fn user(row: &PgRow, at: usize) -> sqlx::Result<Option<User>> {
    let Some(id) = row.try_get::<Option<String>, _>(at)? else {
        return Ok(None);
    };
    Ok(Some(User {
        id,
        upn: row.try_get(at + 1)?,
        display_name: row.try_get(at + 2)?,
        password_hash: row.try_get(at + 3)?,
        totp_secret: row.try_get(at + 4)?,
        last_totp_step: row.try_get(at + 5)?,
        disabled: row.try_get(at + 6)?,
        created_at: row.try_get(at + 7)?,
    }))
}

fn device(row: &PgRow, at: usize) -> sqlx::Result<Option<Device>> {
    let Some(id) = row.try_get::<Option<String>, _>(at)? else {
        return Ok(None);
    };
    Ok(Some(Device {
        id,
        display_name: row.try_get(at + 1)?,
        os: row.try_get(at + 2)?,
        join_type: row.try_get(at + 3)?,
        owner_user_id: row.try_get(at + 4)?,
        joined_with_mfa: row.try_get(at + 5)?,
        public_key_spki: row.try_get(at + 6)?,
        cert_pem: row.try_get(at + 7)?,
        cert_thumbprint: row.try_get(at + 8)?,
        disabled: row.try_get(at + 9)?,
        created_at: row.try_get(at + 10)?,
    }))
}

fn key(row: &PgRow, at: usize) -> sqlx::Result<Option<KeyCredential>> {
    let Some(key_id) = row.try_get::<Option<String>, _>(at)? else {
        return Ok(None);
    };
    Ok(Some(KeyCredential {
        key_id,
        user_id: row.try_get(at + 1)?,
        device_id: row.try_get(at + 2)?,
        alg: row.try_get(at + 3)?,
        public_key: row.try_get(at + 4)?,
        usage: row.try_get(at + 5)?,
        attestation: row.try_get(at + 6)?,
        created_at: row.try_get(at + 7)?,
        tpm_manufacturer: row.try_get(at + 8)?,
    }))
}

/// Number of user and device columns in [`party_columns`]: 8 and 11.
const USER_WIDTH: usize = 8;
const DEVICE_WIDTH: usize = 11;
/// Number of token columns before the user's in [`PRT_SQL`].
const PRT_WIDTH: usize = 7;

/// The user, device and key of a row whose first of these columns is at `at`.
fn parties(
    row: &PgRow,
    at: usize,
) -> sqlx::Result<(Option<User>, Option<Device>, Option<KeyCredential>)> {
    Ok((
        user(row, at)?,
        device(row, at + USER_WIDTH)?,
        key(row, at + USER_WIDTH + DEVICE_WIDTH)?,
    ))
}

/// The user by UPN, the device by id and the key by id, each `None` when absent.
pub(super) async fn context(
    pool: &PgPool,
    tenant: &str,
    upn: &str,
    device_id: &str,
    key_id: &str,
) -> StorageResult<SignInContext> {
    let row = sqlx::query(SIGNIN_SQL)
        .bind(tenant)
        .bind(upn)
        .bind(device_id)
        .bind(key_id)
        .fetch_one(pool)
        .await?;
    let (user, device, key) = parties(&row, 0)?;
    Ok(SignInContext { user, device, key })
}

/// The token by hash with what it depends on.
pub(super) async fn prt_context(
    pool: &PgPool,
    tenant: &str,
    token_hash: &str,
) -> StorageResult<Option<PrtContext>> {
    let Some(row) = sqlx::query(PRT_SQL)
        .bind(tenant)
        .bind(token_hash)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let prt = Prt {
        token_hash: row.try_get(0)?,
        user_id: row.try_get(1)?,
        device_id: row.try_get(2)?,
        key_id: row.try_get(3)?,
        issued_at: row.try_get(4)?,
        expires_at: row.try_get(5)?,
        revoked: row.try_get(6)?,
    };
    let (user, device, key) = parties(&row, PRT_WIDTH)?;
    Ok(Some(PrtContext {
        prt,
        user,
        device,
        key,
    }))
}

/// The sign-in's write: `NonceReplayed` for a used nonce, false (the nonce consumed,
/// nothing else written) when the key, device or user went away, true when stored.
pub(super) async fn complete(
    pool: &PgPool,
    tenant: &str,
    nonce: &ConsumedNonce,
    prt: &Prt,
    a: &AuditRecord,
) -> StorageResult<bool> {
    let head = sqlx::query(COMPLETE_SQL)
        .bind(tenant)
        .bind(&nonce.id)
        .bind(nonce.expires_at);
    let row = bind_row(bind_row(head, prt.row()), a.row())
        .fetch_one(pool)
        .await?;
    let (fresh, stored_token): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
    if !fresh {
        return Err(StorageError::NonceReplayed);
    }
    Ok(stored_token)
}

/// One attempt of `renew_prt`: the old token is revoked by a conditional update (a
/// concurrent renewal of the same token waits for this one and then finds it revoked),
/// and the new one stored under the sign-in's guard.
pub(super) async fn renew(
    storage: &PgStorage,
    tenant: &str,
    nonce: &ConsumedNonce,
    old_hash: &str,
    new: &Prt,
    audit: &AuditRecord,
) -> StorageResult<bool> {
    let mut tx = storage.begin().await?;
    consume_nonce(&mut tx, tenant, nonce).await?;
    let revoked = sqlx::query(
        "UPDATE prts SET revoked = TRUE WHERE tenant_id = $1 AND token_hash = $2 \
         AND NOT revoked",
    )
    .bind(tenant)
    .bind(old_hash)
    .execute(&mut *tx)
    .await?;
    if revoked.rows_affected() != 1 || !insert_prt(&mut tx, tenant, new).await? {
        return Ok(false);
    }
    insert_audit(&mut tx, tenant, audit).await?;
    tx.commit().await?;
    Ok(true)
}
