//! Deleting users and devices, resetting credentials (`latchkeyd user delete|reset-mfa|
//! reset-password`, `device delete`, `client rotate-secret`) against a running service: what
//! goes with them, in one transaction, and that the service refuses their credentials at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::csr;
use common::{assert_error, rsa_key, Device, Harness, HelloKey, PASSWORD};
use latchkey_proto::api::cert::csr_binding;
use latchkey_proto::b64;
use latchkey_proto::proof::{proof_message, Purpose};
use latchkeyd::data_admin::AdminError;
use serde_json::json;

const UPN: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

/// Registers `key` for `upn` on `device` with a certificate request; the serial.
async fn register_with_cert(
    h: &Harness,
    device: &Device,
    upn: &str,
    key: &HelloKey,
    token: &str,
) -> String {
    let request = csr(key, key, upn);
    let nonce = h.nonce(Purpose::RegisterKey).await;
    let msg = proof_message(
        Purpose::RegisterKey,
        &nonce,
        &[
            &h.tenant_id,
            &device.id,
            upn,
            &key.key_id(),
            &csr_binding(&request),
        ],
    );
    let body = json!({
        "device_id": device.id,
        "upn": upn,
        "nonce": nonce,
        "public_key": key.wire(),
        "device_signature": device.sign(&msg),
        "key_signature": key.sign(&msg),
        "certificate_request": {"csr": b64::encode(&request)},
    });
    let (status, body) = h.post("/v1/keys", &body, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["certificate"]["serial"].as_str().unwrap().to_owned()
}

fn state(certs: &[latchkey_server::storage::cert::CertificateRecord], serial: &str) -> String {
    let c = certs.iter().find(|c| c.serial == serial).unwrap();
    format!("{} {}", c.state, c.reason.clone().unwrap_or_default())
}

#[tokio::test]
async fn deleting_a_device_takes_its_keys_and_tokens_and_revokes_its_certificates() {
    let h = Harness::start().await;
    let secret = h.add_user(UPN).await;
    let bob_secret = h.add_user(BOB).await;
    let device = h.join(&h.mfa_token(UPN, &secret).await, "cloud").await;
    let (alice_key, bob_key) = (rsa_key(0), rsa_key(1));
    let serial = register_with_cert(&h, &device, UPN, &alice_key, &h.pwd_token(UPN).await).await;
    let bob_serial = register_with_cert(
        &h,
        &device,
        BOB,
        &bob_key,
        &h.mfa_token(BOB, &bob_secret).await,
    )
    .await;
    let (status, body) = h.signin(&device, UPN, &alice_key).await;
    assert_eq!(status, 200, "{body}");
    let prt = body["prt"].as_str().unwrap().to_owned();
    let listed = h.admin.device(&device.id).await.unwrap();
    assert!(listed.last_activity.is_some(), "{listed:?}");

    // The owner cannot be deleted while the device exists; nothing is written.
    let before = h.counts().await;
    let err = h.admin.delete_user(UPN).await.unwrap_err();
    assert!(
        matches!(err, AdminError::UserOwnsDevices { count: 1, .. }),
        "{err}"
    );
    assert_eq!(err.code().as_str(), "LK-ADM-005");
    assert_eq!(h.counts().await, before);

    let removed = h.admin.delete_device(&device.id).await.unwrap();
    assert_eq!(removed.hello_keys, 2);
    assert_eq!(removed.sessions, 1);
    assert_eq!(removed.certificates_revoked, 2);
    let after = h.counts().await;
    assert_eq!(
        (after.devices, after.keys, after.prts, after.certificates),
        (0, 0, 0, before.certificates)
    );
    let certs = h.admin.certificates(None).await.unwrap();
    assert_eq!(state(&certs, &serial), "revoked cessationOfOperation");
    assert_eq!(state(&certs, &bob_serial), "revoked cessationOfOperation");

    // The service refuses the device's sign-in and token at once.
    let (status, _) = h.signin(&device, UPN, &alice_key).await;
    assert_ne!(status, 200);
    let response = h.renew(&device, &prt).await;
    assert_ne!(response.0, 200, "{}", response.1);
    assert!(matches!(
        h.admin.delete_device(&device.id).await,
        Err(AdminError::NoSuchDevice(_))
    ));
    let events: Vec<String> = h.audit().await.into_iter().map(|a| a.event).collect();
    assert!(
        events
            .windows(3)
            .any(|w| w == ["cert_revoke", "cert_revoke", "device_delete"]),
        "{events:?}"
    );
    // The sign-in and the renewal after it were refused, and audited as such.
    assert!(events.ends_with(&["signin".to_owned(), "prt_renew".to_owned()]));

    // Now the user goes, and its certificates stay listed (revoked) without it.
    let removed = h.admin.delete_user(UPN).await.unwrap();
    assert_eq!(removed.hello_keys, 0);
    assert!(h.admin.user(UPN).await.is_err());
    let (status, _) = h.password(UPN, PASSWORD, None).await;
    assert_eq!(status, 401);
    let certs = h.admin.certificates(None).await.unwrap();
    assert!(certs.iter().any(|c| c.serial == serial && c.upn.is_none()));
    assert!(matches!(
        h.admin.delete_user(UPN).await,
        Err(AdminError::NoSuchUser(_))
    ));
}

#[tokio::test]
async fn deleting_a_user_takes_its_keys_on_other_devices_and_revokes_their_certificates() {
    let h = Harness::start().await;
    let secret = h.add_user(UPN).await;
    let bob_secret = h.add_user(BOB).await;
    let device = h.join(&h.mfa_token(UPN, &secret).await, "cloud").await;
    let bob_key = rsa_key(1);
    let serial = register_with_cert(
        &h,
        &device,
        BOB,
        &bob_key,
        &h.mfa_token(BOB, &bob_secret).await,
    )
    .await;
    let (status, body) = h.signin(&device, BOB, &bob_key).await;
    assert_eq!(status, 200, "{body}");
    let prt = body["prt"].as_str().unwrap().to_owned();
    h.admin.group_add("pilot").await.unwrap();
    h.admin
        .group_member("pilot", Some(BOB), None, true)
        .await
        .unwrap();

    let removed = h.admin.delete_user(BOB).await.unwrap();
    assert_eq!(
        (
            removed.hello_keys,
            removed.sessions,
            removed.certificates_revoked
        ),
        (1, 1, 1)
    );
    let certs = h.admin.certificates(None).await.unwrap();
    assert_eq!(state(&certs, &serial), "revoked cessationOfOperation");
    let groups = h.admin.groups().await.unwrap();
    assert!(groups.iter().all(|g| g.users.is_empty()), "{groups:?}");
    let response = h.renew(&device, &prt).await;
    assert_ne!(response.0, 200);
    // The device and its owner are untouched.
    assert_eq!(h.admin.devices().await.unwrap().len(), 1);
    let response = h.password(BOB, PASSWORD, None).await;
    assert_error(&response, "LK-AUTH-001");
}

#[tokio::test]
async fn resets_replace_the_password_and_the_totp_secret_at_once() {
    let h = Harness::start().await;
    let secret = h.add_user(UPN).await;
    h.admin
        .reset_password(UPN, "a-new-password-1")
        .await
        .unwrap();
    let (status, _) = h.password(UPN, PASSWORD, None).await;
    assert_eq!(status, 401);
    let (status, body) = h.password(UPN, "a-new-password-1", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(matches!(
        h.admin.reset_password(UPN, "short").await,
        Err(AdminError::Invalid(_))
    ));

    let reset = h.admin.reset_mfa(UPN).await.unwrap();
    let new_secret = reset
        .otpauth_uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let old_code = h.otp(&secret, 0);
    let response = h.password(UPN, "a-new-password-1", Some(&old_code)).await;
    assert_error(&response, "LK-AUTH-002");
    let new_code = h.otp(&common::base32_decode(&new_secret), 0);
    let (status, body) = h.password(UPN, "a-new-password-1", Some(&new_code)).await;
    assert_eq!(status, 200, "{body}");
    let events: Vec<String> = h.audit().await.into_iter().map(|a| a.event).collect();
    assert!(events.contains(&"user_reset_password".to_owned()));
    assert!(events.contains(&"user_reset_mfa".to_owned()));
}
