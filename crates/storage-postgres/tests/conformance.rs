//! The storage conformance suite (latchkey-storage-conformance) on PostgreSQL: one
//! `#[test]` per property, each on a fresh database of one throwaway PostgreSQL 15 cluster
//! that the test binary starts once (`PgCluster::shared`). The peer handle is a second `PgStorage` with its own
//! pool on the same database: what a second replica has.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use latchkey_pg_harness::PgCluster;
use latchkey_storage_conformance::{suite, Backend, Handle};
use latchkey_storage_postgres::{PgOptions, PgStorage};

async fn handle(url: &str) -> Handle {
    let storage = Arc::new(
        PgStorage::connect(&PgOptions::new(url))
            .await
            .expect("connecting to PostgreSQL"),
    );
    Handle {
        storage: storage.clone(),
        web: storage.clone(),
        directory: storage.clone(),
        admin: storage,
    }
}

async fn postgres() -> Backend {
    let url = PgCluster::fresh_database("conf")
        .await
        .expect("a fresh database on the shared cluster");
    let main = handle(&url).await;
    let peer = handle(&url).await;
    Backend {
        main,
        peer,
        keep: Box::new(()),
    }
}

suite!(postgres);
