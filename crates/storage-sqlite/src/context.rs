//! The reads of the hot paths, each one query on a direct connection (see [`super::direct`]):
//! the user, device and key of a sign-in, and the primary refresh token with its user,
//! device and key.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::direct::sqlite_error;

use latchkey_storage::{Device, KeyCredential, Prt, PrtContext, SignInContext, StorageResult};

/// The user, device and key columns from the aliases `u`, `d`, `k`, in the order the row
/// readers below take them (a macro so that the queries can be `concat!`ed constants).
macro_rules! columns {
    () => {
        "u.id, u.upn, u.display_name, u.password_hash, u.totp_secret, u.last_totp_step, \
         u.disabled, u.created_at, \
         d.id, d.display_name, d.os, d.join_type, d.owner_user_id, d.joined_with_mfa, \
         d.public_key_spki, d.cert_pem, d.cert_thumbprint, d.disabled, d.created_at, \
         k.key_id, k.user_id, k.device_id, k.alg, k.public_key, k.usage, k.attestation, \
         k.created_at"
    };
}

/// Number of user, device and key columns: 8, 11 and 8.
const USER_WIDTH: usize = 8;
const DEVICE_WIDTH: usize = 11;

const SIGNIN_SQL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM (SELECT 1) AS one \
     LEFT JOIN users u ON u.tenant_id = ?1 AND u.upn = ?2 \
     LEFT JOIN devices d ON d.tenant_id = ?1 AND d.id = ?3 \
     LEFT JOIN key_credentials k ON k.tenant_id = ?1 AND k.key_id = ?4"
);

const PRT_SQL: &str = concat!(
    "SELECT p.token_hash, p.user_id, p.device_id, p.key_id, p.issued_at, p.expires_at, \
     p.revoked, ",
    columns!(),
    " FROM prts p \
     LEFT JOIN users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id \
     LEFT JOIN devices d ON d.tenant_id = p.tenant_id AND d.id = p.device_id \
     LEFT JOIN key_credentials k ON k.tenant_id = p.tenant_id AND k.key_id = p.key_id \
       AND k.user_id = p.user_id AND k.device_id = p.device_id \
     WHERE p.tenant_id = ?1 AND p.token_hash = ?2"
);

/// Number of token columns before the user's in [`PRT_SQL`].
const PRT_WIDTH: usize = 7;

fn user(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<latchkey_storage::User>> {
    let Some(id) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(latchkey_storage::User {
        id,
        upn: row.get(at + 1)?,
        display_name: row.get(at + 2)?,
        password_hash: row.get(at + 3)?,
        totp_secret: row.get(at + 4)?,
        last_totp_step: row.get(at + 5)?,
        disabled: row.get(at + 6)?,
        created_at: row.get(at + 7)?,
    }))
}

fn device(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<Device>> {
    let Some(id) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Device {
        id,
        display_name: row.get(at + 1)?,
        os: row.get(at + 2)?,
        join_type: row.get(at + 3)?,
        owner_user_id: row.get(at + 4)?,
        joined_with_mfa: row.get(at + 5)?,
        public_key_spki: row.get(at + 6)?,
        cert_pem: row.get(at + 7)?,
        cert_thumbprint: row.get(at + 8)?,
        disabled: row.get(at + 9)?,
        created_at: row.get(at + 10)?,
    }))
}

fn key(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<KeyCredential>> {
    let Some(key_id) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(KeyCredential {
        key_id,
        user_id: row.get(at + 1)?,
        device_id: row.get(at + 2)?,
        alg: row.get(at + 3)?,
        public_key: row.get(at + 4)?,
        usage: row.get(at + 5)?,
        attestation: row.get(at + 6)?,
        created_at: row.get(at + 7)?,
        tpm_manufacturer: None,
    }))
}

/// The user, device and key of a row whose first of these columns is at `at`.
fn parties(
    row: &Row<'_>,
    at: usize,
) -> rusqlite::Result<(
    Option<latchkey_storage::User>,
    Option<Device>,
    Option<KeyCredential>,
)> {
    Ok((
        user(row, at)?,
        device(row, at + USER_WIDTH)?,
        key(row, at + USER_WIDTH + DEVICE_WIDTH)?,
    ))
}

/// The user by UPN, the device by id and the key by id, each `None` when absent.
pub(super) fn signin(
    conn: &Connection,
    tenant: &str,
    upn: &str,
    device_id: &str,
    key_id: &str,
) -> StorageResult<SignInContext> {
    let mut statement = conn.prepare_cached(SIGNIN_SQL).map_err(sqlite_error)?;
    let (user, device, key) = statement
        .query_row((tenant, upn, device_id, key_id), |row| parties(row, 0))
        .map_err(sqlite_error)?;
    Ok(SignInContext { user, device, key })
}

/// The token by hash, with its user, device, and key (the key only while it is still
/// registered for that user and device).
pub(super) fn prt(
    conn: &Connection,
    tenant: &str,
    token_hash: &str,
) -> StorageResult<Option<PrtContext>> {
    let mut statement = conn.prepare_cached(PRT_SQL).map_err(sqlite_error)?;
    let found = statement
        .query_row((tenant, token_hash), |row| {
            let prt = Prt {
                token_hash: row.get(0)?,
                user_id: row.get(1)?,
                device_id: row.get(2)?,
                key_id: row.get(3)?,
                issued_at: row.get(4)?,
                expires_at: row.get(5)?,
                revoked: row.get(6)?,
            };
            let (user, device, key) = parties(row, PRT_WIDTH)?;
            Ok(PrtContext {
                prt,
                user,
                device,
                key,
            })
        })
        .optional()
        .map_err(sqlite_error)?;
    Ok(found)
}
