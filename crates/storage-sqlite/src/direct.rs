//! Direct (synchronous) SQLite connections for the sign-in hot path.
//!
//! sqlx runs every SQLite connection on a worker thread of its own, so each query is a
//! hand-off to that thread and back: two thread wake-ups, which the sign-in profile showed as
//! the largest share of the service's CPU after the cryptography. The hot path's reads take a
//! connection from [`Readers`] and run on the calling thread (a point read costs a few
//! microseconds, less than the hand-off), and its writes go to one writer thread
//! ([`super::signin_batch`]) that commits them in batches.
//!
//! Readers do not map the database file into memory. Under a steady stream of sign-ins a
//! reader's map was dropped and rebuilt about once every six sign-ins (the file grows with
//! every checkpoint, and SQLite remaps after changes it did not make): an `munmap` that
//! clears page tables and interrupts the other threads' cores to flush their TLBs, then
//! the page faults of the fresh map. Reading the dozen pages of a sign-in with `pread`
//! costs no more. The writer, which reads only the pages it changes, keeps its map.
//!
//! These connections open the same file with the same settings as the sqlx pool, after the
//! pool has applied the migrations. Readers are `query_only`: they cannot write by mistake.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use latchkey_storage::{StorageError, StorageResult};

/// Connections kept open for reuse; more may exist briefly under a burst.
const MAX_IDLE_READERS: usize = 8;

/// How long a statement waits for a lock held by another connection or process (the same
/// as the sqlx pool's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A rusqlite failure as a storage error (the direct connections' counterpart of
/// `StorageError::Database`).
pub(crate) fn sqlite_error(err: rusqlite::Error) -> StorageError {
    StorageError::Sqlite(err.to_string())
}

/// Opens a connection to `path` with the service's settings (WAL is a property of the file,
/// set by the pool; foreign keys, synchronous and the memory map are per connection). A
/// `query_only` reader gets no memory map (see the module's documentation).
pub(super) fn open(path: &Path, query_only: bool) -> StorageResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .map_err(sqlite_error)?;
    conn.pragma_update(None, "synchronous", super::SYNCHRONOUS)
        .map_err(sqlite_error)?;
    if !query_only {
        conn.execute_batch("PRAGMA mmap_size = 268435456;")
            .map_err(sqlite_error)?;
    }
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        super::checkpoint::AUTOCHECKPOINT_PAGES,
    )
    .map_err(sqlite_error)?;
    if query_only {
        conn.pragma_update(None, "query_only", true)
            .map_err(sqlite_error)?;
    }
    Ok(conn)
}

/// A small pool of read-only connections used on the caller's thread.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Readers {
    /// Readers of the database at `path` (connections open on first use).
    pub(super) fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection, or a new one when none is idle.
    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let idle = self.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open(&self.path, true)?,
        };
        let result = read(&conn);
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while the list was held cannot leave it inconsistent (push and pop only).
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_cannot_write_and_connections_are_reused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.db");
        let setup = open_new(&path)?;
        setup.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")?;
        let readers = Readers::new(path);
        let refused = readers.with(|c| {
            c.execute("INSERT INTO t VALUES (1)", [])
                .map_err(sqlite_error)
        });
        assert!(
            matches!(&refused, Err(StorageError::Sqlite(m)) if m.contains("readonly")),
            "{refused:?}"
        );
        let n: i64 = readers.with(|c| {
            c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .map_err(sqlite_error)
        })?;
        assert_eq!(n, 0);
        assert_eq!(
            readers.lock().len(),
            1,
            "the connection went back to the pool"
        );
        Ok(())
    }

    #[test]
    fn every_direct_connection_syncs_each_commit() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.db");
        open_new(&path)?.execute_batch("PRAGMA journal_mode = WAL;")?;
        for query_only in [false, true] {
            let conn = open(&path, query_only)?;
            let level: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            assert_eq!(level, 2, "synchronous = FULL (query_only: {query_only})");
        }
        Ok(())
    }

    fn open_new(path: &Path) -> rusqlite::Result<Connection> {
        Connection::open(path)
    }
}
