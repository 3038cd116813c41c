//! One column's value on its way from SQLite to PostgreSQL, typed by the PostgreSQL
//! column (SQLite's columns have affinities, not types).

use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, Postgres, Row, SqliteConnection};

use crate::{source_err, target_err, CopyError};

/// A column of the target table and its PostgreSQL type.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// The column's name (the same in both schemas).
    pub name: String,
    /// PostgreSQL's `information_schema.columns.data_type`.
    pub pg_type: String,
}

/// A value read from SQLite as the PostgreSQL column's type.
#[derive(Debug)]
pub(crate) enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    /// Reads column `index` of `row` as `column`'s type.
    pub(crate) fn read(row: &SqliteRow, index: usize, column: &Column) -> Result<Value, CopyError> {
        let wrong = |e: sqlx::Error| {
            CopyError::Source(format!("column {} ({}): {e}", column.name, column.pg_type))
        };
        Ok(match column.pg_type.as_str() {
            // Every integer column of the schema is BIGINT (Unix seconds, counters).
            "bigint" => Value::Int(row.try_get(index).map_err(wrong)?),
            "boolean" => Value::Bool(row.try_get(index).map_err(wrong)?),
            "text" => Value::Text(row.try_get(index).map_err(wrong)?),
            "bytea" => Value::Bytes(row.try_get(index).map_err(wrong)?),
            other => {
                return Err(CopyError::Schema(format!(
                    "column {} has type {other}, which the copy does not know",
                    column.name
                )))
            }
        })
    }

    /// Binds the value into an insert's row.
    pub(crate) fn bind(self, b: &mut Separated<'_, '_, Postgres, &'static str>) {
        match self {
            Value::Int(v) => b.push_bind(v),
            Value::Bool(v) => b.push_bind(v),
            Value::Text(v) => b.push_bind(v),
            Value::Bytes(v) => b.push_bind(v),
        };
    }
}

/// The columns of `table` that both databases have, in PostgreSQL's order. A PostgreSQL
/// column with a default that SQLite lacks (the single-tenant marker) is left to its
/// default; any other column SQLite lacks is a schema difference.
pub(crate) async fn columns(
    target: &mut PgConnection,
    source: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<Column>, CopyError> {
    let in_postgres: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT column_name::TEXT, data_type::TEXT, column_default IS NOT NULL \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *target)
    .await
    .map_err(target_err)?;
    let in_sqlite: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(&mut *source)
        .await
        .map_err(source_err)?;
    let mut columns = Vec::with_capacity(in_postgres.len());
    for (name, pg_type, has_default) in in_postgres {
        if in_sqlite.contains(&name) {
            columns.push(Column { name, pg_type });
        } else if !has_default {
            return Err(CopyError::Schema(format!(
                "column {table}.{name} is missing in SQLite"
            )));
        }
    }
    if let Some(extra) = in_sqlite
        .iter()
        .find(|s| !columns.iter().any(|c| &c.name == *s))
    {
        return Err(CopyError::Schema(format!(
            "column {table}.{extra} is missing in PostgreSQL"
        )));
    }
    Ok(columns)
}
