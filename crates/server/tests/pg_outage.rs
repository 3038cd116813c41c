//! PostgreSQL stopped and started again under load: meanwhile every request that needs
//! the database is answered 503 with LK-SRV-006 and Retry-After (never a 500, never a
//! panic), the service recovers by itself when the database is back, and every sign-in
//! that was acknowledged is there afterwards (its token works).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use common::*;
use latchkey_pg_harness::PgCluster;
use latchkey_server::storage::postgres::PgOptions;
use latchkey_server::storage::Database;
use serde_json::Value;
use tokio::sync::mpsc;

/// One sign-in of the load: its status, its code, whether it said when to retry, and
/// the token it got.
#[derive(Debug)]
struct Answer {
    status: u16,
    code: Option<String>,
    retry_after: bool,
    prt: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_the_service_recovers() {
    // A cluster of this test's own: it is stopped in the middle.
    let cluster = PgCluster::start().await.unwrap();
    let mut options = PgOptions::new(cluster.url());
    options.acquire_timeout = Duration::from_millis(500);
    let h = Arc::new(Harness::start_on(Database::Postgres(options), Router::new(), |_| {}).await);
    let secret = h.add_user("olga@example.com").await;
    let token = h.mfa_token("olga@example.com", &secret).await;
    let device = h.join(&token, "cloud").await;
    let key = rsa_key(0);
    assert_eq!(
        h.register(&device, "olga@example.com", &key, Some(&token))
            .await
            .0,
        200
    );
    h.add_resource("api://payroll").await;

    // The load: sign-ins one after another until told to stop.
    let (answers, mut seen) = mpsc::unbounded_channel();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let load = {
        let (h, device, key) = (h.clone(), device.clone_with_id(&device.id), key.clone());
        tokio::spawn(async move {
            while !*stopped.borrow_and_update() {
                let nonce = h.nonce(latchkey_proto::proof::Purpose::SignIn).await;
                let body =
                    h.signin_body_with(&device, "olga@example.com", &key.key_id(), &key, &nonce);
                let resp = h
                    .client
                    .post(format!("{}/v1/signin", h.url))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let retry_after = resp.headers().contains_key("retry-after");
                let value: Value = resp.json().await.unwrap_or(Value::Null);
                let answer = Answer {
                    status,
                    code: value["code"].as_str().map(str::to_owned),
                    retry_after,
                    prt: value["prt"].as_str().map(str::to_owned),
                };
                if answers.send(answer).is_err() {
                    return;
                }
            }
        })
    };
    let mut all = vec![];
    // Some sign-ins while the database is up.
    while all.len() < 5 {
        all.push(seen.recv().await.unwrap());
    }
    tokio::task::block_in_place(|| cluster.stop()).unwrap();
    // Until the service is seen answering 503 for the lost database.
    loop {
        let answer = seen.recv().await.unwrap();
        let down = answer.status == 503;
        all.push(answer);
        if down {
            break;
        }
    }
    let (status, _) = h.get("/readyz").await;
    assert_eq!(status, 503, "not ready without its database");
    assert_eq!(h.get("/healthz").await.0, 200, "still alive");
    cluster.start_again().await.unwrap();
    // Until sign-ins succeed again, with nothing restarted.
    loop {
        let answer = seen.recv().await.unwrap();
        let up = answer.status == 200;
        all.push(answer);
        if up {
            break;
        }
    }
    stop.send(true).unwrap();
    load.await.unwrap();
    while let Ok(answer) = seen.try_recv() {
        all.push(answer);
    }
    assert_eq!(h.get("/readyz").await.0, 200);

    for a in &all {
        match a.status {
            200 => assert!(a.prt.is_some(), "{a:?}"),
            503 => {
                assert_eq!(a.code.as_deref(), Some("LK-SRV-006"), "{a:?}");
                assert!(a.retry_after, "a 503 says when to retry: {a:?}");
            }
            _ => panic!("only 200 or 503 while the database comes and goes: {a:?}"),
        }
    }
    // Every acknowledged sign-in is stored: its token gets an access token.
    let acknowledged: Vec<&str> = all.iter().filter_map(|a| a.prt.as_deref()).collect();
    assert!(acknowledged.len() >= 6, "{} sign-ins", acknowledged.len());
    for prt in acknowledged {
        let (status, answer) = h.token(&device, prt, "api://payroll").await;
        assert_eq!(status, 200, "an acknowledged sign-in was lost: {answer}");
    }
}
