//! The plans of the sign-in, registration and token statements: each reads its rows by
//! their key. The tables are seeded with 20,000 users, devices, keys and tokens and
//! analysed (on empty tables every index costs the same, and the planner may pick one
//! whose leading column the statement does not give); the plan is the generic one with
//! sequential scans priced out, as in `admin_lists::plans`: a sequential scan left in it
//! means no index can serve.

#![allow(clippy::expect_used)]

use latchkey_pg_harness::PgCluster;

use super::keys::{KEY_ON_DEVICE_SQL, LOCK_DEVICE_SQL};
use super::signin::{COMPLETE_SQL, PRT_SQL, SIGNIN_SQL};
use crate::admin_lists::plans::plan;
use crate::resources::{ISSUE_ANSWER, ISSUE_FOR_AUDIENCE, TOKEN_LINE};
use crate::{PgOptions, PgStorage};

/// The audit line's parameter types after the tenant, nonce and expiry.
const LINE_TYPES: &str = "BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT";
const LINE_ARGS: &str = "1, 'e', 'a', 'd', 'k', 's', 'o', 'r'";

/// Whether `plan` reads `table` (with its alias, as the plan names it) by an index whose
/// condition holds `key`: a lookup, not a filtered walk.
fn reads_by(plan: &str, table: &str, key: &str) -> bool {
    let lines: Vec<&str> = plan.lines().collect();
    lines.windows(2).any(|w| match w {
        [scan, cond] => {
            (scan.contains("Index Scan using ") || scan.contains("Index Only Scan using "))
                && scan.contains(&format!(" on {table}  "))
                && cond.contains("Index Cond:")
                && cond.contains(key)
        }
        _ => false,
    })
}

/// Rows per table of [`seed`].
const ROWS: i64 = 20_000;

/// The tenant `t` with [`ROWS`] users, each with a device, a key and a token; analysed.
async fn seed(s: &PgStorage) {
    for sql in [
        "INSERT INTO tenants (id, name, ca_cert_pem, ca_key_pem, signing_key_pkcs8, \
         signing_kid, nonce_secret, created_at) VALUES ('t', 't', '', '', '', '', '', 0)",
        "INSERT INTO users (tenant_id, id, upn, display_name, password_hash, totp_secret, \
         disabled, created_at) SELECT 't', 'u' || i, 'u' || i || '@example.com', '', '', '', \
         FALSE, i FROM generate_series(1, $1) AS i",
        "INSERT INTO devices (tenant_id, id, display_name, os, join_type, owner_user_id, \
         joined_with_mfa, public_key_spki, cert_pem, cert_thumbprint, disabled, created_at) \
         SELECT 't', 'd' || i, '', '', 'cloud', 'u' || i, TRUE, '', '', '', FALSE, i \
         FROM generate_series(1, $1) AS i",
        "INSERT INTO key_credentials (tenant_id, key_id, user_id, device_id, alg, public_key, \
         usage, attestation, created_at) SELECT 't', 'k' || i, 'u' || i, 'd' || i, 'RS256', '', \
         'ngc', 'software', i FROM generate_series(1, $1) AS i",
        "INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, issued_at, \
         expires_at, revoked) SELECT 't', 'h' || i, 'u' || i, 'd' || i, 'k' || i, i, i + 1, \
         FALSE FROM generate_series(1, $1) AS i",
    ] {
        let query = sqlx::query(sql);
        let query = if sql.contains("$1") {
            query.bind(ROWS)
        } else {
            query
        };
        query.execute(s.pool()).await.expect(sql);
    }
    sqlx::query("ANALYZE")
        .execute(s.pool())
        .await
        .expect("ANALYZE");
}

#[tokio::test]
async fn sign_in_registration_and_token_statements_read_by_index() {
    let url = PgCluster::fresh_database("hot_plans")
        .await
        .expect("a database");
    let s = PgStorage::connect(&PgOptions::new(url))
        .await
        .expect("connect");
    seed(&s).await;
    let issue = format!("{ISSUE_FOR_AUDIENCE}{TOKEN_LINE}{ISSUE_ANSWER}");
    let complete_types = format!(
        "TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT, BIGINT, BIGINT, BOOLEAN, {LINE_TYPES}"
    );
    let complete_args = format!("'t', 'n', 1, 'h', 'u', 'd', 'k', 1, 2, FALSE, {LINE_ARGS}");
    let issue_types = format!("TEXT, TEXT, BIGINT, {LINE_TYPES}, TEXT");
    let issue_args = format!("'t', 'n', 1, {LINE_ARGS}, 'api://x'");
    for (name, sql, types, args, lookups) in [
        (
            "sign-in: the user, device and key",
            SIGNIN_SQL,
            "TEXT, TEXT, TEXT, TEXT",
            "'t', 'u', 'd', 'k'",
            &[
                ("users u", "upn = $2"),
                ("devices d", "id = $3"),
                ("key_credentials k", "key_id = $4"),
            ][..],
        ),
        (
            "sign-in: the nonce, the guard, the token and its line",
            COMPLETE_SQL,
            complete_types.as_str(),
            complete_args.as_str(),
            &[
                ("key_credentials k", "key_id = $7"),
                ("devices d", "id = ($6)::text"),
                ("users u", "id = ($5)::text"),
            ][..],
        ),
        (
            "token use: the token with its user, device and key",
            PRT_SQL,
            "TEXT, TEXT",
            "'t', 'h'",
            &[
                ("prts p", "token_hash = $2"),
                ("users u", "id = p.user_id"),
                ("devices d", "id = p.device_id"),
                ("key_credentials k", "key_id = p.key_id"),
            ][..],
        ),
        (
            "registration: the device locked",
            LOCK_DEVICE_SQL,
            "TEXT, TEXT",
            "'t', 'd'",
            &[("devices", "id = $2")][..],
        ),
        (
            "registration: the user's key on the device",
            KEY_ON_DEVICE_SQL,
            "TEXT, TEXT, TEXT",
            "'t', 'u', 'd'",
            // By the user (one key per device: a few rows), then the device.
            &[("key_credentials", "user_id = $2")][..],
        ),
        (
            "token issue: the audience and the nonce",
            issue.as_str(),
            issue_types.as_str(),
            issue_args.as_str(),
            &[
                ("resources", "uri = $12"),
                ("oidc_clients", "client_id = $12"),
            ][..],
        ),
    ] {
        let p = plan(&s, sql, types, args).await;
        assert!(!p.contains("Seq Scan"), "{name}: a sequential scan:\n{p}");
        for (table, key) in lookups {
            assert!(
                reads_by(&p, table, key),
                "{name}: {table} not read by an index on {key}:\n{p}"
            );
        }
    }
}

/// The check above fails on a statement no index serves.
#[tokio::test]
async fn a_statement_without_an_index_is_told_apart() {
    let url = PgCluster::fresh_database("hot_plans")
        .await
        .expect("a database");
    let s = PgStorage::connect(&PgOptions::new(url))
        .await
        .expect("connect");
    let p = plan(&s, "SELECT 1 FROM prts WHERE user_id = $1", "TEXT", "'u'").await;
    assert!(p.contains("Seq Scan"), "{p}");
}
