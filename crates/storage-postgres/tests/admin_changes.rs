//! The web administration's changes on PostgreSQL (`DirectoryAdmin::enable_user`,
//! `reset_mfa`, `enable_device`, `delete_device`), which the conformance suite does not
//! cover: each changes its row with its audit line, or finds nothing and writes nothing.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use latchkey_pg_harness::PgCluster;
use latchkey_storage::audit::event;
use latchkey_storage_conformance::fixtures::*;
use latchkey_storage_conformance::{Backend, Handle};
use latchkey_storage_postgres::{PgOptions, PgStorage};

async fn backend() -> Backend {
    let url = PgCluster::fresh_database("admin")
        .await
        .expect("a fresh database on the shared cluster");
    let storage = Arc::new(
        PgStorage::connect(&PgOptions::new(url))
            .await
            .expect("connecting to PostgreSQL"),
    );
    let main = Handle {
        storage: storage.clone(),
        web: storage.clone(),
        directory: storage.clone(),
        admin: storage.clone(),
    };
    let peer = Handle {
        storage: storage.clone(),
        web: storage.clone(),
        directory: storage.clone(),
        admin: storage,
    };
    Backend {
        main,
        peer,
        keep: Box::new(()),
    }
}

const P: &str = "admin_changes";

#[tokio::test]
async fn delete_device_takes_its_keys_and_writes_one_line() {
    let b = backend().await;
    let (alice, d, k) = enrolled(&b, P).await.expect("enrolled");
    let dir = &b.main.directory;
    let s = &*b.main.storage;
    let del = |tag: &str| line(event::DEVICE_DELETE, tag);
    assert!(!dir
        .delete_device(TENANT, "nope", &del("none"))
        .await
        .expect("delete"));
    assert!(!dir
        .delete_device(OTHER_TENANT, &d.id, &del("other"))
        .await
        .expect("delete"));
    assert_eq!(audited(s, P, "none").await.expect("audit"), 0);
    assert_eq!(audited(s, P, "other").await.expect("audit"), 0);
    assert!(s.device(TENANT, &d.id).await.expect("device").is_some());

    assert!(dir
        .delete_device(TENANT, &d.id, &del("gone"))
        .await
        .expect("delete"));
    assert_eq!(audited(s, P, "gone").await.expect("audit"), 1);
    assert!(s.device(TENANT, &d.id).await.expect("device").is_none());
    let keys = dir.keys_of(TENANT, &alice.upn).await.expect("keys");
    assert!(
        keys.iter().all(|key| key.key_id != k.key_id),
        "the device's key stayed: {keys:?}"
    );
    assert!(!dir
        .delete_device(TENANT, &d.id, &del("twice"))
        .await
        .expect("delete"));
    assert_eq!(audited(s, P, "twice").await.expect("audit"), 0);
}

#[tokio::test]
async fn enable_and_reset_mfa_change_only_what_exists() {
    let b = backend().await;
    let (alice, d, _) = enrolled(&b, P).await.expect("enrolled");
    let dir = &b.main.directory;
    let w = &b.main.web;
    let s = &*b.main.storage;
    assert!(!dir
        .enable_user(
            TENANT,
            "nobody@example.com",
            &line(event::USER_ENABLE, "u0")
        )
        .await
        .expect("enable"));
    assert!(!dir
        .enable_device(TENANT, "nope", &line(event::DEVICE_ENABLE, "d0"))
        .await
        .expect("enable"));
    assert!(!dir
        .reset_mfa(
            OTHER_TENANT,
            &alice.id,
            b"new",
            &line(event::USER_RESET_MFA, "m0")
        )
        .await
        .expect("reset"));
    for tag in ["u0", "d0", "m0"] {
        assert_eq!(audited(s, P, tag).await.expect("audit"), 0, "{tag}");
    }

    // The step 9 taken, then reset: a code of step 3 of the new secret is accepted.
    assert!(w
        .password_session(
            TENANT,
            9,
            &session("s1", &alice.id),
            &line(event::WEB_SIGNIN, "w1")
        )
        .await
        .expect("session"));
    assert!(dir
        .reset_mfa(
            TENANT,
            &alice.id,
            b"new",
            &line(event::USER_RESET_MFA, "m1")
        )
        .await
        .expect("reset"));
    let after = w.user_by_id(TENANT, &alice.id).await.expect("user");
    assert_eq!(
        after.map(|u| (u.totp_secret, u.last_totp_step)),
        Some((b"new".to_vec(), None))
    );
    assert!(w
        .password_session(
            TENANT,
            3,
            &session("s2", &alice.id),
            &line(event::WEB_SIGNIN, "w2")
        )
        .await
        .expect("session"));

    assert!(s
        .disable_device(TENANT, &d.id, &line(event::DEVICE_DISABLE, "off"))
        .await
        .expect("disable"));
    assert!(dir
        .enable_device(TENANT, &d.id, &line(event::DEVICE_ENABLE, "d1"))
        .await
        .expect("enable"));
    assert_eq!(
        s.device(TENANT, &d.id)
            .await
            .expect("device")
            .map(|d| d.disabled),
        Some(false)
    );
    assert!(s
        .disable_user(TENANT, &alice.upn, &line(event::USER_DISABLE, "uoff"))
        .await
        .expect("disable"));
    assert!(dir
        .enable_user(TENANT, &alice.upn, &line(event::USER_ENABLE, "u1"))
        .await
        .expect("enable"));
    assert_eq!(
        w.user_by_id(TENANT, &alice.id)
            .await
            .expect("user")
            .map(|u| u.disabled),
        Some(false)
    );
    for tag in ["m1", "d1", "u1"] {
        assert_eq!(audited(s, P, tag).await.expect("audit"), 1, "{tag}");
    }
}
