//! The storage the service runs on: the traits and records of `latchkey-storage` and the
//! embedded backend of `latchkey-storage-sqlite`, under the paths the service's modules use
//! (`storage::Storage`, `storage::sqlite::SqliteStorage`, `storage::web_sqlite`), and the
//! opened backend the service holds ([`Database`], [`OpenStorage`]). The PostgreSQL crate
//! (`storage::postgres`) has its pool and schema (what `latchkeyd storage copy` writes);
//! it becomes a [`Database`] choice when it implements the storage traits.

use std::path::Path;
use std::sync::Arc;

pub use latchkey_storage::*;
pub use latchkey_storage_postgres as postgres;
pub use latchkey_storage_sqlite as sqlite;
pub use latchkey_storage_sqlite::web_sqlite;

use sqlite::SqliteStorage;
use web_sqlite::SqliteWebStorage;

/// Where the directory is stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Database {
    /// The embedded default: SQLite in the data directory (`DATA_DIR/latchkey.db`).
    #[default]
    Sqlite,
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
        })
    }

    /// The directory storage.
    pub fn storage(&self) -> Arc<dyn Storage> {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.clone(),
        }
    }

    /// The web side's storage.
    pub fn web(&self) -> Arc<dyn WebStorage> {
        match self {
            OpenStorage::Sqlite { web, .. } => web.clone(),
        }
    }

    /// The web administration's lists and changes.
    pub fn directory(&self) -> Arc<dyn DirectoryAdmin> {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.clone(),
        }
    }

    /// The administration commands' directory changes and audit search.
    pub fn admin(&self) -> Arc<dyn AdminStorage> {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.clone(),
            OpenStorage::Postgres(pg) => pg.clone(),
        }
    }

    /// The pool's (and SQLite's sign-in writer's) figures now.
    pub fn figures(&self) -> StorageFigures {
        match self {
            OpenStorage::Sqlite { storage, .. } => storage.figures(),
        }
    }

    /// Commits what is queued and closes the pools.
    pub async fn close(&self) {
        match self {
            OpenStorage::Sqlite { storage, web } => {
                web.close().await;
                storage.close().await;
            }
        }
    }
}
