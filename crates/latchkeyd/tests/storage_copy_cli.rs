//! `latchkeyd storage copy` with the real binary: a data directory made by `init` and the
//! admin commands is copied into a throwaway PostgreSQL 15; a second copy, a bad source and
//! a bad target are refused with their codes and write nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::path::Path;

use common::{ok, run};
use latchkey_pg_harness::PgCluster;
use sqlx::{Connection, PgConnection};

fn refused(data: &Path, args: &[&str]) -> String {
    let (code, _, err) = run(data, args);
    assert_eq!(code, 1, "{args:?} should fail: {err}");
    err
}

async fn count(url: &str, table: &str) -> i64 {
    let mut c = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_is_copied_once_and_refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::init(&data);
    for upn in ["alice@example.com", "bob@example.com"] {
        let (code, _, err) = common::run_with_input(
            &data,
            &["user", "add", upn, "--password-stdin"],
            "pa55word-for-tests\n",
        );
        assert_eq!(code, 0, "{err}");
    }
    ok(&data, &["group", "add", "finance"]);
    let url = PgCluster::fresh_database("cli_copy").await.unwrap();
    let from = format!("sqlite:{}", data.display());

    let out = ok(
        &data,
        &["storage", "copy", "--from", &from, "--to", &url, "--json"],
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["tables"]["users"], 2, "{out}");
    assert_eq!(report["tables"]["policy_groups"], 1, "{out}");
    assert_eq!(count(&url, "users").await, 2);
    assert!(!out.contains(&url), "the URL is not printed");

    // Again: the target holds the tenant, so nothing is written.
    let audit_before = count(&url, "audit").await;
    let err = refused(&data, &["storage", "copy", "--from", &from, "--to", &url]);
    assert!(
        err.starts_with("error: LK-ADM-008:") && err.contains("LK-COPY-002"),
        "{err}"
    );
    assert_eq!(count(&url, "audit").await, audit_before);

    let empty = PgCluster::fresh_database("cli_copy").await.unwrap();
    let nowhere = dir.path().join("nowhere");
    let err = refused(
        &data,
        &[
            "storage",
            "copy",
            "--from",
            &format!("sqlite:{}", nowhere.display()),
            "--to",
            &empty,
        ],
    );
    assert!(err.contains("LK-COPY-001"), "{err}");
    assert!(!nowhere.exists(), "a missing source is not created");

    let err = refused(
        &data,
        &[
            "storage",
            "copy",
            "--from",
            &data.display().to_string(),
            "--to",
            &empty,
        ],
    );
    assert!(err.starts_with("error: LK-REQ-003:"), "{err}");
    let err = refused(
        &data,
        &["storage", "copy", "--from", &from, "--to", "mysql://x/y"],
    );
    assert!(err.starts_with("error: LK-REQ-003:"), "{err}");
}
