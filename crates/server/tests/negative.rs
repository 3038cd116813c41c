//! Refusals: each asserts the error code and that nothing was written but the failure's
//! audit line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use latchkey_proto::proof::Purpose;
use latchkey_server::storage::Counts;
use serde_json::json;

/// Asserts that only `audit_lines` audit lines were added since `before`.
async fn only_audited(h: &Harness, before: Counts, audit_lines: i64, code: &str) {
    let after = h.counts().await;
    assert_eq!(
        Counts {
            audit: before.audit + audit_lines,
            ..before
        },
        after
    );
    if audit_lines > 0 {
        let last = h.audit().await.pop().unwrap();
        assert_eq!(last.outcome, "failure");
        assert_eq!(last.reason.as_deref(), Some(code));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_totp_replay_and_rate_limits() {
    let h = Harness::start().await;
    let secret = h.add_user("bob@example.com").await;

    let before = h.counts().await;
    assert_error(
        &h.password("bob@example.com", "wrong", None).await,
        "LK-AUTH-001",
    );
    only_audited(&h, before, 1, "LK-AUTH-001").await;
    let before = h.counts().await;
    assert_error(
        &h.password("nobody@example.com", PASSWORD, None).await,
        "LK-AUTH-001",
    );
    only_audited(&h, before, 1, "LK-AUTH-001").await;

    let bad = format!(
        "{:06}",
        (h.otp(&secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let before = h.counts().await;
    assert_error(
        &h.password("bob@example.com", PASSWORD, Some(&bad)).await,
        "LK-AUTH-002",
    );
    only_audited(&h, before, 1, "LK-AUTH-002").await;

    // A code is accepted once; the same step again is refused (and so is an older one).
    let code = h.otp(&secret, 0);
    assert_eq!(
        h.password("bob@example.com", PASSWORD, Some(&code)).await.0,
        200
    );
    let before = h.counts().await;
    assert_error(
        &h.password("bob@example.com", PASSWORD, Some(&code)).await,
        "LK-AUTH-002",
    );
    assert_error(
        &h.password("bob@example.com", PASSWORD, Some(&h.otp(&secret, -1)))
            .await,
        "LK-AUTH-002",
    );
    only_audited(&h, before, 2, "LK-AUTH-002").await;
    // One step of drift ahead is accepted.
    assert_eq!(
        h.password("bob@example.com", PASSWORD, Some(&h.otp(&secret, 1)))
            .await
            .0,
        200
    );

    // A success from this address forgets its earlier failures (1 password + 3 codes);
    // five new ones and bob is throttled here, even with the right password.
    for _ in 0..latchkey_server::ratelimit::PER_PAIR {
        assert_error(
            &h.password("bob@example.com", "wrong", None).await,
            "LK-AUTH-001",
        );
    }
    let before = h.counts().await;
    assert_error(
        &h.password("bob@example.com", PASSWORD, None).await,
        "LK-AUTH-003",
    );
    only_audited(&h, before, 1, "LK-AUTH-003").await;
    // Another user from the same address is not (yet) affected.
    let _ = h.add_user("carol@example.com").await;
    assert_eq!(h.password("carol@example.com", PASSWORD, None).await.0, 200);
    // The window passes on the service clock.
    h.clock.advance(time::Duration::minutes(16));
    assert_eq!(h.password("bob@example.com", PASSWORD, None).await.0, 200);

    // Per address: 20 failures across users blocks the address.
    for i in 0..20 {
        let upn = format!("ghost{i}@example.com");
        assert_error(&h.password(&upn, "x", None).await, "LK-AUTH-001");
    }
    assert_error(
        &h.password("carol@example.com", PASSWORD, None).await,
        "LK-AUTH-003",
    );

    // A disabled user cannot get a token.
    h.clock.advance(time::Duration::minutes(16));
    h.admin.disable_user("carol@example.com").await.unwrap();
    assert_error(
        &h.password("carol@example.com", PASSWORD, None).await,
        "LK-AUTH-007",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_are_single_use_short_lived_and_purpose_bound() {
    let h = Harness::start().await;
    let user = enrolled(&h, "alice@example.com", rsa_key(0)).await;

    // Replayed.
    let body = h
        .signin_body(&user.device, &user.upn, &user.key.key_id(), &user.key)
        .await;
    assert_eq!(h.post("/v1/signin", &body, None).await.0, 200);
    let before = h.counts().await;
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-NONCE-003");
    only_audited(&h, before, 1, "LK-NONCE-003").await;

    // Expired: five minutes on the service clock.
    let body = h
        .signin_body(&user.device, &user.upn, &user.key.key_id(), &user.key)
        .await;
    h.clock.advance(time::Duration::seconds(301));
    let before = h.counts().await;
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-NONCE-002");
    only_audited(&h, before, 1, "LK-NONCE-002").await;

    // Wrong purpose: a join nonce used for sign-in (correctly signed over it).
    let join_nonce = h.nonce(Purpose::Join).await;
    let msg = latchkey_proto::proof::proof_message(
        Purpose::SignIn,
        &join_nonce,
        &[&h.tenant_id, &user.device.id, &user.upn, &user.key.key_id()],
    );
    let body = json!({
        "upn": user.upn, "device_id": user.device.id, "key_id": user.key.key_id(),
        "nonce": join_nonce, "assertion": user.key.sign(&msg),
        "device_signature": user.device.sign(&msg),
    });
    let before = h.counts().await;
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-NONCE-004");
    only_audited(&h, before, 1, "LK-NONCE-004").await;

    // Not issued here.
    let mut forged = h
        .signin_body(&user.device, &user.upn, &user.key.key_id(), &user.key)
        .await;
    forged["nonce"] = json!("AAAA");
    assert_error(&h.post("/v1/signin", &forged, None).await, "LK-NONCE-001");
    // Nonces for join are checked the same way.
    let token = h.mfa_token(&user.upn, &user.secret).await;
    let device = Device::new();
    let mut join = device.join_body(&h, "cloud").await;
    h.clock.advance(time::Duration::seconds(301));
    let token2 = h.mfa_token(&user.upn, &user.secret).await;
    let before = h.counts().await;
    assert_error(
        &h.post("/v1/devices/join", &join, Some(&token2)).await,
        "LK-NONCE-002",
    );
    only_audited(&h, before, 1, "LK-NONCE-002").await;
    join["nonce"] = json!(h.nonce(Purpose::SignIn).await);
    assert_error(
        &h.post("/v1/devices/join", &join, Some(&token2)).await,
        "LK-NONCE-004",
    );
    // An expired enrolment token is refused (ten minutes on the service clock).
    h.clock.advance(time::Duration::seconds(600));
    assert_error(
        &h.post("/v1/devices/join", &join, Some(&token)).await,
        "LK-AUTH-004",
    );
    assert_error(
        &h.post("/v1/devices/join", &join, None).await,
        "LK-AUTH-004",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_bound_to_their_user_and_device() {
    let h = Harness::start().await;
    let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let bob = enrolled(&h, "bob@example.com", rsa_key(1)).await;

    // An assertion signed by another user's key, naming alice's key.
    let body = h
        .signin_body(&alice.device, &alice.upn, &alice.key.key_id(), &bob.key)
        .await;
    let before = h.counts().await;
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-KEY-003");
    only_audited(&h, before, 1, "LK-KEY-003").await;

    // Alice naming bob's key (on bob's device key's... alice's device).
    let body = h
        .signin_body(&alice.device, &alice.upn, &bob.key.key_id(), &bob.key)
        .await;
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-KEY-005");

    // Alice's key used from another device (bob's, which is joined).
    let body = h
        .signin_body(&bob.device, &alice.upn, &alice.key.key_id(), &alice.key)
        .await;
    let before = h.counts().await;
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-KEY-002");
    only_audited(&h, before, 1, "LK-KEY-002").await;

    // A device proof by the wrong device key.
    let mut body = h
        .signin_body(&alice.device, &alice.upn, &alice.key.key_id(), &alice.key)
        .await;
    body["device_signature"] = json!(Device::new().sign(b"x"));
    assert_error(&h.post("/v1/signin", &body, None).await, "LK-DEV-003");

    // Unknown device.
    let mut stranger = Device::new();
    stranger.id = "00000000-0000-4000-8000-000000000000".into();
    assert_error(
        &h.signin(&stranger, &alice.upn, &alice.key).await,
        "LK-DEV-001",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_and_disables_take_effect_at_once() {
    let h = Harness::start().await;
    let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let (_, session) = h.signin(&alice.device, &alice.upn, &alice.key).await;
    let prt = session["prt"].as_str().unwrap().to_owned();

    // Deleted key: sign-in, token and renewal refused.
    h.admin.delete_key(&alice.key.key_id()).await.unwrap();
    let before = h.counts().await;
    assert_error(
        &h.signin(&alice.device, &alice.upn, &alice.key).await,
        "LK-KEY-001",
    );
    only_audited(&h, before, 1, "LK-KEY-001").await;
    assert_error(&h.token(&alice.device, &prt, "api://x").await, "LK-KEY-001");
    assert_error(&h.renew(&alice.device, &prt).await, "LK-KEY-001");
    assert!(h.audit().await.iter().any(|a| a.event == "key_delete"));

    // Disabled device.
    let bob = enrolled(&h, "bob@example.com", rsa_key(1)).await;
    let (_, session) = h.signin(&bob.device, &bob.upn, &bob.key).await;
    let prt = session["prt"].as_str().unwrap().to_owned();
    h.admin.disable_device(&bob.device.id).await.unwrap();
    let before = h.counts().await;
    assert_error(
        &h.signin(&bob.device, &bob.upn, &bob.key).await,
        "LK-DEV-002",
    );
    only_audited(&h, before, 1, "LK-DEV-002").await;
    assert_error(&h.token(&bob.device, &prt, "api://x").await, "LK-DEV-002");
    assert_error(&h.renew(&bob.device, &prt).await, "LK-DEV-002");

    // Disabled user.
    let carol = enrolled(&h, "carol@example.com", rsa_key(2)).await;
    let (_, session) = h.signin(&carol.device, &carol.upn, &carol.key).await;
    let prt = session["prt"].as_str().unwrap().to_owned();
    h.admin.disable_user(&carol.upn).await.unwrap();
    let before = h.counts().await;
    assert_error(
        &h.signin(&carol.device, &carol.upn, &carol.key).await,
        "LK-AUTH-007",
    );
    only_audited(&h, before, 1, "LK-AUTH-007").await;
    assert_error(
        &h.token(&carol.device, &prt, "api://x").await,
        "LK-AUTH-007",
    );

    // A renewal from another device than the token's is refused (LK-PRT-004 since the
    // token's binding to its device has its own code; it was LK-PRT-001).
    let dave = enrolled(&h, "dave@example.com", p256_key()).await;
    let (_, session) = h.signin(&dave.device, &dave.upn, &dave.key).await;
    let prt = session["prt"].as_str().unwrap().to_owned();
    let eve = enrolled(&h, "eve@example.com", p256_key()).await;
    assert_error(&h.renew(&eve.device, &prt).await, "LK-PRT-004");
    assert_error(
        &h.token(&eve.device, "not-a-token", "api://x").await,
        "LK-PRT-001",
    );
}
