//! The sign-in writer commits concurrent sign-ins together; every sign-in still gets its
//! own answer: a replayed nonce is refused, a token whose key does not match is not stored,
//! and only stored tokens are audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use latchkey_server::storage::{ConsumedNonce, Prt, StorageError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_signins_are_written_together_and_answered_one_by_one() {
    let h = Harness::start().await;
    let user = enrolled(&h, "alice@example.com", p256_key()).await;
    let storage = h.server.as_ref().unwrap().storage();
    let tid = h.tenant_id.clone();
    let ctx = storage
        .signin_context(&tid, &user.upn, &user.device.id, &user.key.key_id())
        .await
        .unwrap();
    let user_id = ctx.user.unwrap().id;
    let before = h.counts().await;

    // 60 distinct sign-ins, 10 of them for a key this device does not have, and 10 more
    // that reuse nonces of the first ten: 200 writes in flight at once, over several rounds.
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..4 {
        for i in 0..50 {
            let storage = storage.clone();
            let tid = tid.clone();
            let user_id = user_id.clone();
            let device_id = user.device.id.clone();
            let good_key = user.key.key_id();
            tasks.spawn(async move {
                let nonce_no = if i >= 40 { i - 40 } else { i };
                let nonce = ConsumedNonce {
                    id: format!("r{round}-n{nonce_no}"),
                    expires_at: i64::MAX,
                };
                let wrong_key = (30..40).contains(&i);
                let prt = Prt {
                    token_hash: format!("r{round}-h{i}"),
                    user_id,
                    device_id,
                    key_id: if wrong_key { "00".repeat(32) } else { good_key },
                    issued_at: 0,
                    expires_at: 1,
                    revoked: false,
                };
                let line = latchkey_server::audit::line("signin", 0);
                let result = storage.complete_signin(&tid, &nonce, &prt, &line).await;
                (i, result)
            });
        }
    }
    let mut stored = 0;
    let mut refused_guard = 0;
    let mut replayed = 0;
    let mut first_of_pair = 0;
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done.unwrap();
        match result {
            Ok(true) => {
                assert!(!(30..40).contains(&i), "a wrong key was stored ({i})");
                stored += 1;
                if !(10..40).contains(&i) {
                    first_of_pair += 1;
                }
            }
            Ok(false) => {
                assert!((30..40).contains(&i), "sign-in {i} refused by the guard");
                refused_guard += 1;
            }
            Err(StorageError::NonceReplayed) => {
                assert!(!(10..40).contains(&i), "only shared nonces replay ({i})");
                replayed += 1;
            }
            Err(other) => panic!("sign-in {i}: {other}"),
        }
    }
    // Per round: 20 unique-nonce sign-ins with the right key (10..30), 10 refused by the
    // guard, and of the 10 nonce pairs exactly one of each pair stored.
    assert_eq!(refused_guard, 4 * 10);
    assert_eq!(replayed, 4 * 10);
    assert_eq!(first_of_pair, 4 * 10);
    assert_eq!(stored, 4 * 30);
    let after = h.counts().await;
    assert_eq!(after.prts - before.prts, 4 * 30);
    assert_eq!(
        after.audit - before.audit,
        4 * 30,
        "only stored tokens are audited"
    );
    // Guard-refused sign-ins consumed their nonces (they must retry with a fresh one anyway).
    assert_eq!(after.used_nonces - before.used_nonces, 4 * 40);
}
