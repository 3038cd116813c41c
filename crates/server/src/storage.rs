//! The storage the service runs on: the traits and records of `latchkey-storage` and the
//! embedded backend of `latchkey-storage-sqlite`, under the paths the service's modules use
//! (`storage::Storage`, `storage::sqlite::SqliteStorage`, `storage::web_sqlite`).

pub use latchkey_storage::*;
pub use latchkey_storage_sqlite as sqlite;
pub use latchkey_storage_sqlite::web_sqlite;
