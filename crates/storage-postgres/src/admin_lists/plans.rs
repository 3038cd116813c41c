//! The page queries' plans: each walks an index from its keyset bound, checked with
//! `EXPLAIN` of the generic plan on an empty schema with sequential scans priced out, so
//! the plan shows whether an index range can serve the query for any bound, whatever the
//! table sizes. (The devices pages also read `prts` by tenant for the last activity, on
//! purpose: see `with_last_activity!`.)

#![allow(clippy::expect_used)]

use latchkey_pg_harness::PgCluster;

use super::*;
use crate::PgOptions;

/// The generic plan of `sql` (parameters of the SQL types `types`) run with the
/// literals `args`: the plan a prepared statement may settle on, which must serve any
/// bound (a condition that only a known value makes usable does not count).
pub(crate) async fn plan(s: &PgStorage, sql: &str, types: &str, args: &str) -> String {
    let mut conn = s.pool().acquire().await.expect("a connection");
    for set in [
        "SET enable_seqscan = off".to_owned(),
        "SET plan_cache_mode = force_generic_plan".to_owned(),
        format!("PREPARE page_plan ({types}) AS {sql}"),
    ] {
        sqlx::query(&set).execute(&mut *conn).await.expect(&set);
    }
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE page_plan ({args})"))
        .fetch_all(&mut *conn)
        .await
        .expect("EXPLAIN");
    sqlx::query("DEALLOCATE page_plan")
        .execute(&mut *conn)
        .await
        .expect("DEALLOCATE");
    rows.join("\n")
}

/// Whether `plan` reads `index` with a condition that holds `bound` (the keyset bound:
/// the walk starts there rather than filtering from the start).
fn walks(plan: &str, index: &str, bound: &str) -> bool {
    let lines: Vec<&str> = plan.lines().collect();
    lines.windows(2).any(|w| match w {
        [scan, cond] => {
            scan.contains(&format!(" using {index} on "))
                && cond.contains("Index Cond:")
                && cond.contains(bound)
        }
        _ => false,
    })
}

#[tokio::test]
async fn page_queries_walk_an_index_from_the_keyset_bound() {
    let url = PgCluster::fresh_database("plans")
        .await
        .expect("a database");
    let s = PgStorage::connect(&PgOptions::new(url))
        .await
        .expect("connect");
    for (name, sql, types, args, index, bound) in [
        (
            "devices",
            DEVICES_PAGE_SQL,
            "TEXT, TEXT, BIGINT",
            "'t', 'd', 50",
            "devices_pkey",
            "(id > $2)",
        ),
        (
            "one owner's devices",
            OWNER_DEVICES_PAGE_SQL,
            "TEXT, TEXT, TEXT, BIGINT",
            "'t', 'd', 'u', 50",
            "devices_by_owner",
            "(id > $2)",
        ),
        (
            "keys",
            KEYS_PAGE_SQL,
            "TEXT, TEXT, BIGINT",
            "'t', 'k', 50",
            "key_credentials_pkey",
            "(key_id > $2)",
        ),
        (
            "one owner's keys",
            OWNER_KEYS_PAGE_SQL,
            "TEXT, TEXT, TEXT, BIGINT",
            "'t', 'k', 'u', 50",
            "key_credentials_by_user",
            "(key_id > $2)",
        ),
        (
            "users by prefix",
            SEARCH_USERS_SQL,
            "TEXT, TEXT, TEXT, TEXT, BIGINT",
            "'t', 'a', 'b', 'c', 50",
            "users_tenant_id_upn_key",
            "(upn >= $2)",
        ),
    ] {
        let p = plan(&s, sql, types, args).await;
        assert!(
            walks(&p, index, bound),
            "{name}: not a walk of {index}:\n{p}"
        );
        assert!(!p.contains("Seq Scan"), "{name}: a sequential scan:\n{p}");
    }
}

/// The check above fails on a query that filters instead of walking from the bound.
#[tokio::test]
async fn a_filtered_walk_is_told_apart() {
    let url = PgCluster::fresh_database("plans")
        .await
        .expect("a database");
    let s = PgStorage::connect(&PgOptions::new(url))
        .await
        .expect("connect");
    let filtered = "SELECT id FROM devices WHERE tenant_id = $1 \
         AND ($2::TEXT IS NULL OR id > $2) ORDER BY id LIMIT $3";
    let p = plan(&s, filtered, "TEXT, TEXT, BIGINT", "'t', 'd', 50").await;
    assert!(!walks(&p, "devices_pkey", "(id > $2)"), "{p}");
}
