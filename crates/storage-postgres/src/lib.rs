//! The PostgreSQL storage backend: the connection pool and the schema that every
//! `latchkeyd` replica of a tenant shares, so that the tenant's keys, nonces, tokens and
//! limits are the same at every replica.
//!
//! This is the backend's first part: connecting (URL with TLS parameters, pool size) and
//! the schema with its migrations, which `latchkeyd storage copy` fills from a SQLite data
//! directory. The storage traits' implementation (with the isolation contract's locking,
//! [`latchkey_storage::contract`]) follows; until then the service cannot run on it.
#![forbid(unsafe_code)]

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use latchkey_storage::{StorageFigures, StorageResult};

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
