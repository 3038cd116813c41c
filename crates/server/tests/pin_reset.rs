//! The PIN-recovery service (`POST /v1/pin/reset`, docs/pin-reset.md) over real HTTP: the
//! recovery secret answered once, to the request's own key only, after a fresh MFA; every
//! refusal with its code and only its audit line; the secret nowhere in the database or the
//! audit; the recovery key's rotation with its grace period.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::refused_with_its_audit_line_only;
use common::log::captured_log;
use common::*;
use latchkey_pin_recovery::{seal_secret, EphemeralKey, RecoverySecret};
use latchkey_proto::api::pin_reset::{
    blob_aad, blob_binding, reset_fields, PinRecoveryKey, PinResetResponse, RecoveryBlob,
};
use latchkey_proto::proof::{proof_message, Purpose};
use rand::rngs::OsRng;
use serde_json::{json, Value};

const RESET: &str = "/v1/pin/reset";

fn policy(tenant: &str, value: bool) -> String {
    format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target>\
         <LocURI>./Device/Vendor/MSFT/PassportForWork/{tenant}/Policies/EnablePinRecovery</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>{value}</Data></Item>\
         </Replace></SyncBody></SyncML>"
    )
}

async fn set_recovery(h: &Harness, on: bool) {
    h.admin
        .apply_syncml(&policy(&h.tenant_id, on), None)
        .await
        .unwrap();
}

async fn recovery_key(h: &Harness) -> PinRecoveryKey {
    let (status, body) = h.get("/v1/pin/recovery-key").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// What a device keeps: the secret (only in the test) and its blob.
struct Kept {
    secret: RecoverySecret,
    blob: RecoveryBlob,
}

async fn blob_for(h: &Harness, device_id: &str, upn: &str, key_id: &str) -> Kept {
    let key = recovery_key(h).await;
    let secret = RecoverySecret::generate(&mut OsRng);
    let aad = blob_aad(&h.tenant_id, device_id, upn, key_id);
    let blob = seal_secret(&key, &aad, &secret, &mut OsRng).unwrap();
    Kept { secret, blob }
}

/// A signed reset request for `e`'s key carrying `blob`; `signer` signs as the device.
async fn reset_body(
    h: &Harness,
    e: &Enrolled,
    blob: &RecoveryBlob,
    answer: &EphemeralKey,
) -> Value {
    let nonce = h.nonce(Purpose::PinReset).await;
    let mut req = latchkey_proto::api::pin_reset::PinResetRequest {
        device_id: e.device.id.clone(),
        upn: e.upn.clone(),
        key_id: e.key.key_id(),
        nonce,
        blob: blob.clone(),
        response_key: answer.public_b64(),
        device_signature: String::new(),
    };
    let binding = blob_binding(&req.blob);
    let msg = proof_message(
        Purpose::PinReset,
        &req.nonce,
        &reset_fields(&h.tenant_id, &req, &binding),
    );
    req.device_signature = e.device.sign(&msg);
    serde_json::to_value(req).unwrap()
}

async fn setup(h: &Harness, upn: &str, key: usize) -> (Enrolled, Kept) {
    let e = enrolled(h, upn, rsa_key(key)).await;
    let kept = blob_for(h, &e.device.id, &e.upn, &e.key.key_id()).await;
    (e, kept)
}

/// Posts `body` and asserts the refusal's code and that only its audit line was written.
async fn refused(h: &Harness, body: &Value, token: Option<&str>, code: &str) {
    let before = h.counts().await;
    let response = h.post(RESET, body, token).await;
    refused_with_its_audit_line_only(h, before, response, code, "pin_reset_refuse").await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_answers_the_secret_once_to_the_requests_own_key() {
    let log = captured_log();
    let h = Harness::start().await;
    set_recovery(&h, true).await;
    let (e, kept) = setup(&h, "kim@example.com", 0).await;
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let device_key = EphemeralKey::generate(&mut OsRng);
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    let before = h.counts().await;
    let (status, answer) = h.post(RESET, &body, Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
    let answer: PinResetResponse = serde_json::from_value(answer).unwrap();
    let nonce = body["nonce"].as_str().unwrap();
    let opened = device_key.open_answer(&answer, nonce).unwrap();
    assert_eq!(opened.as_bytes(), kept.secret.as_bytes());
    assert_eq!(answer.recovery_key, recovery_key(&h).await);
    // Someone who saw the answer but not the device's one-request key learns nothing.
    let eavesdropper = EphemeralKey::generate(&mut OsRng);
    assert!(eavesdropper.open_answer(&answer, nonce).is_err());

    let after = h.counts().await;
    assert_eq!(after.pin_recovery_answers, before.pin_recovery_answers + 1);
    assert_eq!(after.used_nonces, before.used_nonces + 1);
    assert_eq!(after.keys, before.keys, "the key stays registered");
    let mut audit = h.audit().await;
    let last = audit.pop().unwrap();
    let request = audit.pop().unwrap();
    assert_eq!(
        (request.event.as_str(), request.outcome.as_str()),
        ("pin_reset_request", "success")
    );
    assert_eq!(after.audit, before.audit + 2);
    assert_eq!(
        (last.event.as_str(), last.outcome.as_str()),
        ("pin_reset", "success")
    );
    assert!(last.reason.unwrap_or_default().contains("non-destructive"));

    // The same blob again, with a fresh nonce and MFA: never answered twice.
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let again = reset_body(&h, &e, &kept.blob, &device_key).await;
    let before = h.counts().await;
    let response = h.post(RESET, &again, Some(&token)).await;
    refused_with_its_audit_line_only(&h, before, response, "LK-PINR-005", "pin_reset_refuse").await;
    // The very same request again: its nonce is spent.
    let before = h.counts().await;
    let response = h.post(RESET, &body, Some(&token)).await;
    refused_with_its_audit_line_only(&h, before, response, "LK-NONCE-003", "pin_reset_refuse")
        .await;

    // The secret is in neither the database, nor the audit trail, nor the service's log.
    let logged = log.lock().unwrap().clone();
    assert!(!logged.is_empty(), "the log capture works");
    let audit = serde_json::to_string(&h.audit().await).unwrap();
    let needle = latchkey_proto::b64::encode(kept.secret.as_bytes());
    assert!(!audit.contains(&needle));
    assert!(
        !contains(&logged, kept.secret.as_bytes()) && !contains(&logged, needle.as_bytes()),
        "the recovery secret is in the service's log"
    );
    for entry in std::fs::read_dir(h.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, kept.secret.as_bytes()) && !contains(&bytes, needle.as_bytes()),
                "the recovery secret is in {}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_their_codes_and_write_only_their_audit_line() {
    let h = Harness::start().await;
    set_recovery(&h, true).await;
    let (e, kept) = setup(&h, "kim@example.com", 0).await;
    let device_key = EphemeralKey::generate(&mut OsRng);

    // No token; a password-only token; another user's token; a token older than ten minutes.
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    refused(&h, &body, None, "LK-PINR-006").await;
    let pwd = h.pwd_token(&e.upn).await;
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    refused(&h, &body, Some(&pwd), "LK-PINR-006").await;
    let bob = h.add_user("bob@example.com").await;
    let bobs = h.mfa_token("bob@example.com", &bob).await;
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    refused(&h, &body, Some(&bobs), "LK-AUTH-006").await;
    let stale = h.mfa_token(&e.upn, &e.secret).await;
    h.clock.advance(time::Duration::seconds(601));
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    // An enrolment token lives ten minutes: past that it is refused as a token already.
    refused(&h, &body, Some(&stale), "LK-AUTH-004").await;

    let token = h.mfa_token(&e.upn, &e.secret).await;
    // A wrong TOTP code never gets a token at all.
    let (status, wrong) = h.password(&e.upn, PASSWORD, Some("000000")).await;
    assert_eq!(status, 401, "{wrong}");

    // A blob made for another device, for another user, for another key; an altered one.
    for (device, upn, key) in [
        ("another-device", e.upn.as_str(), e.key.key_id()),
        (e.device.id.as_str(), "bob@example.com", e.key.key_id()),
        (e.device.id.as_str(), e.upn.as_str(), "00".repeat(32)),
    ] {
        let other = blob_for(&h, device, upn, &key).await;
        let body = reset_body(&h, &e, &other.blob, &device_key).await;
        refused(&h, &body, Some(&token), "LK-PINR-003").await;
    }
    let mut altered = kept.blob.clone();
    let mut bytes = latchkey_proto::b64::decode("c", &altered.ciphertext).unwrap();
    bytes[0] ^= 0x80;
    altered.ciphertext = latchkey_proto::b64::encode(&bytes);
    let body = reset_body(&h, &e, &altered, &device_key).await;
    refused(&h, &body, Some(&token), "LK-PINR-003").await;

    // A blob naming a recovery key the service never had; a malformed response key.
    let mut unknown = kept.blob.clone();
    unknown.recovery_key_id = "ab".repeat(16);
    let body = reset_body(&h, &e, &unknown, &device_key).await;
    refused(&h, &body, Some(&token), "LK-PINR-004").await;
    let mut body = reset_body(&h, &e, &kept.blob, &device_key).await;
    body["response_key"] = json!("AAAA");
    refused(&h, &body, Some(&token), "LK-PINR-002").await;

    // A proof by another device key; a swapped blob under a valid proof.
    let mut body = reset_body(&h, &e, &kept.blob, &device_key).await;
    body["device_signature"] = json!(Device::new().sign(b"not the message"));
    refused(&h, &body, Some(&token), "LK-DEV-003").await;
    let other = blob_for(&h, &e.device.id, &e.upn, &e.key.key_id()).await;
    let mut body = reset_body(&h, &e, &kept.blob, &device_key).await;
    body["blob"] = serde_json::to_value(&other.blob).unwrap();
    refused(&h, &body, Some(&token), "LK-DEV-003").await;

    // With EnablePinRecovery off, nothing is answered.
    set_recovery(&h, false).await;
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    refused(&h, &body, Some(&token), "LK-PINR-001").await;
    set_recovery(&h, true).await;

    // A disabled device; then, for another user, a deleted key.
    let (f, f_kept) = setup(&h, "fay@example.com", 1).await;
    let f_token = h.mfa_token(&f.upn, &f.secret).await;
    h.admin.delete_key(&f.key.key_id()).await.unwrap();
    let body = reset_body(&h, &f, &f_kept.blob, &device_key).await;
    refused(&h, &body, Some(&f_token), "LK-KEY-001").await;
    h.admin.disable_device(&e.device.id).await.unwrap();
    let body = reset_body(&h, &e, &kept.blob, &device_key).await;
    refused(&h, &body, Some(&token), "LK-DEV-002").await;
    assert_eq!(h.counts().await.pin_recovery_answers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_opens_old_blobs_for_its_grace_period_only() {
    let h = Harness::start().await;
    set_recovery(&h, true).await;
    let (e, first) = setup(&h, "kim@example.com", 0).await;
    let second = blob_for(&h, &e.device.id, &e.upn, &e.key.key_id()).await;
    let old = recovery_key(&h).await;
    let new_id = h.admin.pin_recovery_rotate(2).await.unwrap();
    let new = recovery_key(&h).await;
    assert_eq!(new.key_id, new_id);
    assert_ne!(new, old);
    let keys = h.admin.pin_recovery_keys().await.unwrap();
    let states: Vec<_> = keys.iter().map(|k| (k.key_id.as_str(), k.state)).collect();
    assert_eq!(
        states,
        [(new_id.as_str(), "current"), (old.key_id.as_str(), "grace")]
    );

    // Within the grace period the old blob opens, and the answer names the new key.
    let device_key = EphemeralKey::generate(&mut OsRng);
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let body = reset_body(&h, &e, &first.blob, &device_key).await;
    let (status, answer) = h.post(RESET, &body, Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["recovery_key"]["key_id"], json!(new_id));

    // After it, the old key is gone: LK-PINR-004.
    h.clock
        .advance(time::Duration::days(2) + time::Duration::seconds(1));
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let body = reset_body(&h, &e, &second.blob, &device_key).await;
    let before = h.counts().await;
    let response = h.post(RESET, &body, Some(&token)).await;
    refused_with_its_audit_line_only(&h, before, response, "LK-PINR-004", "pin_reset_refuse").await;
    // A second rotation erases the expired key's private half.
    h.admin.pin_recovery_rotate(30).await.unwrap();
    let keys = h.admin.pin_recovery_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys.last().map(|k| k.state), Some("retired"));
    // A grace period outside 1..=365 days is refused.
    let err = h.admin.pin_recovery_rotate(0).await.unwrap_err();
    assert_eq!(err.code().as_str(), "LK-PINR-007");
}
