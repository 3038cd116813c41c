//! Certificate renewal over HTTP, time moved on the service clock: inside the renewal
//! window a new certificate for the same key (the old one superseded, not revoked);
//! before it LK-CERT-007; after expiry LK-CERT-008 and a fresh enrolment with a fresh MFA
//! token; a key proof by another key LK-CERT-010. Nothing is written on a refusal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::{enroll, refused_with_its_audit_line_only, renew_body};
use common::{enrolled, rsa_key, Enrolled, Harness};
use latchkey_server::storage::Counts;
use serde_json::Value;
use time::Duration;

const RENEW: &str = "/v1/certificates/renew";

/// Asserts `response` is refused with `code`, and that only its audit line was written.
async fn refused(h: &Harness, before: Counts, response: (u16, Value), code: &str) {
    refused_with_its_audit_line_only(h, before, response, code, "cert_refuse").await;
}

async fn with_cert(h: &Harness) -> (Enrolled, String) {
    let e = enrolled(h, "alice@example.com", rsa_key(0)).await;
    let (status, answer) = enroll(h, &e).await;
    assert_eq!(status, 200, "{answer}");
    (e, answer["serial"].as_str().unwrap().to_owned())
}

fn spki_of(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    latchkey_pki::inspect_certificate(&der).unwrap().spki_der
}

#[tokio::test]
async fn inside_the_window_a_new_certificate_for_the_same_key() {
    let h = Harness::start().await;
    let (e, serial) = with_cert(&h).await;
    // One year, renewal in the last 20 %: the window opens after 292 days.
    h.clock.advance(Duration::days(300));
    let body = renew_body(&h, &e, &serial, &e.key).await;
    let before = h.counts().await;
    let (status, answer) = h.post(RENEW, &body, None).await;
    assert_eq!(status, 200, "{answer}");
    let new_serial = answer["serial"].as_str().unwrap();
    assert_ne!(new_serial, serial);
    assert_eq!(h.counts().await.certificates, before.certificates + 1);
    let old = h.admin.certificate(&serial).await.unwrap();
    assert_eq!(old.record.state, "superseded", "renewed, not revoked");
    assert!(old.record.revoked_at.is_none());
    let new = h.admin.certificate(new_serial).await.unwrap();
    assert_eq!(new.record.renewed_from.as_deref(), Some(serial.as_str()));
    assert_eq!(new.record.key_id.as_deref(), Some(e.key.key_id().as_str()));
    assert_eq!(
        spki_of(answer["certificate"].as_str().unwrap()),
        spki_of(&old.pem)
    );
    let audit = h.audit().await;
    assert!(audit
        .iter()
        .any(|l| l.event == "cert_renew"
            && l.reason.as_deref().is_some_and(|r| r.contains(new_serial))));

    // The superseded one cannot be renewed again (LK-CERT-016), nothing written.
    let body = renew_body(&h, &e, &serial, &e.key).await;
    let before = h.counts().await;
    let r = h.post(RENEW, &body, None).await;
    refused(&h, before, r, "LK-CERT-016").await;
}

#[tokio::test]
async fn before_the_window_no_renewal() {
    let h = Harness::start().await;
    let (e, serial) = with_cert(&h).await;
    h.clock.advance(Duration::days(200));
    let body = renew_body(&h, &e, &serial, &e.key).await;
    let before = h.counts().await;
    let r = h.post(RENEW, &body, None).await;
    refused(&h, before, r, "LK-CERT-007").await;
}

#[tokio::test]
async fn a_renewal_proof_by_another_key_is_refused() {
    let h = Harness::start().await;
    let (e, serial) = with_cert(&h).await;
    h.clock.advance(Duration::days(300));
    let body = renew_body(&h, &e, &serial, &rsa_key(1)).await;
    let before = h.counts().await;
    let r = h.post(RENEW, &body, None).await;
    refused(&h, before, r, "LK-CERT-010").await;
}

#[tokio::test]
async fn a_revoked_or_unknown_certificate_is_not_renewed() {
    let h = Harness::start().await;
    let (e, serial) = with_cert(&h).await;
    h.admin
        .revoke_certificate(&serial, "key-compromise")
        .await
        .unwrap();
    h.clock.advance(Duration::days(300));
    let body = renew_body(&h, &e, &serial, &e.key).await;
    let before = h.counts().await;
    let r = h.post(RENEW, &body, None).await;
    refused(&h, before, r, "LK-CERT-009").await;
    let body = renew_body(&h, &e, "0123456789abcdef", &e.key).await;
    let before = h.counts().await;
    let r = h.post(RENEW, &body, None).await;
    refused(&h, before, r, "LK-CERT-006").await;
}

#[tokio::test]
async fn after_expiry_a_fresh_mfa_enrolment_is_needed() {
    let h = Harness::start().await;
    let (e, serial) = with_cert(&h).await;
    h.clock.advance(Duration::days(366));
    let body = renew_body(&h, &e, &serial, &e.key).await;
    let before = h.counts().await;
    let r = h.post(RENEW, &body, None).await;
    refused(&h, before, r, "LK-CERT-008").await;
    // Enrolment again with a fresh MFA sign-in works.
    let (status, answer) = enroll(&h, &e).await;
    assert_eq!(status, 200, "{answer}");
    assert_ne!(answer["serial"].as_str().unwrap(), serial);
}
