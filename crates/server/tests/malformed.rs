//! Malformed JSON, oversized bodies, wrong media types and methods, and garbage base64 on
//! every endpoint: a JSON error with its code, and nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use latchkey_proto::proof::Purpose;
use serde_json::{json, Value};

const POST_ROUTES: [&str; 8] = [
    "/v1/nonce",
    "/v1/auth/password",
    "/v1/devices/join",
    "/v1/devices/leave",
    "/v1/keys",
    "/v1/signin",
    "/v1/prt/renew",
    "/v1/token",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_on_every_endpoint() {
    let h = Harness::start().await;
    let _ = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let before = h.counts().await;
    for route in POST_ROUTES {
        assert_error(
            &h.post_raw(route, b"{\"upn\": ".to_vec()).await,
            "LK-REQ-001",
        );
        assert_error(&h.post_raw(route, b"[1, 2]".to_vec()).await, "LK-REQ-001");
        assert_error(
            &h.post_raw(route, b"{\"surprise\": 1}".to_vec()).await,
            "LK-REQ-001",
        );
        assert_error(&h.post_raw(route, vec![0xff, 0xfe]).await, "LK-REQ-001");
        let mut big = b"{\"upn\": \"".to_vec();
        big.extend(std::iter::repeat_n(b'a', 70 * 1024));
        big.extend(b"\"}");
        assert_error(&h.post_raw(route, big).await, "LK-REQ-002");
        let resp = h
            .client
            .post(format!("{}{route}", h.url))
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_error(&(status, resp.json().await.unwrap()), "LK-REQ-005");
        let resp = h
            .client
            .get(format!("{}{route}", h.url))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_error(&(status, resp.json().await.unwrap()), "LK-REQ-006");
    }
    let resp = h
        .client
        .get(format!("{}/v2/nothing", h.url))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_error(&(status, resp.json().await.unwrap()), "LK-REQ-004");
    assert_eq!(h.counts().await, before, "nothing written, not even audit");
}

/// Posts `body` with `field` (a JSON pointer) replaced by garbage base64; expects `code`
/// and exactly one failure audit line.
async fn garbage(
    h: &Harness,
    route: &str,
    mut body: Value,
    pointer: &str,
    bearer: Option<&str>,
    code: &str,
) {
    *body.pointer_mut(pointer).unwrap() = json!("!!not base64!!");
    let before = h.counts().await;
    assert_error(&h.post(route, &body, bearer).await, code);
    let after = h.counts().await;
    assert_eq!(after.audit, before.audit + 1, "{route} {pointer}");
    assert_eq!(
        latchkey_server::storage::Counts {
            audit: before.audit,
            ..after
        },
        before,
        "{route} {pointer}: nothing but the audit line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_base64_and_bad_keys_on_every_endpoint() {
    let h = Harness::start().await;
    let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let token = h.mfa_token(&alice.upn, &alice.secret).await;

    // Join.
    let device = Device::new();
    for field in ["/device_public_key", "/signature"] {
        let body = device.join_body(&h, "cloud").await;
        garbage(
            &h,
            "/v1/devices/join",
            body,
            field,
            Some(&token),
            "LK-REQ-003",
        )
        .await;
    }
    let mut body = device.join_body(&h, "cloud").await;
    body["device_public_key"] = json!(latchkey_proto::b64::encode(b"not a key"));
    assert_error(
        &h.post("/v1/devices/join", &body, Some(&token)).await,
        "LK-DEV-004",
    );
    let mut body = device.join_body(&h, "cloud").await;
    body["join_type"] = json!("sideways");
    assert_error(
        &h.post("/v1/devices/join", &body, Some(&token)).await,
        "LK-REQ-001",
    );
    assert_error(
        &device.join(&h, "garbage.token.here", "cloud").await,
        "LK-AUTH-004",
    );

    // Key registration.
    let key = rsa_key(1);
    let nonce = h.nonce(Purpose::RegisterKey).await;
    let base = json!({
        "device_id": alice.device.id, "upn": alice.upn, "nonce": nonce,
        "public_key": key.wire(), "device_signature": "AAAA", "key_signature": "AAAA",
    });
    for field in ["/public_key/data", "/device_signature", "/key_signature"] {
        garbage(
            &h,
            "/v1/keys",
            base.clone(),
            field,
            Some(&token),
            "LK-REQ-003",
        )
        .await;
    }
    let mut bad_blob = base.clone();
    bad_blob["public_key"]["data"] = json!(latchkey_proto::b64::encode(b"RSA1 but short"));
    assert_error(
        &h.post("/v1/keys", &bad_blob, Some(&token)).await,
        "LK-KEY-004",
    );
    let mut small = base.clone();
    let blob = latchkey_proto::bcrypt::RsaPublicBlob::new(&[1, 0, 1], &[0xc5; 128]).to_bytes();
    small["public_key"]["data"] = json!(latchkey_proto::b64::encode(blob));
    assert_error(
        &h.post("/v1/keys", &small, Some(&token)).await,
        "LK-KEY-004",
    );
    let mut off_curve = base.clone();
    off_curve["public_key"] =
        json!({"alg": "P-256", "data": latchkey_proto::b64::encode([4u8; 65])});
    assert_error(
        &h.post("/v1/keys", &off_curve, Some(&token)).await,
        "LK-KEY-004",
    );
    let mut bad_alg = base.clone();
    bad_alg["public_key"]["alg"] = json!("DSA");
    assert_error(
        &h.post("/v1/keys", &bad_alg, Some(&token)).await,
        "LK-REQ-001",
    );

    // Sign-in.
    for field in ["/assertion", "/device_signature"] {
        let body = h
            .signin_body(&alice.device, &alice.upn, &alice.key.key_id(), &alice.key)
            .await;
        garbage(&h, "/v1/signin", body, field, None, "LK-REQ-003").await;
    }
    // Renewal and leave.
    let nonce = h.nonce(Purpose::RenewPrt).await;
    let body = json!({"prt": "x", "device_id": alice.device.id, "nonce": nonce, "device_signature": "AAAA"});
    garbage(
        &h,
        "/v1/prt/renew",
        body,
        "/device_signature",
        None,
        "LK-REQ-003",
    )
    .await;
    let nonce = h.nonce(Purpose::Leave).await;
    let body = json!({"device_id": alice.device.id, "nonce": nonce, "signature": "AAAA"});
    garbage(
        &h,
        "/v1/devices/leave",
        body,
        "/signature",
        None,
        "LK-REQ-003",
    )
    .await;
    // Garbage nonces and tokens.
    let body = json!({"device_id": alice.device.id, "nonce": "%%%", "signature": "AAAA"});
    assert_error(
        &h.post("/v1/devices/leave", &body, None).await,
        "LK-NONCE-001",
    );
    assert_error(
        &h.token(&alice.device, "%%%", "api://x").await,
        "LK-PRT-001",
    );
    assert_error(&h.token(&alice.device, "x", "").await, "LK-REQ-003");
    // A user name with a control character is refused as invalid before any work.
    assert_error(
        &h.password("\u{0}", "\u{0}", Some("12")).await,
        "LK-REQ-003",
    );
    assert_error(
        &h.password("nobody@example.com", "\u{0}", Some("12")).await,
        "LK-AUTH-001",
    );
}
