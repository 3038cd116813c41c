//! Connecting and migrating on a real PostgreSQL 15: replicas that start at once on an
//! empty database all come up on one schema; a start on a migrated database changes
//! nothing; a database that does not answer is reported as unavailable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use latchkey_pg_harness::PgCluster;
use latchkey_storage_postgres::{PgOptions, PgStorage};

async fn tables(storage: &PgStorage) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(storage.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_at_once_migrate_the_database_once() {
    let url = PgCluster::fresh_database("migrate").await.unwrap();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let options = PgOptions::new(&url);
            tokio::spawn(async move { PgStorage::connect(&options).await })
        })
        .collect();
    let mut started = Vec::new();
    for start in starts {
        started.push(start.await.unwrap().expect("every replica starts"));
    }
    let first = &started[0];
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(first.pool())
            .await
            .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    let expected: Vec<(i64, bool)> = (1..=i64::try_from(files).unwrap())
        .map(|v| (v, true))
        .collect();
    assert_eq!(applied, expected, "each migration applied once");
    let schema = tables(first).await;
    for table in [
        "tenants",
        "users",
        "devices",
        "key_credentials",
        "prts",
        "audit",
    ] {
        assert!(schema.iter().any(|t| t == table), "{table} in {schema:?}");
    }
    // A later start finds the schema as it is.
    let again = PgStorage::connect(&PgOptions::new(&url)).await.unwrap();
    assert_eq!(tables(&again).await, schema);
    for s in started {
        s.close().await;
    }
    again.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_size_is_the_configured_one() {
    let url = PgCluster::fresh_database("migrate").await.unwrap();
    let mut options = PgOptions::new(&url);
    options.max_connections = 3;
    let storage = PgStorage::connect(&options).await.unwrap();
    assert_eq!(storage.figures().pool_max, 3);
    assert_eq!(storage.figures().writer_queued, 0);
    storage.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_does_not_answer_is_unavailable_not_a_panic() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = PgOptions::new(format!("postgres://postgres@127.0.0.1:{port}/latchkey"));
    options.acquire_timeout = Duration::from_secs(2);
    let err = PgStorage::connect(&options).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    // A URL that is not one is an error too, but not an outage.
    let err = PgStorage::connect(&PgOptions::new("postgres://[not-a-host"))
        .await
        .unwrap_err();
    assert!(!err.is_unavailable(), "{err}");
}
