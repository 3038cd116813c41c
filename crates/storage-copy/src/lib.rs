//! `latchkeyd storage copy`: moves a tenant from the embedded SQLite storage (a data
//! directory) to an empty PostgreSQL database, for an administrator who outgrows one
//! machine. Every row of every table is copied as it is (the two schemas have the same
//! tables, columns and keys), so every device keeps its keys, certificates and tokens and
//! signs in against PostgreSQL with no re-join.
//!
//! The copy reads one snapshot of the SQLite database (a read transaction: the service may
//! keep running, and what it writes after the snapshot is not copied) and writes in one
//! PostgreSQL transaction: the target holds the whole tenant or nothing. Rows move in
//! pages of [`PAGE_ROWS`], so memory stays bounded whatever the size of the tenant.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use latchkey_storage::StorageError;
use latchkey_storage_postgres::{PgOptions, PgStorage};
use latchkey_storage_sqlite::{SqliteStorage, DB_FILE};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, PgConnection, Postgres};

mod tables;
mod value;

pub use tables::TABLES;
use value::{Column, Value};

/// Rows read and inserted per statement.
pub const PAGE_ROWS: i64 = 500;

/// Why a copy was refused or failed. Nothing is written to the target in either case.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source is not a Latchkey data directory.
    #[error("LK-COPY-001: {path}: {what}")]
    NoSource {
        /// The data directory.
        path: PathBuf,
        /// What is missing.
        what: &'static str,
    },
    /// The target already holds a tenant: a copy never merges into or overwrites one.
    #[error("LK-COPY-002: the PostgreSQL database already holds tenant {0}; copy into an empty database")]
    TargetNotEmpty(String),
    /// The two schemas disagree (a table or column the copy does not know).
    #[error("LK-COPY-003: the schemas differ: {0}")]
    Schema(String),
    /// Reading the SQLite database failed.
    #[error("LK-COPY-004: reading the SQLite database: {0}")]
    Source(String),
    /// Connecting to or writing PostgreSQL failed.
    #[error("LK-COPY-005: writing PostgreSQL: {0}")]
    Target(String),
    /// A table's row count in PostgreSQL differs from what was read (nothing committed).
    #[error("LK-COPY-006: table {table}: read {read} rows, PostgreSQL holds {written}")]
    Count {
        /// The table.
        table: &'static str,
        /// Rows read from SQLite.
        read: u64,
        /// Rows in the PostgreSQL table before commit.
        written: u64,
    },
}

/// What a copy moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The tenant's id.
    pub tenant_id: String,
    /// Rows copied, per table, in copy order.
    pub tables: Vec<(&'static str, u64)>,
}

fn source_err(e: impl std::fmt::Display) -> CopyError {
    CopyError::Source(e.to_string())
}

fn target_err(e: impl std::fmt::Display) -> CopyError {
    CopyError::Target(e.to_string())
}

/// Copies the tenant of the SQLite data directory `data_dir` into the PostgreSQL database
/// of `target` (migrated first; it must hold no tenant).
pub async fn sqlite_to_postgres(
    data_dir: &Path,
    target: &PgOptions,
) -> Result<CopyReport, CopyError> {
    let db = data_dir.join(DB_FILE);
    if std::fs::metadata(&db).map_or(true, |m| !m.is_file() || m.len() == 0) {
        return Err(CopyError::NoSource {
            path: data_dir.to_path_buf(),
            what: "no Latchkey database in this directory",
        });
    }
    // Brings the source's schema up to date, as its next start would.
    let migrated = SqliteStorage::open(data_dir).await.map_err(source_err)?;
    migrated.close().await;
    let mut source =
        SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&db).read_only(true))
            .await
            .map_err(source_err)?;
    let pg = PgStorage::connect(target).await.map_err(|e| match e {
        StorageError::Migrate(m) => CopyError::Target(format!("migrating: {m}")),
        other => target_err(other),
    })?;
    let result = copy_all(data_dir, &mut source, &pg).await;
    pg.close().await;
    let _ = source.close().await;
    result
}

async fn copy_all(
    data_dir: &Path,
    source: &mut SqliteConnection,
    pg: &PgStorage,
) -> Result<CopyReport, CopyError> {
    // One snapshot of the source: every page below reads the same committed state.
    let mut snapshot = source.begin().await.map_err(source_err)?;
    let tenant_id: Option<String> =
        sqlx::query_scalar("SELECT id FROM tenants ORDER BY created_at, id LIMIT 1")
            .fetch_optional(&mut *snapshot)
            .await
            .map_err(source_err)?;
    let Some(tenant_id) = tenant_id else {
        return Err(CopyError::NoSource {
            path: data_dir.to_path_buf(),
            what: "the database holds no tenant",
        });
    };
    let mut tx = pg.pool().begin().await.map_err(target_err)?;
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM tenants LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(target_err)?;
    if let Some(existing) = existing {
        return Err(CopyError::TargetNotEmpty(existing));
    }
    tables::check_coverage(&mut snapshot, &mut tx).await?;
    let mut report = Vec::with_capacity(TABLES.len());
    for &table in TABLES {
        let columns = value::columns(&mut tx, &mut snapshot, table).await?;
        let read = copy_table(&mut snapshot, &mut tx, table, &columns).await?;
        let written: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .map_err(target_err)?;
        let written = u64::try_from(written).unwrap_or(0);
        if written != read {
            return Err(CopyError::Count {
                table,
                read,
                written,
            });
        }
        report.push((table, read));
    }
    // The audit sequence continues after the copied lines.
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('audit', 'seq'), \
         COALESCE((SELECT MAX(seq) FROM audit), 0) + 1, false)",
    )
    .execute(&mut *tx)
    .await
    .map_err(target_err)?;
    tx.commit().await.map_err(target_err)?;
    snapshot.rollback().await.map_err(source_err)?;
    Ok(CopyReport {
        tenant_id,
        tables: report,
    })
}

/// Copies one table page by page (SQLite rowid order); returns the rows copied.
async fn copy_table(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
    table: &'static str,
    columns: &[Column],
) -> Result<u64, CopyError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let list = names.join(", ");
    let select =
        format!("SELECT rowid, {list} FROM {table} WHERE rowid > $1 ORDER BY rowid LIMIT $2");
    // The audit sequence is copied as it is (an identity column refuses explicit values
    // unless told).
    let overriding = if table == "audit" {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let mut after = i64::MIN;
    let mut copied = 0u64;
    loop {
        let rows = sqlx::query(&select)
            .bind(after)
            .bind(PAGE_ROWS)
            .fetch_all(&mut *source)
            .await
            .map_err(source_err)?;
        let Some(last) = rows.last() else {
            return Ok(copied);
        };
        after = sqlx::Row::try_get(last, 0).map_err(source_err)?;
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut one = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                one.push(Value::read(row, i + 1, column)?);
            }
            values.push(one);
        }
        let mut insert = sqlx::QueryBuilder::<Postgres>::new(format!(
            "INSERT INTO {table} ({list}){overriding} "
        ));
        insert.push_values(values, |mut b, row| {
            for value in row {
                value.bind(&mut b);
            }
        });
        insert
            .build()
            .execute(&mut *target)
            .await
            .map_err(target_err)?;
        copied += u64::try_from(rows.len()).unwrap_or(0);
    }
}
