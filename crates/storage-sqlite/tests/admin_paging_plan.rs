//! The web administration's paged lists are answered from indexes: SQLite's query plan for
//! each page query walks a key or an index from the first row of the page (no scan of the
//! devices or keys, no sort of them). The one pass a device page makes over the tenant's
//! tokens for the last-activity column is the known cost (`LAST_ACTIVITY_JOIN`): it is
//! checked to be a single grouped pass, not one per device.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use latchkey_storage_sqlite::directory::{
    DEVICES_PAGE_SQL, KEYS_PAGE_SQL, OWNER_DEVICES_PAGE_SQL, OWNER_KEYS_PAGE_SQL,
};
use latchkey_storage_sqlite::{SqliteStorage, DB_FILE};

async fn plan(pool: &sqlx::SqlitePool, sql: &str, owner: Option<&str>) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .bind("tenant")
        .bind("after-id")
        .bind(owner)
        .bind(50_i64)
        .fetch_all(pool)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.3).collect()
}

#[tokio::test]
async fn device_and_key_pages_walk_indexes_without_a_scan_or_a_sort() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path()).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        dir.path().join(DB_FILE).display()
    ))
    .await
    .unwrap();
    let cases = [
        (
            DEVICES_PAGE_SQL,
            None,
            "SEARCH d USING INDEX sqlite_autoindex_devices_1 (tenant_id=? AND id>?)",
        ),
        (
            OWNER_DEVICES_PAGE_SQL,
            Some("alice@example.com"),
            "SEARCH d USING INDEX devices_by_owner (tenant_id=? AND owner_user_id=? AND id>?)",
        ),
        (
            KEYS_PAGE_SQL,
            None,
            "SEARCH k USING INDEX sqlite_autoindex_key_credentials_1 (tenant_id=? AND key_id>?)",
        ),
        (
            OWNER_KEYS_PAGE_SQL,
            Some("alice@example.com"),
            "SEARCH k USING INDEX sqlite_autoindex_key_credentials_2 (tenant_id=? AND user_id=?)",
        ),
    ];
    for (sql, owner, walk) in cases {
        let details = plan(&pool, sql, owner).await;
        assert!(
            details.iter().any(|d| d == walk),
            "expected `{walk}` in {details:#?}"
        );
        assert!(
            !details
                .iter()
                .any(|d| d.starts_with("SCAN d") || d.starts_with("SCAN k")),
            "a scan of the table: {details:#?}"
        );
        // The tenant's rows are never sorted; one owner's few keys are.
        if sql != OWNER_KEYS_PAGE_SQL {
            assert!(
                !details
                    .iter()
                    .any(|d| d.contains("TEMP B-TREE FOR ORDER BY")),
                "a sort of the listed rows: {details:#?}"
            );
        }
        assert!(
            !details.iter().any(|d| d.contains("CORRELATED")),
            "a subquery per row: {details:#?}"
        );
    }
    drop(storage);
}
