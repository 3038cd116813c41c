//! The PostgreSQL implementation of [`Storage`] (and of [`WebStorage`] and
//! [`DirectoryAdmin`] on the same pool): one database that every `latchkeyd` replica of a
//! tenant shares, so that the tenant's keys, nonces, tokens and limits are the same at
//! every replica.
//!
//! Transactions run at PostgreSQL's `READ COMMITTED` and meet the isolation contract
//! ([`latchkey_storage::contract`]) with the means it lists: unique constraints (nonces,
//! one key per user and device, every `Conflict`), conditional updates re-evaluated on
//! the newest row (the TOTP step, token renewal, single-use codes, the policy version),
//! and explicit row locks where a guard reads rows another transaction changes (the
//! sign-in guard reads the key, device and user `FOR SHARE`). A transaction that
//! PostgreSQL aborts as a deadlock or serialization failure is run again whole
//! ([`retry`]). Each module's header says which means its operations use.
#![forbid(unsafe_code)]

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use latchkey_storage::{StorageFigures, StorageResult};

#[macro_use]
pub mod retry;
mod admin;
mod admin_lists;
mod attempts;
mod cert;
mod directory;
mod pin_recovery;
mod policy;
mod resources;
mod tpm;
mod tx;
mod web;

/// How the service connects to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The `postgres://USER[:PASSWORD]@HOST:PORT/DB[?sslmode=...&sslrootcert=...]` URL.
    /// TLS is set by its parameters: `sslmode=require`, `verify-ca` or `verify-full`
    /// (with `sslrootcert=FILE` for a private CA).
    pub url: String,
    /// The most connections this process opens.
    pub max_connections: u32,
    /// How long a request waits for a free connection (and for a new connection to be
    /// made) before it fails as unavailable.
    pub acquire_timeout: Duration,
}

impl PgOptions {
    /// The default pool for `url`: 16 connections, 5 s to get one.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// The default pool size of one process.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// The default wait for a connection.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL storage: a connection pool. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct PgStorage {
    pool: PgPool,
}

impl PgStorage {
    /// Connects and applies the migrations. Several replicas may start at once: the
    /// migrator holds PostgreSQL's advisory lock while it migrates, so one applies each
    /// migration and the others wait and find it applied.
    pub async fn connect(options: &PgOptions) -> StorageResult<PgStorage> {
        let connect = PgConnectOptions::from_str(&options.url)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(PgStorage { pool })
    }

    /// The pool (for the backend's own tests and tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a `READ COMMITTED` transaction.
    async fn begin(&self) -> StorageResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// The pool's figures now (no sign-in writer: its figures are 0).
    pub fn figures(&self) -> StorageFigures {
        StorageFigures {
            pool_size: self.pool.size(),
            pool_idle: self.pool.num_idle(),
            pool_max: self.pool.options().get_max_connections(),
            writer_queued: 0,
            writer_batches: 0,
            writer_writes: 0,
        }
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
