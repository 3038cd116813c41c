//! `latchkeyd storage copy --from sqlite:DIR --to postgres://...`: moves the tenant of a
//! data directory into an empty PostgreSQL database (latchkey-storage-copy), then prints
//! what it copied. The URL is never printed: it may hold a password.

use std::path::Path;

use latchkey_proto::ErrorCode;
use latchkey_server::storage::postgres::PgOptions;
use latchkey_storage_copy::sqlite_to_postgres;

use crate::coded;

/// Runs the copy.
pub async fn run(from: &str, to: &str, json: bool) -> anyhow::Result<()> {
    let Some(dir) = from.strip_prefix("sqlite:").filter(|d| !d.is_empty()) else {
        return Err(coded(
            ErrorCode::InvalidField,
            "--from must be sqlite:DIR, the data directory to copy",
        ));
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(coded(
            ErrorCode::InvalidField,
            "--to must be a postgres://USER@HOST:PORT/DB URL",
        ));
    }
    let report = sqlite_to_postgres(Path::new(dir), &PgOptions::new(to))
        .await
        .map_err(|e| coded(ErrorCode::StorageCopyFailed, e.to_string()))?;
    let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
    if json {
        let tables: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|(t, n)| ((*t).to_owned(), serde_json::Value::from(*n)))
            .collect();
        println!(
            "{}",
            serde_json::json!({"tenant": report.tenant_id, "rows": rows, "tables": tables})
        );
    } else {
        println!("copied tenant {} ({rows} rows)", report.tenant_id);
        for (table, n) in &report.tables {
            println!("  {table:<24} {n}");
        }
    }
    Ok(())
}
