//! Three replicas on one PostgreSQL database serve one tenant: a nonce minted by one is
//! accepted by another and single-use across all, a token from one is honoured by the
//! others, a key deleted or a device disabled through one is refused by all at the next
//! request, failed sign-ins spread over the replicas get one budget, and a replica
//! without the tenant's key file is refused at start.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::os::unix::fs::PermissionsExt;

use axum::Router;
use common::*;
use latchkey_server::secrets::key_file::KEY_FILE;
use latchkey_server::storage::postgres::PgOptions;
use latchkey_server::storage::Database;
use latchkey_server::tenant::CA_FILE;
use latchkey_server::{RunningServer, ServerConfig, StartError};
use serde_json::{json, Value};

/// The first replica (the harness) on a fresh PostgreSQL database.
async fn first() -> Harness {
    let url = latchkey_pg_harness::PgCluster::fresh_database("replicas")
        .await
        .unwrap();
    Harness::start_on(
        Database::Postgres(PgOptions::new(url)),
        Router::new(),
        |_| {},
    )
    .await
}

/// A data directory for another replica: its own directory holding copies of what every
/// replica of the tenant needs (the key file, and `ca.pem`); `with_key` false leaves the
/// key file out.
fn replica_dir(h: &Harness, name: &str, with_key: bool) -> std::path::PathBuf {
    let dir = h.dir.path().join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut files = vec![CA_FILE];
    if with_key {
        files.push(KEY_FILE);
    }
    for file in files {
        std::fs::copy(h.data_dir().join(file), dir.join(file)).unwrap();
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

async fn replica(h: &Harness, name: &str, with_key: bool) -> Result<RunningServer, StartError> {
    let mut config = ServerConfig::new(
        replica_dir(h, name, with_key),
        "127.0.0.1:0".parse().unwrap(),
    );
    config.database = h.database.clone();
    latchkey_server::start_with(config, env(&h.clock), Router::new()).await
}

/// POSTs `body` to `path` of the replica at `base`.
async fn post_at(h: &Harness, base: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = h
        .client
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_serve_one_tenant() {
    let h = first().await;
    let b = replica(&h, "b", true).await.unwrap();
    let c = replica(&h, "c", true).await.unwrap();
    assert_eq!((&b.tenant_id, &c.tenant_id), (&h.tenant_id, &h.tenant_id));
    assert_eq!(b.ca_fingerprint, c.ca_fingerprint, "one tenant CA");
    let (a_url, b_url, c_url) = (h.url.clone(), b.base_url.clone(), c.base_url.clone());

    let secret = h.add_user("alice@example.com").await;
    let token = h.mfa_token("alice@example.com", &secret).await;
    let device = h.join(&token, "cloud").await;
    let key = rsa_key(0);
    assert_eq!(
        h.register(&device, "alice@example.com", &key, Some(&token))
            .await
            .0,
        200
    );
    h.add_resource("api://payroll").await;

    // The nonce from A, the sign-in at B; the nonce is spent at every replica.
    let body = h
        .signin_body(&device, "alice@example.com", &key.key_id(), &key)
        .await;
    let (status, signed) = post_at(&h, &b_url, "/v1/signin", &body).await;
    assert_eq!(status, 200, "{signed}");
    for base in [&a_url, &b_url, &c_url] {
        let replay = post_at(&h, base, "/v1/signin", &body).await;
        assert_error(&replay, "LK-NONCE-003");
    }
    // The token from B is honoured at C (its proof over a nonce from A).
    let prt = signed["prt"].as_str().unwrap().to_owned();
    let token_body = h.token_body(&device, &prt, "api://payroll").await;
    let (status, access) = post_at(&h, &c_url, "/v1/token", &token_body).await;
    assert_eq!(status, 200, "{access}");
    assert!(access["access_token"].is_string(), "{access}");

    // The key deleted through the administration (any replica's database): refused by
    // every replica at the next request.
    h.admin.delete_key(&key.key_id()).await.unwrap();
    for base in [&a_url, &b_url, &c_url] {
        let body = h
            .signin_body(&device, "alice@example.com", &key.key_id(), &key)
            .await;
        assert_error(&post_at(&h, base, "/v1/signin", &body).await, "LK-KEY-001");
        let token_body = h.token_body(&device, &prt, "api://payroll").await;
        assert_error(
            &post_at(&h, base, "/v1/token", &token_body).await,
            "LK-KEY-001",
        );
    }

    // A device disabled: refused by all.
    let token = h.mfa_token("alice@example.com", &secret).await;
    let second = h.join(&token, "cloud").await;
    let key2 = rsa_key(1);
    assert_eq!(
        h.register(&second, "alice@example.com", &key2, Some(&token))
            .await
            .0,
        200
    );
    h.admin.disable_device(&second.id).await.unwrap();
    for base in [&a_url, &b_url, &c_url] {
        let body = h
            .signin_body(&second, "alice@example.com", &key2.key_id(), &key2)
            .await;
        assert_error(&post_at(&h, base, "/v1/signin", &body).await, "LK-DEV-002");
    }
    b.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_over_three_replicas_get_one_budget() {
    let h = first().await;
    let b = replica(&h, "b", true).await.unwrap();
    let c = replica(&h, "c", true).await.unwrap();
    h.add_user("bob@example.com").await;
    let wrong = json!({"upn": "bob@example.com", "password": "not the password"});
    let bases = [h.url.clone(), b.base_url.clone(), c.base_url.clone()];
    let mut codes = vec![];
    for i in 0..15 {
        let (_, answer) = post_at(&h, &bases[i % 3], "/v1/auth/password", &wrong).await;
        codes.push(answer["code"].as_str().unwrap_or("none").to_owned());
    }
    let wrong_password = codes.iter().filter(|c| *c == "LK-AUTH-001").count();
    let limited = codes.iter().filter(|c| *c == "LK-AUTH-003").count();
    assert_eq!(
        (wrong_password, limited),
        (
            latchkey_server::ratelimit::PER_PAIR,
            15 - latchkey_server::ratelimit::PER_PAIR
        ),
        "one replica's budget over three: {codes:?}"
    );
    // The right password is refused too while the budget is spent, at every replica.
    let right = json!({"upn": "bob@example.com", "password": PASSWORD});
    for base in &bases {
        assert_error(
            &post_at(&h, base, "/v1/auth/password", &right).await,
            "LK-AUTH-003",
        );
    }
    b.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_the_tenants_key_file_is_refused() {
    let h = first().await;
    let Err(StartError::Setup(err)) = replica(&h, "keyless", false).await else {
        panic!("a replica without the key file started");
    };
    let shown = err.to_string();
    assert_eq!(err.code().as_str(), "LK-SRV-003", "{shown}");
    assert!(shown.contains("there is no key file"), "{shown}");
}
