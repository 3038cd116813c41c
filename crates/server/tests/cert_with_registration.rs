//! A certificate asked for with the key registration (`POST /v1/keys` with a
//! `certificate_request`, what a device under UseCertificateForOnPremAuth sends): key and
//! certificate are written in one transaction, or neither.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::{csr, refused_with_its_audit_line_only};
use common::{rsa_key, Device, Harness, HelloKey};
use latchkey_proto::api::cert::csr_binding;
use latchkey_proto::b64;
use latchkey_proto::proof::{proof_message, Purpose};
use latchkey_server::storage::Counts;
use latchkeyd::data_admin::TemplateChange;
use serde_json::{json, Value};

const UPN: &str = "alice@example.com";

/// A user who joined a cloud device with MFA (the owner: a password token registers).
async fn joined(h: &Harness) -> Device {
    let secret = h.add_user(UPN).await;
    let token = h.mfa_token(UPN, &secret).await;
    h.join(&token, "cloud").await
}

/// Registers `key` with a certificate request `request` and the password token `token`;
/// the proofs bind `bound` (the request itself unless a test lies).
async fn register(
    h: &Harness,
    device: &Device,
    key: &HelloKey,
    request: &[u8],
    bound: &[u8],
    token: &str,
) -> (u16, Value) {
    let nonce = h.nonce(Purpose::RegisterKey).await;
    let key_id = key.key_id();
    let binding = csr_binding(bound);
    let msg = proof_message(
        Purpose::RegisterKey,
        &nonce,
        &[&h.tenant_id, &device.id, UPN, &key_id, &binding],
    );
    let body = json!({
        "device_id": device.id,
        "upn": UPN,
        "nonce": nonce,
        "public_key": key.wire(),
        "device_signature": device.sign(&msg),
        "key_signature": key.sign(&msg),
        "certificate_request": {"csr": b64::encode(request)},
    });
    h.post("/v1/keys", &body, Some(token)).await
}

/// Asserts a refusal with `code` that wrote nothing but its audit line: the key
/// registration's failure.
async fn refused_whole(h: &Harness, before: Counts, response: (u16, Value), code: &str) {
    refused_with_its_audit_line_only(h, before, response, code, "key_register").await;
}

#[tokio::test]
async fn the_key_and_its_certificate_are_registered_together() {
    let h = Harness::start().await;
    let device = joined(&h).await;
    let key = rsa_key(0);
    let request = csr(&key, &key, UPN);
    let token = h.pwd_token(UPN).await;
    let before = h.counts().await;
    let (status, body) = register(&h, &device, &key, &request, &request, &token).await;
    assert_eq!(status, 200, "{body}");
    let serial = body["certificate"]["serial"].as_str().unwrap();
    assert_eq!(body["certificate"]["template"], "Hello authentication");
    assert_eq!(body["certificate"]["chain"].as_array().unwrap().len(), 2);
    let after = h.counts().await;
    assert_eq!(
        (after.keys, after.certificates),
        (before.keys + 1, before.certificates + 1)
    );
    let listed = h.admin.certificates(Some(UPN)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].serial, serial);
    assert_eq!(listed[0].key_id.as_deref(), Some(key.key_id().as_str()));
    let events: Vec<String> = h.audit().await.into_iter().map(|a| a.event).collect();
    assert!(
        events.ends_with(&[
            "key_register".to_owned(),
            "cert_request".to_owned(),
            "cert_issue".to_owned()
        ]),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_refused_certificate_registers_no_key() {
    let h = Harness::start().await;
    let device = joined(&h).await;
    let key = rsa_key(0);

    // A request for another key than the one registered.
    let other = rsa_key(1);
    let foreign = csr(&other, &other, UPN);
    let token = h.pwd_token(UPN).await;
    let before = h.counts().await;
    let response = register(&h, &device, &key, &foreign, &foreign, &token).await;
    refused_whole(&h, before, response, "LK-CERT-002").await;

    // A request swapped after the device signed: the proofs bind another request.
    let request = csr(&key, &key, UPN);
    let before = h.counts().await;
    let response = register(&h, &device, &key, &request, &foreign, &token).await;
    refused_whole(&h, before, response, "LK-DEV-003").await;

    // The user outside the template's group.
    h.admin.group_add("wh4b-users").await.unwrap();
    let change = TemplateChange {
        group: Some(Some("wh4b-users".into())),
        ..TemplateChange::default()
    };
    h.admin
        .set_cert_template("Hello authentication", &change)
        .await
        .unwrap();
    let before = h.counts().await;
    let response = register(&h, &device, &key, &request, &request, &token).await;
    refused_whole(&h, before, response, "LK-CERT-003").await;
    assert!(h.admin.keys(Some(UPN)).await.unwrap().is_empty());
}
