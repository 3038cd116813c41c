//! Issue 10: the registered owner's exemption replaces the second factor, not both.
//!
//! Over real HTTPS: the owner of a cloud device joined with MFA registers a first key with a
//! password-only token; no token at all, a token naming someone else, or a device-key proof
//! alone (a stolen copy of the device's state) installs nothing; replacing a key always
//! needs a token carrying `mfa`; the audit note says which rule applied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;

/// Asserts that nothing but one failure audit line was written since `before`.
async fn nothing_written(h: &Harness, before: latchkey_server::storage::Counts, code: &str) {
    let after = h.counts().await;
    assert_eq!(after.keys, before.keys, "no key written");
    assert_eq!(after.used_nonces, before.used_nonces, "no nonce consumed");
    assert_eq!(after.audit, before.audit + 1, "one failure line");
    let last = h.audit().await.into_iter().last().unwrap();
    assert_eq!(last.event, "key_register");
    assert_eq!(last.outcome, "failure");
    assert_eq!(last.reason.as_deref(), Some(code));
}

struct Owner {
    upn: String,
    secret: Vec<u8>,
    device: Device,
}

async fn cloud_owner(h: &Harness, upn: &str) -> Owner {
    let secret = h.add_user(upn).await;
    let token = h.mfa_token(upn, &secret).await;
    let device = h.join(&token, "cloud").await;
    Owner {
        upn: upn.to_owned(),
        secret,
        device,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_needs_a_fresh_password_and_the_note_says_owner_device() {
    let h = Harness::start().await;
    let owner = cloud_owner(&h, "olga@example.com").await;
    let key = rsa_key(0);

    // No token: the device-key proof alone (all a copy of the device's state gives) is
    // refused and nothing is written.
    let before = h.counts().await;
    let refused = h.register(&owner.device, &owner.upn, &key, None).await;
    assert_error(&refused, "LK-AUTH-005");
    assert!(refused.1["message"]
        .as_str()
        .unwrap()
        .contains("/v1/auth/password"));
    nothing_written(&h, before, "LK-AUTH-005").await;
    assert_error(
        &h.signin(&owner.device, &owner.upn, &key).await,
        "LK-KEY-001",
    );

    // A password-only token naming another user.
    h.add_user("mallory@example.com").await;
    let mallory = h.pwd_token("mallory@example.com").await;
    let before = h.counts().await;
    assert_error(
        &h.register(&owner.device, &owner.upn, &key, Some(&mallory))
            .await,
        "LK-AUTH-006",
    );
    nothing_written(&h, before, "LK-AUTH-006").await;

    // The owner's own password-only token: the first key registers.
    let pwd = h.pwd_token(&owner.upn).await;
    let (status, body) = h
        .register(&owner.device, &owner.upn, &key, Some(&pwd))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["replaced_key_id"].is_null());
    let line = h.audit().await.into_iter().last().unwrap();
    assert_eq!(line.event, "key_register");
    assert_eq!(
        line.reason.as_deref(),
        Some("mfa=owner-device+pwd attestation=software")
    );
    assert_eq!(h.signin(&owner.device, &owner.upn, &key).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_key_always_needs_a_full_mfa() {
    let h = Harness::start().await;
    let owner = cloud_owner(&h, "otto@example.com").await;
    let first = rsa_key(0);
    let pwd = h.pwd_token(&owner.upn).await;
    assert_eq!(
        h.register(&owner.device, &owner.upn, &first, Some(&pwd))
            .await
            .0,
        200
    );

    // A password-only token (even a fresh one) cannot replace it: refused, nothing written,
    // and the old key still signs in.
    let second = rsa_key(1);
    let pwd = h.pwd_token(&owner.upn).await;
    let before = h.counts().await;
    let refused = h
        .register(&owner.device, &owner.upn, &second, Some(&pwd))
        .await;
    assert_error(&refused, "LK-AUTH-005");
    assert!(refused.1["message"].as_str().unwrap().contains("replacing"));
    nothing_written(&h, before, "LK-AUTH-005").await;
    let keys = h.admin.keys(None).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, first.key_id());
    assert_eq!(h.signin(&owner.device, &owner.upn, &first).await.0, 200);
    assert_error(
        &h.signin(&owner.device, &owner.upn, &second).await,
        "LK-KEY-001",
    );

    // No token at all cannot replace it either.
    let before = h.counts().await;
    assert_error(
        &h.register(&owner.device, &owner.upn, &second, None).await,
        "LK-AUTH-005",
    );
    nothing_written(&h, before, "LK-AUTH-005").await;

    // With a fresh full MFA the replacement goes through, audited as such.
    let mfa = h.mfa_token(&owner.upn, &owner.secret).await;
    let (status, body) = h
        .register(&owner.device, &owner.upn, &second, Some(&mfa))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replaced_key_id"], first.key_id());
    let line = h.audit().await.into_iter().last().unwrap();
    assert_eq!(line.event, "key_replace");
    let note = line.reason.unwrap();
    assert!(note.starts_with("mfa=token"), "{note}");
    assert!(note.contains(&first.key_id()), "{note}");
    assert_error(
        &h.signin(&owner.device, &owner.upn, &first).await,
        "LK-KEY-001",
    );
    assert_eq!(h.signin(&owner.device, &owner.upn, &second).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_only_token_is_not_enough_for_anyone_but_the_owner() {
    let h = Harness::start().await;
    let owner = cloud_owner(&h, "pia@example.com").await;
    // Another user on the owner's device.
    h.add_user("quinn@example.com").await;
    let pwd = h.pwd_token("quinn@example.com").await;
    let before = h.counts().await;
    let refused = h
        .register(&owner.device, "quinn@example.com", &rsa_key(0), Some(&pwd))
        .await;
    assert_error(&refused, "LK-AUTH-005");
    nothing_written(&h, before, "LK-AUTH-005").await;

    // The owner of a hybrid device.
    let secret = h.add_user("rhea@example.com").await;
    let token = h.mfa_token("rhea@example.com", &secret).await;
    let hybrid = h.join(&token, "hybrid").await;
    let pwd = h.pwd_token("rhea@example.com").await;
    let before = h.counts().await;
    assert_error(
        &h.register(&hybrid, "rhea@example.com", &rsa_key(1), Some(&pwd))
            .await,
        "LK-AUTH-005",
    );
    nothing_written(&h, before, "LK-AUTH-005").await;
    // With a full MFA it works, audited as mfa=token.
    let mfa = h.mfa_token("rhea@example.com", &secret).await;
    assert_eq!(
        h.register(&hybrid, "rhea@example.com", &rsa_key(1), Some(&mfa))
            .await
            .0,
        200
    );
    let line = h.audit().await.into_iter().last().unwrap();
    assert_eq!(
        line.reason.as_deref(),
        Some("mfa=token attestation=software")
    );
}
