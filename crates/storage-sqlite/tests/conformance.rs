//! The storage conformance suite (latchkey-storage-conformance) on SQLite: one `#[test]` per
//! property, each on a fresh database in its own temporary directory. The peer handle is a
//! second `SqliteStorage` opened on the same file, with its own pool, sign-in writer and
//! in-process write gate: what a second process (an admin command) has.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use latchkey_storage_conformance::{suite, Backend, Handle};
use latchkey_storage_sqlite::SqliteStorage;

async fn handle(dir: &std::path::Path) -> Handle {
    let storage = Arc::new(SqliteStorage::open(dir).await.expect("opening SQLite"));
    let web = storage.web_storage();
    Handle {
        storage: storage.clone(),
        web: Arc::new(web),
        directory: storage.clone(),
        admin: storage,
    }
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let main = handle(dir.path()).await;
    let peer = handle(dir.path()).await;
    Backend {
        main,
        peer,
        keep: Box::new(dir),
    }
}

suite!(sqlite);
