//! Security-key sign-in against the real service over loopback HTTPS: the begin step
//! writes nothing and tells nothing about the user name it is given, and a ceremony
//! finishes once, for a key of the user it was started for.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::web::{assertion, enable_security_keys, Browser, SecurityKey};
use common::{assert_error, Harness, WebHarness};
use latchkey_proto::b64;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A browser with security-key sign-in turned on for the tenant.
async fn browser(h: &Harness) -> Browser {
    enable_security_keys(h).await;
    Browser::new(h, "127.0.0.1").await
}

/// Adds `upn`, signs them in with password and code on the page, then registers a `none`
/// security key (its credential id: SHA-256 of the user name).
async fn user_with_key(h: &Harness, b: &Browser, upn: &str) -> SecurityKey {
    let secret = h.add_user(upn).await;
    let session = b.sign_in(h, upn, &secret).await;
    let id = Sha256::digest(upn.as_bytes()).to_vec();
    b.register_security_key(h, &session, "Key", &id).await
}

/// Rows of every table of the database.
async fn rows(h: &Harness) -> Vec<(String, i64)> {
    h.row_counts().await
}

/// The options of a begin answer with the parts that differ on every call blanked.
fn shape(start: &Value) -> Value {
    let mut pk = start["public_key"].clone();
    pk["challenge"] = json!(pk["challenge"].as_str().unwrap().len());
    json!({"ceremony": start["ceremony"].as_str().unwrap().len(), "public_key": pk})
}

#[tokio::test]
async fn sign_in_begin_writes_nothing_and_tells_nothing_about_the_user() {
    let h = Harness::web().await;
    let b = browser(&h).await;
    let key = user_with_key(&h, &b, "alice@example.com").await;
    h.add_user("keyless@example.com").await;
    let before = rows(&h).await;
    let mut shapes = vec![];
    for upn in [
        Some("alice@example.com"),
        Some("keyless@example.com"),
        Some("nobody@example.com"),
        None,
    ] {
        for _ in 0..50 {
            let (status, start) = b.begin(&h, upn).await;
            assert_eq!(status, 200, "{upn:?}: {start}");
            assert!(
                !start.to_string().contains(&b64::encode(&key.id)),
                "a credential id was disclosed: {start}"
            );
            assert_eq!(start["public_key"]["allowCredentials"], json!([]));
            shapes.push(shape(&start));
        }
    }
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:?}");
    assert_eq!(rows(&h).await, before, "begin wrote nothing");
    // A user name that could never be one is refused as invalid, as on the password form.
    let long = "a".repeat(300);
    let (status, body) = b.begin(&h, Some(&long)).await;
    assert_error(&(status, body), "LK-REQ-003");
}

#[tokio::test]
async fn a_stateless_ceremony_finishes_once_and_only_for_its_user() {
    let h = Harness::web().await;
    let b = browser(&h).await;
    let mut alice = user_with_key(&h, &b, "alice@example.com").await;
    let mut bob = user_with_key(&h, &b, "bob@example.com").await;
    let finish = |body: Value| {
        let b = &b;
        let h = &h;
        async move { b.finish(h, &body).await }
    };

    // Username-first for alice: bob's key cannot finish it.
    let (_, start) = b.begin(&h, Some("alice@example.com")).await;
    let (status, body, session) = finish(assertion(&h, &mut bob, &start)).await;
    assert_error(&(status, body), "LK-SK-005");
    assert!(session.is_none());
    // Alice's key can, once.
    let done = assertion(&h, &mut alice, &start);
    let (status, body, session) = finish(done.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(session.is_some());
    let before = h.counts().await;
    let (status, body, session) = finish(done).await;
    assert_error(&(status, body), "LK-SK-009");
    assert!(session.is_none());
    // So does a new assertion over the used ceremony.
    let (status, body, session) = finish(assertion(&h, &mut alice, &start)).await;
    assert_error(&(status, body), "LK-SK-009");
    assert!(session.is_none());
    let after = h.counts().await;
    assert_eq!(
        after.used_nonces, before.used_nonces,
        "nothing consumed twice"
    );

    // A discoverable sign-in (no user name) admits any user's key.
    let (_, start) = b.begin(&h, None).await;
    let (status, body, _) = finish(assertion(&h, &mut bob, &start)).await;
    assert_eq!(status, 200, "{body}");

    // A forged or expired ceremony is refused.
    let (_, start) = b.begin(&h, None).await;
    let mut forged = assertion(&h, &mut alice, &start);
    forged["ceremony"] = json!(format!("{}A", &start["ceremony"].as_str().unwrap()[1..]));
    let (status, body, _) = finish(forged).await;
    assert_error(&(status, body), "LK-SK-009");
    h.clock.advance(time::Duration::seconds(
        latchkey_web::seckey::CEREMONY_LIFETIME_SECS,
    ));
    let (status, body, _) = finish(assertion(&h, &mut alice, &start)).await;
    assert_error(&(status, body), "LK-SK-009");
}
