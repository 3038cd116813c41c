//! The tables a copy moves, in an order that satisfies their foreign keys, and the check
//! that this list covers both schemas.

use sqlx::{PgConnection, SqliteConnection};

use crate::{source_err, target_err, CopyError};

/// Every table of a tenant, parents before children.
pub const TABLES: &[&str] = &[
    "tenants",
    "users",
    "devices",
    "key_credentials",
    "prts",
    "used_nonces",
    "audit",
    "policy_state",
    "policy_csp_values",
    "policy_csp_tenant_nodes",
    "policy_gpos",
    "policy_groups",
    "policy_group_members",
    "policy_sessions",
    "admin_tokens",
    "oidc_clients",
    "oidc_codes",
    "oidc_refresh_tokens",
    "web_sessions",
    "webauthn_challenges",
    "security_keys",
    "security_key_settings",
    "resources",
    "tpm_roots",
    "tpm_activations",
    "tpm_devices",
    "cert_authorities",
    "cert_templates",
    "certificates",
    "cert_pki_state",
    "kerberos_settings",
    "kerberos_principals",
    "pin_recovery_keys",
    "pin_recovery_answers",
];

/// Refuses a copy when either database has a table that [`TABLES`] does not list (a newer
/// schema than this copy knows): such a table's rows would be left behind. Tables only
/// PostgreSQL has (the replicas' shared state, e.g. rate limits) start empty.
pub(crate) async fn check_coverage(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
) -> Result<(), CopyError> {
    let in_sqlite: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *source)
    .await
    .map_err(source_err)?;
    let in_postgres: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&mut *target)
    .await
    .map_err(target_err)?;
    let unknown: Vec<&str> = in_sqlite
        .iter()
        .filter(|t| !TABLES.contains(&t.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(CopyError::Schema(format!(
            "SQLite tables this copy does not know: {}",
            unknown.join(", ")
        )));
    }
    let missing: Vec<&str> = TABLES
        .iter()
        .filter(|t| !in_postgres.iter().any(|p| p == *t))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(CopyError::Schema(format!(
            "tables missing in PostgreSQL: {}",
            missing.join(", ")
        )));
    }
    Ok(())
}
