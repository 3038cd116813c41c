//! The row mapping both backends share for writing: the column lists and insert
//! statements of the records (portable SQL: `$n` placeholders, the same tables and columns
//! on SQLite and PostgreSQL), and each record's values in column order ([`ToRow`]).
//! Reading goes through the records' `sqlx::FromRow`; writing binds [`RowValue`]s with
//! [`bind_row`], on either driver ([`PortableDb`]).

use std::borrow::Cow;

use sqlx::query::Query;
use sqlx::{Database, Postgres, Sqlite};

use crate::audit::{stored, MAX_FIELD, MAX_REASON};
use crate::cert::CertificateRecord;
use crate::{AuditRecord, Device, KeyCredential, Prt, TenantRecord, User};

/// One value of a row, as both drivers bind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowValue<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// Text or NULL.
    OptText(Option<Cow<'a, str>>),
    /// Bytes (`BLOB`, `BYTEA`).
    Bytes(&'a [u8]),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit integer or NULL.
    OptInt(Option<i64>),
    /// A boolean.
    Bool(bool),
}

impl<'a> RowValue<'a> {
    fn text(value: &'a str) -> RowValue<'a> {
        RowValue::Text(Cow::Borrowed(value))
    }

    fn opt_text(value: &'a Option<String>) -> RowValue<'a> {
        RowValue::OptText(value.as_deref().map(Cow::Borrowed))
    }
}

/// A database both backends' statements run on: SQLite or PostgreSQL, whose drivers bind
/// every [`RowValue`].
pub trait PortableDb: Database {
    /// Binds one value after what `query` has bound.
    fn bind_value<'q>(
        query: Query<'q, Self, <Self as Database>::Arguments<'q>>,
        value: RowValue<'q>,
    ) -> Query<'q, Self, <Self as Database>::Arguments<'q>>;
}

/// Binds each driver's types for [`RowValue`] (the same code for both: the impls differ
/// only in the database named).
macro_rules! portable {
    ($db:ty) => {
        impl PortableDb for $db {
            fn bind_value<'q>(
                query: Query<'q, Self, <Self as Database>::Arguments<'q>>,
                value: RowValue<'q>,
            ) -> Query<'q, Self, <Self as Database>::Arguments<'q>> {
                match value {
                    RowValue::Text(Cow::Borrowed(s)) => query.bind(s),
                    RowValue::Text(Cow::Owned(s)) => query.bind(s),
                    RowValue::OptText(s) => query.bind(s.map(Cow::into_owned)),
                    RowValue::Bytes(b) => query.bind(b),
                    RowValue::Int(i) => query.bind(i),
                    RowValue::OptInt(i) => query.bind(i),
                    RowValue::Bool(b) => query.bind(b),
                }
            }
        }
    };
}
portable!(Sqlite);
portable!(Postgres);

/// Binds `values` (a record's [`ToRow`]) in order after what `query` has bound.
pub fn bind_row<'q, DB: PortableDb>(
    query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    values: Vec<RowValue<'q>>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>> {
    values.into_iter().fold(query, DB::bind_value)
}

/// A record's values in the column order of its insert statement, after the tenant id.
pub trait ToRow {
    /// The values, in column order.
    fn row(&self) -> Vec<RowValue<'_>>;
}

/// The tenant columns, in `TenantRecord`'s order.
pub const TENANT_COLUMNS: &str = "id, name, ca_cert_pem, ca_key_pem, signing_key_pkcs8, \
     signing_kid, nonce_secret, created_at, secrets_sealed_by";
/// The user columns, in `User`'s order.
pub const USER_COLUMNS: &str = "id, upn, display_name, password_hash, totp_secret, \
     last_totp_step, disabled, created_at";
/// The device columns, in `Device`'s order.
pub const DEVICE_COLUMNS: &str = "id, display_name, os, join_type, owner_user_id, \
     joined_with_mfa, public_key_spki, cert_pem, cert_thumbprint, disabled, created_at";
/// The Hello key columns, in `KeyCredential`'s order.
pub const KEY_COLUMNS: &str = "key_id, user_id, device_id, alg, public_key, usage, attestation, \
     created_at, tpm_manufacturer";

/// Inserts a tenant (binds: its [`ToRow`] values; the tenant row has no tenant id).
pub const INSERT_TENANT: &str = "INSERT INTO tenants (id, name, ca_cert_pem, ca_key_pem, \
     signing_key_pkcs8, signing_kid, nonce_secret, created_at, secrets_sealed_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
/// Inserts a user (binds: the tenant id, then its values).
pub const INSERT_USER: &str = "INSERT INTO users (tenant_id, id, upn, display_name, \
     password_hash, totp_secret, last_totp_step, disabled, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
/// Inserts a device (binds: the tenant id, then its values).
pub const INSERT_DEVICE: &str = "INSERT INTO devices (tenant_id, id, display_name, os, \
     join_type, owner_user_id, joined_with_mfa, public_key_spki, cert_pem, cert_thumbprint, \
     disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
/// Inserts a Hello key (binds: the tenant id, then its values).
pub const INSERT_KEY: &str = "INSERT INTO key_credentials (tenant_id, key_id, user_id, \
     device_id, alg, public_key, usage, attestation, created_at, tpm_manufacturer) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
/// Inserts an audit line (binds: the tenant id, then its values, the fields capped).
pub const INSERT_AUDIT: &str = "INSERT INTO audit (tenant_id, at, event, actor, device_id, \
     key_id, source, outcome, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
/// Inserts a certificate (binds: the tenant id, then its values).
pub const INSERT_CERTIFICATE: &str = "INSERT INTO certificates (tenant_id, serial, kind, \
     user_id, device_id, key_id, template, subject, not_before, not_after, der, fingerprint, \
     state, revoked_at, reason, renewed_from, issued_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
/// Inserts a primary refresh token (binds: the tenant id, then its values). The SQLite
/// backend's guarded insert binds the same values in the same places.
pub const INSERT_PRT: &str = "INSERT INTO prts (tenant_id, token_hash, user_id, device_id, \
     key_id, issued_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl ToRow for TenantRecord {
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::text(&self.id),
            RowValue::text(&self.name),
            RowValue::text(&self.ca_cert_pem),
            RowValue::text(&self.ca_key_pem),
            RowValue::Bytes(&self.signing_key_pkcs8),
            RowValue::text(&self.signing_kid),
            RowValue::Bytes(&self.nonce_secret),
            RowValue::Int(self.created_at),
            RowValue::opt_text(&self.secrets_sealed_by),
        ]
    }
}

impl ToRow for User {
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::text(&self.id),
            RowValue::text(&self.upn),
            RowValue::text(&self.display_name),
            RowValue::text(&self.password_hash),
            RowValue::Bytes(&self.totp_secret),
            RowValue::OptInt(self.last_totp_step),
            RowValue::Bool(self.disabled),
            RowValue::Int(self.created_at),
        ]
    }
}

impl ToRow for Device {
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::text(&self.id),
            RowValue::text(&self.display_name),
            RowValue::text(&self.os),
            RowValue::text(&self.join_type),
            RowValue::text(&self.owner_user_id),
            RowValue::Bool(self.joined_with_mfa),
            RowValue::Bytes(&self.public_key_spki),
            RowValue::text(&self.cert_pem),
            RowValue::text(&self.cert_thumbprint),
            RowValue::Bool(self.disabled),
            RowValue::Int(self.created_at),
        ]
    }
}

impl ToRow for KeyCredential {
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::text(&self.key_id),
            RowValue::text(&self.user_id),
            RowValue::text(&self.device_id),
            RowValue::text(&self.alg),
            RowValue::Bytes(&self.public_key),
            RowValue::text(&self.usage),
            RowValue::text(&self.attestation),
            RowValue::Int(self.created_at),
            RowValue::opt_text(&self.tpm_manufacturer),
        ]
    }
}

impl ToRow for Prt {
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::text(&self.token_hash),
            RowValue::text(&self.user_id),
            RowValue::text(&self.device_id),
            RowValue::text(&self.key_id),
            RowValue::Int(self.issued_at),
            RowValue::Int(self.expires_at),
            RowValue::Bool(self.revoked),
        ]
    }
}

impl ToRow for AuditRecord {
    /// The free-text fields capped as the audit trail stores them.
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::Int(self.at),
            RowValue::text(&self.event),
            RowValue::OptText(stored(&self.actor, MAX_FIELD)),
            RowValue::OptText(stored(&self.device_id, MAX_FIELD)),
            RowValue::OptText(stored(&self.key_id, MAX_FIELD)),
            RowValue::OptText(stored(&self.source, MAX_FIELD)),
            RowValue::text(&self.outcome),
            RowValue::OptText(stored(&self.reason, MAX_REASON)),
        ]
    }
}

impl ToRow for CertificateRecord {
    fn row(&self) -> Vec<RowValue<'_>> {
        vec![
            RowValue::text(&self.serial),
            RowValue::text(&self.kind),
            RowValue::opt_text(&self.user_id),
            RowValue::opt_text(&self.device_id),
            RowValue::opt_text(&self.key_id),
            RowValue::text(&self.template),
            RowValue::text(&self.subject),
            RowValue::Int(self.not_before),
            RowValue::Int(self.not_after),
            RowValue::Bytes(&self.der),
            RowValue::text(&self.fingerprint),
            RowValue::text(&self.state),
            RowValue::OptInt(self.revoked_at),
            RowValue::opt_text(&self.reason),
            RowValue::opt_text(&self.renewed_from),
            RowValue::Int(self.issued_at),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record gives as many values as its insert has placeholders after the tenant.
    #[test]
    fn every_insert_binds_one_value_per_column() {
        fn placeholders(sql: &str) -> usize {
            sql.matches('$').count()
        }
        let user = User {
            id: "u".into(),
            upn: "a@example.com".into(),
            display_name: "A".into(),
            password_hash: String::new(),
            totp_secret: vec![],
            last_totp_step: None,
            disabled: false,
            created_at: 1,
        };
        assert_eq!(placeholders(INSERT_USER), 1 + user.row().len());
        let line = AuditRecord {
            at: 1,
            event: "e".into(),
            actor: Some("x".repeat(MAX_FIELD + 10)),
            device_id: None,
            key_id: None,
            source: None,
            outcome: "success".into(),
            reason: None,
        };
        let row = line.row();
        assert_eq!(placeholders(INSERT_AUDIT), 1 + row.len());
        let Some(RowValue::OptText(Some(actor))) = row.get(2) else {
            panic!("the actor: {row:?}");
        };
        assert!(actor.len() <= MAX_FIELD, "capped: {}", actor.len());
        for (sql, columns) in [
            (INSERT_TENANT, TENANT_COLUMNS),
            (INSERT_DEVICE, DEVICE_COLUMNS),
            (INSERT_KEY, KEY_COLUMNS),
        ] {
            let n = columns.split(',').count();
            let extra = usize::from(sql != INSERT_TENANT);
            assert_eq!(placeholders(sql), n + extra, "{sql}");
        }
    }
}
