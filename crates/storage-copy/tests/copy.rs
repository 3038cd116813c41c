//! `sqlite_to_postgres` on a real SQLite data directory and a real PostgreSQL 15: every row
//! of every table arrives unchanged; a second copy, a missing source and a failure half-way
//! write nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use latchkey_pg_harness::PgCluster;
use latchkey_storage::{PolicyStorage, Storage};
use latchkey_storage_conformance::fixtures::{device, key, line, nonce, prt, tenant, user, TENANT};
use latchkey_storage_copy::{sqlite_to_postgres, CopyError, TABLES};
use latchkey_storage_postgres::PgOptions;
use latchkey_storage_sqlite::{SqliteStorage, DB_FILE};
use sqlx::{Column, Connection, PgConnection, Row, SqliteConnection, TypeInfo};

/// More users than one page of the copy, each with a device, a key and a token.
const USERS: usize = 1_200;

async fn populated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path()).await.unwrap();
    s.create_tenant(&tenant()).await.unwrap();
    for i in 0..USERS {
        let u = user(&format!("user{i:04}"));
        s.create_user(TENANT, &u, &line("user_create", "u"))
            .await
            .unwrap();
        let d = device(&format!("d{i:04}"), &u.id);
        s.join_device(TENANT, &nonce(&format!("j{i}")), &d, &line("join", "j"))
            .await
            .unwrap();
        let k = key(&format!("k{i:04}"), &u.id, &d.id);
        s.register_key(
            TENANT,
            &nonce(&format!("r{i}")),
            &k,
            false,
            &line("key", "k"),
            None,
        )
        .await
        .unwrap();
        let signed_in = s
            .complete_signin(
                TENANT,
                &nonce(&format!("s{i}")),
                &prt(&format!("h{i}"), &k, 4_000_000_000),
                &line("signin", "s"),
            )
            .await
            .unwrap();
        assert!(signed_in);
    }
    s.create_group(TENANT, "engineering", &line("group_create", "g"), 1_000)
        .await
        .unwrap();
    s.close().await;
    dir
}

/// Rows as sorted text lines, each cell through `cell` (`None` leaves the column out).
fn as_text<R: Row>(rows: &[R], cell: impl Fn(&R, usize) -> Option<String>) -> Vec<String> {
    let mut text: Vec<String> = rows
        .iter()
        .map(|r| {
            (0..r.columns().len())
                .filter_map(|i| cell(r, i))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    text.sort();
    text
}

/// Every row of every table as text, sorted: what a faithful copy must reproduce.
async fn sqlite_rows(dir: &std::path::Path) -> BTreeMap<&'static str, Vec<String>> {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", dir.join(DB_FILE).display()))
        .await
        .unwrap();
    let mut all = BTreeMap::new();
    for &table in TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut c)
            .await
            .unwrap();
        all.insert(table, as_text(&rows, |r, i| Some(sqlite_cell(r, i))));
    }
    all
}

fn sqlite_cell(r: &sqlx::sqlite::SqliteRow, i: usize) -> String {
    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = r.try_get::<Option<String>, _>(i) {
        return format!("{v:?}");
    }
    format!("{:?}", r.try_get::<Option<Vec<u8>>, _>(i).unwrap())
}

/// The same rows read from PostgreSQL, typed as SQLite shows them.
async fn postgres_rows(url: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut c = PgConnection::connect(url).await.unwrap();
    let mut all = BTreeMap::new();
    for &table in TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut c)
            .await
            .unwrap();
        all.insert(table, as_text(&rows, postgres_cell));
    }
    all
}

fn postgres_cell(r: &sqlx::postgres::PgRow, i: usize) -> Option<String> {
    let column = r.column(i);
    // The single-tenant marker exists only in PostgreSQL.
    if column.name() == "singleton" {
        return None;
    }
    Some(match column.type_info().name() {
        // SQLite keeps booleans as integers.
        "BOOL" => format!("{:?}", r.get::<Option<bool>, _>(i).map(i64::from)),
        "INT8" => format!("{:?}", r.get::<Option<i64>, _>(i)),
        "BYTEA" => format!("{:?}", r.get::<Option<Vec<u8>>, _>(i)),
        _ => format!("{:?}", r.get::<Option<String>, _>(i)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_arrives_unchanged_and_the_audit_sequence_goes_on() {
    let dir = populated().await;
    let url = PgCluster::fresh_database("copy").await.unwrap();
    let report = sqlite_to_postgres(dir.path(), &PgOptions::new(&url))
        .await
        .unwrap();
    assert_eq!(report.tenant_id, TENANT);
    let counts: BTreeMap<_, _> = report.tables.iter().copied().collect();
    assert_eq!(counts["users"], USERS as u64);
    assert_eq!(counts["prts"], USERS as u64);
    assert_eq!(counts["policy_groups"], 1);
    let expected = sqlite_rows(dir.path()).await;
    let copied = postgres_rows(&url).await;
    for &table in TABLES {
        assert_eq!(copied[table], expected[table], "table {table}");
    }
    // A line written after the copy follows the copied ones.
    let mut c = PgConnection::connect(&url).await.unwrap();
    let before: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit")
        .fetch_one(&mut c)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit (tenant_id, at, event, outcome) VALUES ($1, 1, 'after', 'success')",
    )
    .bind(TENANT)
    .execute(&mut c)
    .await
    .unwrap();
    let after: i64 = sqlx::query_scalar("SELECT seq FROM audit WHERE event = 'after'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(after > before, "{after} after {before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_is_refused_and_changes_nothing() {
    let dir = populated().await;
    let url = PgCluster::fresh_database("copy").await.unwrap();
    sqlite_to_postgres(dir.path(), &PgOptions::new(&url))
        .await
        .unwrap();
    let first = postgres_rows(&url).await;
    let again = sqlite_to_postgres(dir.path(), &PgOptions::new(&url)).await;
    assert!(
        matches!(&again, Err(CopyError::TargetNotEmpty(id)) if id == TENANT),
        "{again:?}"
    );
    assert!(again.unwrap_err().to_string().starts_with("LK-COPY-002"));
    assert_eq!(postgres_rows(&url).await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_half_way_leaves_the_target_empty() {
    let dir = populated().await;
    let url = PgCluster::fresh_database("copy").await.unwrap();
    // Migrate, then make PostgreSQL refuse one row of a table copied late.
    latchkey_storage_postgres::PgStorage::connect(&PgOptions::new(&url))
        .await
        .unwrap()
        .close()
        .await;
    let mut c = PgConnection::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE policy_groups ADD CONSTRAINT refuse CHECK (name <> 'engineering')")
        .execute(&mut c)
        .await
        .unwrap();
    let failed = sqlite_to_postgres(dir.path(), &PgOptions::new(&url)).await;
    assert!(matches!(failed, Err(CopyError::Target(_))), "{failed:?}");
    for table in [
        "tenants",
        "users",
        "devices",
        "key_credentials",
        "prts",
        "audit",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} holds rows after a failed copy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_without_a_database_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let url = PgCluster::fresh_database("copy").await.unwrap();
    let refused = sqlite_to_postgres(dir.path(), &PgOptions::new(&url)).await;
    assert!(
        matches!(refused, Err(CopyError::NoSource { .. })),
        "{refused:?}"
    );
    assert!(!dir.path().join(DB_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_a_tenant_is_refused_by_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    SqliteStorage::open(dir.path()).await.unwrap().close().await;
    let url = PgCluster::fresh_database("copy").await.unwrap();
    let refused = sqlite_to_postgres(dir.path(), &PgOptions::new(&url)).await;
    match refused {
        Err(CopyError::NoSource { path, what }) => {
            assert_eq!(path, dir.path());
            assert_eq!(what, "the database holds no tenant");
        }
        other => panic!("{other:?}"),
    }
    let mut c = PgConnection::connect(&url).await.unwrap();
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(tenants, 0);
}
