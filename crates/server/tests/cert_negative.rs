//! Certificate enrolment refusals over HTTP: each answers its stable code, writes only its
//! `cert_refuse` audit line and issues nothing (no certificate row, no nonce consumed).
//! A request asking for more than the template (extra EKUs, CA:TRUE, another UPN) is
//! issued exactly per template.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::{
    csr, enroll, enroll_body, openssl, openssl_csr, refused_with_its_audit_line_only, write_pems,
};
use common::{enrolled, rsa_key, Enrolled, Harness};
use latchkey_server::storage::Counts;
use latchkeyd::data_admin::TemplateChange;
use serde_json::Value;

const ENROLL: &str = "/v1/certificates/enroll";

/// Asserts `response` is refused with `code`, and that only its audit line was written.
async fn refused(h: &Harness, before: Counts, response: (u16, Value), code: &str) {
    refused_with_its_audit_line_only(h, before, response, code, "cert_refuse").await;
}

async fn alice(h: &Harness) -> Enrolled {
    enrolled(h, "alice@example.com", rsa_key(0)).await
}

/// A well-formed enrolment body for `e`'s key, and a fresh MFA token.
async fn good(h: &Harness, e: &Enrolled) -> (Value, String) {
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let request = csr(&e.key, &e.key, &e.upn);
    (
        enroll_body(h, e, &e.key.key_id(), &request, None).await,
        token,
    )
}

#[tokio::test]
async fn a_request_for_another_key_than_the_registered_one_is_refused() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let token = h.mfa_token(&e.upn, &e.secret).await;
    // A valid request for key 1, naming the registered key 0.
    let other = rsa_key(1);
    let request = csr(&other, &other, &e.upn);
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-CERT-002").await;
}

#[tokio::test]
async fn a_request_not_signed_by_its_own_key_is_refused() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let request = csr(&e.key, &rsa_key(1), &e.upn);
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-CERT-001").await;
}

#[tokio::test]
async fn a_deleted_key_a_disabled_device_or_user_gets_nothing() {
    // Deleted key.
    let h = Harness::start().await;
    let e = alice(&h).await;
    let (body, token) = good(&h, &e).await;
    h.admin.delete_key(&e.key.key_id()).await.unwrap();
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-KEY-001").await;

    // Disabled device.
    let h = Harness::start().await;
    let e = alice(&h).await;
    let (body, token) = good(&h, &e).await;
    h.admin.disable_device(&e.device.id).await.unwrap();
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-DEV-002").await;

    // Disabled user (the token was obtained before).
    let h = Harness::start().await;
    let e = alice(&h).await;
    let (body, token) = good(&h, &e).await;
    h.admin.disable_user(&e.upn).await.unwrap();
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-AUTH-007").await;
}

#[tokio::test]
async fn a_user_outside_the_templates_group_may_not_enrol() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    h.admin.group_add("hello-users").await.unwrap();
    h.admin
        .set_cert_template(
            "Hello authentication",
            &TemplateChange {
                group: Some(Some("hello-users".into())),
                ..TemplateChange::default()
            },
        )
        .await
        .unwrap();
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let request = csr(&e.key, &e.key, &e.upn);
    // Named: LK-CERT-003.
    let body = enroll_body(
        &h,
        &e,
        &e.key.key_id(),
        &request,
        Some("Hello authentication"),
    )
    .await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-CERT-003").await;
    // Not named: no template admits her, LK-CERT-003 too.
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-CERT-003").await;
    // No such template: LK-CERT-004.
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, Some("VPN")).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-CERT-004").await;
    // In the group: issued.
    h.admin
        .group_member("hello-users", Some(&e.upn), None, true)
        .await
        .unwrap();
    let body = enroll_body(
        &h,
        &e,
        &e.key.key_id(),
        &request,
        Some("Hello authentication"),
    )
    .await;
    let (status, answer) = h.post(ENROLL, &body, Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn without_any_template_no_certificate() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let (body, token) = good(&h, &e).await;
    h.sql("DELETE FROM cert_templates").await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-CERT-005").await;
}

#[tokio::test]
async fn what_a_request_asks_beyond_the_template_is_not_granted() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let request = openssl_csr(
        h.dir.path(),
        &e.key,
        "mallory@example.com",
        &[
            "basicConstraints=critical,CA:TRUE",
            "extendedKeyUsage=codeSigning,serverAuth,OCSPSigning",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:mallory@example.com,email:mallory@example.com,DNS:evil.example.com",
        ],
    );
    // OpenSSL accepts its own request: it is well-formed and self-signed.
    let req_file = h.dir.path().join("greedy.der");
    std::fs::write(&req_file, &request).unwrap();
    let (ok, text) = openssl(&[
        "req",
        "-inform",
        "DER",
        "-in",
        req_file.to_str().unwrap(),
        "-verify",
        "-noout",
    ]);
    assert!(ok, "{text}");
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let (status, answer) = h.post(ENROLL, &body, Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
    let pems = write_pems(&h, &answer, "greedy");
    let (ok, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        pems.leaf.to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(
        !text.contains("mallory"),
        "another name was granted: {text}"
    );
    assert!(!text.contains("evil.example.com"), "{text}");
    assert!(!text.contains("CA:TRUE"), "{text}");
    assert!(!text.contains("Code Signing"), "{text}");
    assert!(!text.contains("TLS Web Server Authentication"), "{text}");
    assert!(!text.contains("OCSP Signing"), "{text}");
    assert!(!text.contains("Certificate Sign"), "{text}");
    assert!(text.contains("Subject: CN = alice@example.com"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
}

#[tokio::test]
async fn a_replayed_enrolment_is_refused_and_issues_nothing() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let (body, token) = good(&h, &e).await;
    let (status, answer) = h.post(ENROLL, &body, Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-NONCE-003").await;
    assert_eq!(h.counts().await.certificates, 1);
}

#[tokio::test]
async fn enrolment_needs_a_fresh_mfa_token_of_this_user() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let bob_secret = h.add_user("bob@example.com").await;
    let request = csr(&e.key, &e.key, &e.upn);

    // No token.
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, None).await;
    refused(&h, before, r, "LK-AUTH-004").await;

    // A password-only token.
    let pwd = h.pwd_token(&e.upn).await;
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&pwd)).await;
    refused(&h, before, r, "LK-AUTH-005").await;

    // Another user's MFA token.
    let bob = h.mfa_token("bob@example.com", &bob_secret).await;
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&bob)).await;
    refused(&h, before, r, "LK-AUTH-006").await;

    // An enrolment token past its ten minutes (service clock): expired.
    let token = h.mfa_token(&e.upn, &e.secret).await;
    h.clock.advance(time::Duration::minutes(11));
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-AUTH-004").await;

    // A Hello sign-in's access token (valid an hour) older than ten minutes.
    let (status, signin) = h.signin(&e.device, &e.upn, &e.key).await;
    assert_eq!(status, 200, "{signin}");
    let access = signin["access_token"].as_str().unwrap().to_owned();
    h.clock.advance(time::Duration::minutes(11));
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&access)).await;
    refused(&h, before, r, "LK-CERT-013").await;

    // A fresh one works.
    let (status, signin) = h.signin(&e.device, &e.upn, &e.key).await;
    assert_eq!(status, 200, "{signin}");
    let access = signin["access_token"].as_str().unwrap().to_owned();
    let body = enroll_body(&h, &e, &e.key.key_id(), &request, None).await;
    let (status, answer) = h.post(ENROLL, &body, Some(&access)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_wrong_device_proof_is_refused() {
    let h = Harness::start().await;
    let e = alice(&h).await;
    let (mut body, token) = good(&h, &e).await;
    // The proof over another template field than the request's.
    body["template"] = serde_json::json!("Hello authentication");
    let before = h.counts().await;
    let r = h.post(ENROLL, &body, Some(&token)).await;
    refused(&h, before, r, "LK-DEV-003").await;
    // Untouched, it is issued.
    let (status, answer) = enroll(&h, &e).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn the_key_registration_names_the_auto_enrolment_template() {
    let h = Harness::start().await;
    let secret = h.add_user("carol@example.com").await;
    let token = h.mfa_token("carol@example.com", &secret).await;
    let device = h.join(&token, "cloud").await;
    let pwd = h.pwd_token("carol@example.com").await;
    let (status, body) = h
        .register(&device, "carol@example.com", &rsa_key(2), Some(&pwd))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("certificate_template").is_none_or(Value::is_null),
        "{body}"
    );
    h.admin
        .set_cert_template(
            "Hello authentication",
            &TemplateChange {
                auto_enroll: Some(true),
                ..TemplateChange::default()
            },
        )
        .await
        .unwrap();
    let mfa = h.mfa_token("carol@example.com", &secret).await;
    let (status, body) = h
        .register(&device, "carol@example.com", &rsa_key(1), Some(&mfa))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["certificate_template"], "Hello authentication");
}
