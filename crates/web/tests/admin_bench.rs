//! The Users, Devices and Windows Hello keys pages with 100,000 users (docs/PERFORMANCE.md,
//! "Web administration"): seeds the users, a device, a Hello key and a primary refresh token
//! for each straight into the database, then times the first page, a search and a page deep
//! in each list over real HTTPS, as an administrator's browser would ask for them. Ignored by default (it is a measurement, not a check):
//!
//! `cargo test --release -p latchkey-web --test admin_bench -- --ignored --nocapture`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::{Duration, Instant};

use common::web::Browser;
use common::{Harness, WebHarness};

const USERS: i64 = 100_000;
const ROUNDS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn admin_pages_with_100000_users() {
    let h = Harness::web().await;
    let admin = "root@example.com";
    let secret = h.add_user(admin).await;
    h.admin.group_add("latchkey-admins").await.unwrap();
    h.admin
        .group_member("latchkey-admins", Some(admin), None, true)
        .await
        .unwrap();
    let path = h.data_dir().join("latchkey.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let seeded = Instant::now();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO users (tenant_id, id, upn, display_name, password_hash, totp_secret, \
         last_totp_step, disabled, created_at) \
         SELECT $1, 'bench-' || i, printf('user%06d@example.com', i), 'User ' || i, 'x', x'00', \
         NULL, FALSE, 0 FROM n",
    )
    .bind(&h.tenant_id)
    .bind(USERS)
    .execute(&pool)
    .await
    .unwrap();
    // A device, a Hello key and a token per user.
    for insert in [
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO devices (tenant_id, id, display_name, os, join_type, owner_user_id, \
         joined_with_mfa, public_key_spki, cert_pem, cert_thumbprint, disabled, created_at) \
         SELECT $1, printf('dev-%06d', i), 'PC-' || i, 'Windows', 'cloud', 'bench-' || i, TRUE, \
         x'00', '', 'thumb', FALSE, 0 FROM n",
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO key_credentials (tenant_id, key_id, user_id, device_id, alg, public_key, \
         usage, attestation, created_at) \
         SELECT $1, printf('key-%06d', i), 'bench-' || i, printf('dev-%06d', i), 'RS256', \
         x'00', 'NGC', 'software', 0 FROM n",
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, issued_at, \
         expires_at, revoked) \
         SELECT $1, printf('prt-%06d', i), 'bench-' || i, printf('dev-%06d', i), \
         printf('key-%06d', i), 1000 + i, 4000000000, FALSE FROM n",
    ] {
        sqlx::query(insert)
            .bind(&h.tenant_id)
            .bind(USERS)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    println!(
        "seeded {USERS} users, devices, keys and tokens in {:?}",
        seeded.elapsed()
    );
    assert_eq!(h.counts().await.users, USERS + 1);

    let b = Browser::new(&h, "127.0.0.1").await;
    let s = b.sign_in(&h, admin, &secret).await;
    for (what, url, expect) in [
        ("first page", "/admin/users", "user000048@example.com"),
        (
            "prefix search",
            "/admin/users?q=user0777",
            "user077700@example.com",
        ),
        (
            "page after user090000",
            "/admin/users?q=&after=user090000%40example.com",
            "user090050@example.com",
        ),
        ("devices: first page", "/admin/devices", "dev-000049"),
        (
            "devices: page after dev-090000",
            "/admin/devices?owner=&after=dev-090000",
            "dev-090050",
        ),
        (
            "devices: one owner",
            "/admin/devices?owner=user077700%40example.com",
            "dev-077700",
        ),
        ("keys: first page", "/admin/keys", "key-000049"),
        (
            "keys: page after key-090000",
            "/admin/keys?owner=&after=key-090000",
            "key-090050",
        ),
        (
            "keys: one owner",
            "/admin/keys?owner=user077700%40example.com",
            "key-077700",
        ),
    ] {
        let mut times: Vec<Duration> = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let (status, page) = b.get(&h, &s.cookie, url).await;
            times.push(start.elapsed());
            assert_eq!(status, 200);
            assert!(page.contains(expect), "{what}");
        }
        times.sort();
        println!(
            "{what}: median {:?}, p95 {:?}, max {:?} over {ROUNDS} requests",
            times[ROUNDS / 2],
            times[ROUNDS * 95 / 100],
            times[ROUNDS - 1]
        );
    }
}
