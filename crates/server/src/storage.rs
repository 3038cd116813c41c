//! The storage the service runs on: the traits and records of `latchkey-storage`, the
//! embedded backend of `latchkey-storage-sqlite` and the PostgreSQL backend of
//! `latchkey-storage-postgres`, under the paths the service's modules use
//! (`storage::Storage`, `storage::sqlite::SqliteStorage`, `storage::web_sqlite`,
//! `storage::postgres::PgStorage`), and the choice between them ([`Database`],
//! [`OpenStorage`]).

use std::path::Path;
use std::sync::Arc;

pub use latchkey_storage::*;
pub use latchkey_storage_postgres as postgres;
pub use latchkey_storage_sqlite as sqlite;
pub use latchkey_storage_sqlite::web_sqlite;

use postgres::{PgOptions, PgStorage};
use sqlite::SqliteStorage;
use web_sqlite::SqliteWebStorage;

/// Where the directory is stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Database {
    /// The embedded default: SQLite in the data directory (`DATA_DIR/latchkey.db`).
    #[default]
    Sqlite,
    /// A PostgreSQL database, which several replicas may share.
    Postgres(PgOptions),
}

impl Database {
    /// The database named by a `--database` value: `postgres://...` or `postgresql://...`
    /// for PostgreSQL, `sqlite` (or `sqlite:`) for the embedded default; anything else is
    /// refused with the reason. The URL is checked when the service connects.
    pub fn parse(value: &str, max_connections: Option<u32>) -> Result<Database, String> {
        if value == "sqlite" || value == "sqlite:" {
            return Ok(Database::Sqlite);
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            let mut options = PgOptions::new(value);
            if let Some(max) = max_connections {
                options.max_connections = max;
            }
            return Ok(Database::Postgres(options));
        }
        Err("a database is `sqlite` or a postgres://USER@HOST:PORT/DB URL".to_owned())
    }

    /// Which backend, for logs and messages (never the URL: it may hold a password).
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }
}

/// An opened backend: the handles the service's state holds, all on one database.
#[derive(Debug, Clone)]
pub enum OpenStorage {
    /// SQLite in the data directory, and its web storage on the same pool.
    Sqlite {
        /// The directory storage.
        storage: Arc<SqliteStorage>,
        /// The web side's storage, sharing the pool and the write gate.
        web: Arc<SqliteWebStorage>,
    },
    /// PostgreSQL: one pool serves every trait.
    Postgres(Arc<PgStorage>),
}

impl OpenStorage {
    /// Opens `database` (SQLite: in `data_dir`) and applies its migrations.
    pub async fn open(database: &Database, data_dir: &Path) -> StorageResult<OpenStorage> {
        Ok(match database {
            Database::Sqlite => {
                let storage = Arc::new(SqliteStorage::open(data_dir).await?);
                let web = Arc::new(storage.web_storage());
                OpenStorage::Sqlite { storage, web }
            }
            Database::Postgres(options) => {
                OpenStorage::Postgres(Arc::new(PgStorage::connect(options).await?))
            }
        })
    }

    /// The directory storage.
    pub fn storage(&self) -> Arc<dyn Storage> {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.clone(),
            OpenStorage::Postgres(pg) => pg.clone(),
        }
    }

    /// The web side's storage.
    pub fn web(&self) -> Arc<dyn WebStorage> {
        match self {
            OpenStorage::Sqlite { web, .. } => web.clone(),
            OpenStorage::Postgres(pg) => pg.clone(),
        }
    }

    /// The web administration's lists and changes.
    pub fn directory(&self) -> Arc<dyn DirectoryAdmin> {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.clone(),
            OpenStorage::Postgres(pg) => pg.clone(),
        }
    }

    /// The administration commands' directory changes and audit search.
    pub fn admin(&self) -> Arc<dyn AdminStorage> {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.clone(),
            OpenStorage::Postgres(pg) => pg.clone(),
        }
    }

    /// The sign-in attempts shared by every process on the database: PostgreSQL's, for
    /// replicas; `None` on SQLite, where one process counts them in memory.
    pub fn attempts(&self) -> Option<Arc<dyn AttemptStorage>> {
        match self {
            OpenStorage::Sqlite { .. } => None,
            OpenStorage::Postgres(pg) => Some(pg.clone()),
        }
    }

    /// The pool's (and SQLite's sign-in writer's) figures now.
    pub fn figures(&self) -> StorageFigures {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.figures(),
            OpenStorage::Postgres(pg) => pg.figures(),
        }
    }

    /// Commits what is queued and closes the pools.
    pub async fn close(&self) {
        match self {
            OpenStorage::Sqlite { storage, web } => {
                web.close().await;
                storage.close().await;
            }
            OpenStorage::Postgres(pg) => pg.close().await,
        }
    }
}
