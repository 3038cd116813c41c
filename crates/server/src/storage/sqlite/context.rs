//! The reads of the hot paths, each one query: the user, device and key of a sign-in, and
//! the primary refresh token with its user, device and key. One round trip to the SQLite
//! worker instead of three or four (each round trip wakes a thread twice).

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::storage::{Device, KeyCredential, Prt, PrtContext, SignInContext, StorageResult};

/// The user, device and key columns under prefixed names, from the aliases `u`, `d`, `k`.
const COLUMNS: &str = "u.id AS u_id, u.upn AS u_upn, u.display_name AS u_display_name, \
    u.password_hash AS u_password_hash, u.totp_secret AS u_totp_secret, \
    u.last_totp_step AS u_last_totp_step, u.disabled AS u_disabled, \
    u.created_at AS u_created_at, \
    d.id AS d_id, d.display_name AS d_display_name, d.os AS d_os, d.join_type AS d_join_type, \
    d.owner_user_id AS d_owner_user_id, d.joined_with_mfa AS d_joined_with_mfa, \
    d.public_key_spki AS d_public_key_spki, d.cert_pem AS d_cert_pem, \
    d.cert_thumbprint AS d_cert_thumbprint, d.disabled AS d_disabled, \
    d.created_at AS d_created_at, \
    k.key_id AS k_key_id, k.user_id AS k_user_id, k.device_id AS k_device_id, k.alg AS k_alg, \
    k.public_key AS k_public_key, k.usage AS k_usage, k.attestation AS k_attestation, \
    k.created_at AS k_created_at";

fn user(row: &SqliteRow) -> StorageResult<Option<crate::storage::User>> {
    let Some(id) = row.try_get::<Option<String>, _>("u_id")? else {
        return Ok(None);
    };
    Ok(Some(crate::storage::User {
        id,
        upn: row.try_get("u_upn")?,
        display_name: row.try_get("u_display_name")?,
        password_hash: row.try_get("u_password_hash")?,
        totp_secret: row.try_get("u_totp_secret")?,
        last_totp_step: row.try_get("u_last_totp_step")?,
        disabled: row.try_get("u_disabled")?,
        created_at: row.try_get("u_created_at")?,
    }))
}

fn device(row: &SqliteRow) -> StorageResult<Option<Device>> {
    let Some(id) = row.try_get::<Option<String>, _>("d_id")? else {
        return Ok(None);
    };
    Ok(Some(Device {
        id,
        display_name: row.try_get("d_display_name")?,
        os: row.try_get("d_os")?,
        join_type: row.try_get("d_join_type")?,
        owner_user_id: row.try_get("d_owner_user_id")?,
        joined_with_mfa: row.try_get("d_joined_with_mfa")?,
        public_key_spki: row.try_get("d_public_key_spki")?,
        cert_pem: row.try_get("d_cert_pem")?,
        cert_thumbprint: row.try_get("d_cert_thumbprint")?,
        disabled: row.try_get("d_disabled")?,
        created_at: row.try_get("d_created_at")?,
    }))
}

fn key(row: &SqliteRow) -> StorageResult<Option<KeyCredential>> {
    let Some(key_id) = row.try_get::<Option<String>, _>("k_key_id")? else {
        return Ok(None);
    };
    Ok(Some(KeyCredential {
        key_id,
        user_id: row.try_get("k_user_id")?,
        device_id: row.try_get("k_device_id")?,
        alg: row.try_get("k_alg")?,
        public_key: row.try_get("k_public_key")?,
        usage: row.try_get("k_usage")?,
        attestation: row.try_get("k_attestation")?,
        created_at: row.try_get("k_created_at")?,
    }))
}

/// The user by UPN, the device by id and the key by id, each `None` when absent.
pub(super) async fn signin(
    pool: &SqlitePool,
    tenant: &str,
    upn: &str,
    device_id: &str,
    key_id: &str,
) -> StorageResult<SignInContext> {
    let sql = format!(
        "SELECT {COLUMNS} FROM (SELECT 1) AS one \
         LEFT JOIN users u ON u.tenant_id = $1 AND u.upn = $2 \
         LEFT JOIN devices d ON d.tenant_id = $1 AND d.id = $3 \
         LEFT JOIN key_credentials k ON k.tenant_id = $1 AND k.key_id = $4"
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(upn)
        .bind(device_id)
        .bind(key_id)
        .fetch_one(pool)
        .await?;
    Ok(SignInContext {
        user: user(&row)?,
        device: device(&row)?,
        key: key(&row)?,
    })
}

/// The token by hash, with its user, device, and key (the key only while it is still
/// registered for that user and device).
pub(super) async fn prt(
    pool: &SqlitePool,
    tenant: &str,
    token_hash: &str,
) -> StorageResult<Option<PrtContext>> {
    let sql = format!(
        "SELECT p.token_hash AS p_token_hash, p.user_id AS p_user_id, \
         p.device_id AS p_device_id, p.key_id AS p_key_id, p.issued_at AS p_issued_at, \
         p.expires_at AS p_expires_at, p.revoked AS p_revoked, {COLUMNS} FROM prts p \
         LEFT JOIN users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id \
         LEFT JOIN devices d ON d.tenant_id = p.tenant_id AND d.id = p.device_id \
         LEFT JOIN key_credentials k ON k.tenant_id = p.tenant_id AND k.key_id = p.key_id \
           AND k.user_id = p.user_id AND k.device_id = p.device_id \
         WHERE p.tenant_id = $1 AND p.token_hash = $2"
    );
    let Some(row) = sqlx::query(&sql)
        .bind(tenant)
        .bind(token_hash)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(PrtContext {
        prt: Prt {
            token_hash: row.try_get("p_token_hash")?,
            user_id: row.try_get("p_user_id")?,
            device_id: row.try_get("p_device_id")?,
            key_id: row.try_get("p_key_id")?,
            issued_at: row.try_get("p_issued_at")?,
            expires_at: row.try_get("p_expires_at")?,
            revoked: row.try_get("p_revoked")?,
        },
        user: user(&row)?,
        device: device(&row)?,
        key: key(&row)?,
    }))
}
