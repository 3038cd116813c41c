//! Device keys of both kinds the service accepts: RSA (what the agent makes) and P-256
//! (devices joined before), through join, registration, sign-in and renewal; and the keys
//! it refuses at join, each with LK-DEV-004 and no device written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;
use latchkey_proto::b64;
use latchkey_server::storage::Counts;
use rsa::pkcs8::EncodePublicKey;
use serde_json::json;

/// Joins `device` for a fresh MFA user, registers an RSA Hello key and signs in; returns
/// the user, the Hello key and the sign-in answer.
async fn join_and_sign_in(h: &Harness, upn: &str, device: &mut Device) -> (HelloKey, String) {
    let secret = h.add_user(upn).await;
    let token = h.mfa_token(upn, &secret).await;
    let (status, body) = device.join(h, &token, "cloud").await;
    assert_eq!(status, 200, "{body}");
    device.id = body["device_id"].as_str().unwrap().to_owned();
    let pem = body["device_certificate_pem"].as_str().unwrap();
    let der = latchkey_pki::pem_to_der(pem, "CERTIFICATE").unwrap();
    let cert = latchkey_pki::inspect_certificate(&der).unwrap();
    assert_eq!(
        b64::encode(&cert.spki_der),
        device.spki_b64(),
        "the device certificate certifies the device's own key"
    );
    let key = rsa_key(0);
    let pwd = h.pwd_token(upn).await;
    let (status, body) = h.register(device, upn, &key, Some(&pwd)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = h.signin(device, upn, &key).await;
    assert_eq!(status, 200, "{body}");
    (key, body["prt"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_device_key_joins_registers_signs_in_and_renews() {
    let h = Harness::start().await;
    let mut device = Device::rsa(0);
    let (key, prt) = join_and_sign_in(&h, "rosa@example.com", &mut device).await;
    let (status, body) = h.renew(&device, &prt).await;
    assert_eq!(status, 200, "{body}");
    let prt = body["prt"].as_str().unwrap().to_owned();

    // A proof by another RSA key, for this device's id, is refused; nothing but the
    // failure's audit line is written.
    let impostor = Device {
        key: Device::rsa(1).key,
        id: device.id.clone(),
    };
    let before = h.counts().await;
    assert_error(
        &h.signin(&impostor, "rosa@example.com", &key).await,
        "LK-DEV-003",
    );
    only_the_failure_audited(&h, before, "LK-DEV-003").await;
    let before = h.counts().await;
    assert_error(&h.renew(&impostor, &prt).await, "LK-DEV-003");
    only_the_failure_audited(&h, before, "LK-DEV-003").await;
}

/// Asserts that one failure line with `code` is all that was written since `before`.
async fn only_the_failure_audited(h: &Harness, before: Counts, code: &str) {
    let after = h.counts().await;
    assert_eq!(
        Counts {
            audit: before.audit + 1,
            ..before
        },
        after
    );
    let last = h.audit().await.pop().unwrap();
    assert_eq!(
        (last.outcome.as_str(), last.reason.as_deref()),
        ("failure", Some(code))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p256_device_key_of_an_earlier_join_still_works() {
    let h = Harness::start().await;
    let mut device = Device::new();
    let (_, prt) = join_and_sign_in(&h, "pat@example.com", &mut device).await;
    let (status, body) = h.renew(&device, &prt).await;
    assert_eq!(status, 200, "{body}");
}

/// SubjectPublicKeyInfo DER of keys the service must refuse as device keys.
fn refused_device_keys() -> Vec<(&'static str, Vec<u8>)> {
    let small = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
    let small = small.to_public_key().to_public_key_der().unwrap();
    let good = match Device::rsa(0).key {
        HelloKey::Rsa(key) => key.to_public_key().to_public_key_der().unwrap(),
        HelloKey::P256(_) => unreachable!(),
    };
    let mut trailing = good.as_bytes().to_vec();
    trailing.push(0);
    // id-Ed25519 SubjectPublicKeyInfo (RFC 8410) with a 32-byte key.
    let mut ed25519 = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    ed25519.extend_from_slice(&[7u8; 32]);
    let p256 = Device::new().spki_b64();
    let mut off_curve = b64::decode("spki", &p256).unwrap();
    let last = off_curve.len() - 1;
    off_curve[last] ^= 1;
    vec![
        ("RSA-1024", small.as_bytes().to_vec()),
        ("RSA with a byte after the SPKI", trailing),
        ("Ed25519", ed25519),
        ("P-256 point off the curve", off_curve),
        ("not DER", b"not a key".to_vec()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacceptable_device_keys_are_refused_at_join_and_nothing_is_written() {
    let h = Harness::start().await;
    let secret = h.add_user("eve@example.com").await;
    let token = h.mfa_token("eve@example.com", &secret).await;
    // A real signer for the proof, so only the key's kind can be the reason.
    let signer = Device::rsa(0);
    for (what, spki) in refused_device_keys() {
        let mut body = signer.join_body(&h, "cloud").await;
        let spki = b64::encode(&spki);
        let nonce = body["nonce"].as_str().unwrap().to_owned();
        let msg = latchkey_proto::proof::proof_message(
            latchkey_proto::proof::Purpose::Join,
            &nonce,
            &[&h.tenant_id, &spki],
        );
        body["device_public_key"] = json!(spki);
        body["signature"] = json!(signer.sign(&msg));
        let before = h.counts().await;
        let response = h.post("/v1/devices/join", &body, Some(&token)).await;
        assert_eq!(response.1["code"], "LK-DEV-004", "{what}: {}", response.1);
        assert_error(&response, "LK-DEV-004");
        let after = h.counts().await;
        assert_eq!(after.devices, before.devices, "{what}");
        assert_eq!(after.used_nonces, before.used_nonces, "{what}");
    }
}
