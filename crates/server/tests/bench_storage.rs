//! Where the time of a sign-in goes on the storage side (run with `--ignored --release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use latchkey_server::storage::{ConsumedNonce, Prt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing, not a test: cargo test --release -p latchkey-server --test bench_storage -- --ignored --nocapture"]
async fn signin_storage_cost() {
    let h = Harness::start().await;
    let user = enrolled(&h, "alice@example.com", p256_key()).await;
    let storage = h.server.as_ref().unwrap().storage();
    let tid = h.tenant_id.clone();
    let ctx = storage
        .signin_context(&tid, &user.upn, &user.device.id, &user.key.key_id())
        .await
        .unwrap();
    let u = ctx.user.unwrap();
    let n = 3000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        storage
            .signin_context(&tid, &user.upn, &user.device.id, &user.key.key_id())
            .await
            .unwrap();
    }
    println!("signin_context: {:?} each", t.elapsed() / n);
    let t = std::time::Instant::now();
    for i in 0..n {
        let nonce = ConsumedNonce {
            id: format!("n{i}"),
            expires_at: i64::MAX,
        };
        let prt = Prt {
            token_hash: format!("h{i}"),
            user_id: u.id.clone(),
            device_id: user.device.id.clone(),
            key_id: user.key.key_id(),
            issued_at: 0,
            expires_at: 1,
            revoked: false,
        };
        let line = latchkey_server::audit::line("signin", 0);
        assert!(storage
            .complete_signin(&tid, &nonce, &prt, &line)
            .await
            .unwrap());
    }
    println!("complete_signin: {:?} each", t.elapsed() / n);
}
