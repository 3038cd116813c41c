//! A primary refresh token is not a bearer token: `POST /v1/token` and `POST /v1/prt/renew`
//! need a proof by the key of the device the token was issued to, over a fresh nonce, bound
//! to the token and (for tokens) the audience, good once. And tokens are issued only for
//! audiences the tenant knows. Every refusal is checked for its code and for what it wrote
//! (only its audit line: no token row, no consumed nonce).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;
use latchkey_proto::proof::{proof_message, prt_binding, Purpose};
use latchkey_server::storage::Counts;
use serde_json::{json, Value};

/// Asserts that only one failure audit line with `code` was written since `before`.
async fn only_audited(h: &Harness, before: Counts, code: &str) {
    assert_eq!(
        h.counts().await,
        Counts {
            audit: before.audit + 1,
            ..before
        },
        "a refused request ({code}) wrote more than its audit line"
    );
    let last = h.audit().await.pop().unwrap();
    assert_eq!(last.outcome, "failure");
    assert_eq!(last.reason.as_deref(), Some(code));
}

async fn signed_in(h: &Harness, user: &Enrolled) -> String {
    let (status, session) = h.signin(&user.device, &user.upn, &user.key).await;
    assert_eq!(status, 200, "{session}");
    session["prt"].as_str().unwrap().to_owned()
}

/// The body with `pointer` set to `value`.
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body.pointer_mut(pointer).unwrap() = value;
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_prt_alone_or_with_another_devices_proof_gets_nothing() {
    let h = Harness::start().await;
    h.add_resource("api://payroll").await;
    let alice = enrolled(&h, "alice@example.com", p256_key()).await;
    let prt = signed_in(&h, &alice).await;
    let mallory = enrolled(&h, "mallory@example.com", p256_key()).await;

    // The token alone, as a bearer token was used before.
    let before = h.counts().await;
    let alone = json!({"prt": prt, "audience": "api://payroll"});
    assert_error(&h.post("/v1/token", &alone, None).await, "LK-PRT-003");
    only_audited(&h, before, "LK-PRT-003").await;
    // Part of a proof is no proof.
    let body = h.token_body(&alice.device, &prt, "api://payroll").await;
    for missing in ["device_id", "nonce", "device_signature"] {
        let mut partial = body.clone();
        partial.as_object_mut().unwrap().remove(missing);
        let before = h.counts().await;
        assert_error(&h.post("/v1/token", &partial, None).await, "LK-PRT-003");
        only_audited(&h, before, "LK-PRT-003").await;
    }

    // The token with a proof by another device's key, naming the token's device.
    let nonce = h.nonce(Purpose::Token).await;
    let msg = proof_message(
        Purpose::Token,
        &nonce,
        &[
            &h.tenant_id,
            &alice.device.id,
            &prt_binding(&prt),
            "api://payroll",
        ],
    );
    let forged = json!({
        "prt": prt,
        "audience": "api://payroll",
        "device_id": alice.device.id,
        "nonce": nonce,
        "device_signature": mallory.device.sign(&msg),
    });
    let before = h.counts().await;
    assert_error(&h.post("/v1/token", &forged, None).await, "LK-DEV-003");
    only_audited(&h, before, "LK-DEV-003").await;

    // The token with another device's own proof, naming that device.
    let before = h.counts().await;
    assert_error(
        &h.token(&mallory.device, &prt, "api://payroll").await,
        "LK-PRT-004",
    );
    only_audited(&h, before, "LK-PRT-004").await;

    // A refused request consumed nothing: the right proof over the same nonce still works
    // (once), and the issue consumes the nonce and is audited with the audience.
    let msg = proof_message(
        Purpose::Token,
        &nonce,
        &[
            &h.tenant_id,
            &alice.device.id,
            &prt_binding(&prt),
            "api://payroll",
        ],
    );
    let good = with(forged, "/device_signature", json!(alice.device.sign(&msg)));
    let before = h.counts().await;
    let (status, body) = h.post("/v1/token", &good, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        h.counts().await,
        Counts {
            used_nonces: before.used_nonces + 1,
            audit: before.audit + 1,
            ..before
        }
    );
    let last = h.audit().await.pop().unwrap();
    assert_eq!(
        (last.event.as_str(), last.outcome.as_str()),
        ("token", "success")
    );
    assert_eq!(last.actor.as_deref(), Some("alice@example.com"));
    assert_eq!(last.reason.as_deref(), Some("audience api://payroll"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_proof_is_good_once_for_its_token_and_audience_only() {
    let h = Harness::start().await;
    h.add_resource("api://payroll").await;
    h.add_resource("api://hr").await;
    let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let prt = signed_in(&h, &alice).await;
    let other_prt = signed_in(&h, &alice).await;

    // Replayed: the second use of the same proof is refused and issues nothing.
    let body = h.token_body(&alice.device, &prt, "api://payroll").await;
    assert_eq!(h.post("/v1/token", &body, None).await.0, 200);
    let before = h.counts().await;
    assert_error(&h.post("/v1/token", &body, None).await, "LK-NONCE-003");
    only_audited(&h, before, "LK-NONCE-003").await;

    // A proof for audience A is no proof for audience B (both registered).
    let body = h.token_body(&alice.device, &prt, "api://payroll").await;
    let before = h.counts().await;
    let moved = with(body.clone(), "/audience", json!("api://hr"));
    assert_error(&h.post("/v1/token", &moved, None).await, "LK-DEV-003");
    only_audited(&h, before, "LK-DEV-003").await;
    // Nor for another primary refresh token of the same device and user.
    let before = h.counts().await;
    let moved = with(body.clone(), "/prt", json!(other_prt));
    assert_error(&h.post("/v1/token", &moved, None).await, "LK-DEV-003");
    only_audited(&h, before, "LK-DEV-003").await;
    // An audience with surrounding spaces is not trimmed into another one.
    let before = h.counts().await;
    let spaced = with(body.clone(), "/audience", json!(" api://payroll"));
    assert_error(&h.post("/v1/token", &spaced, None).await, "LK-REQ-003");
    only_audited(&h, before, "LK-REQ-003").await;
    // A nonce of another purpose (a renewal's), signed as a token proof.
    let nonce = h.nonce(Purpose::RenewPrt).await;
    let msg = proof_message(
        Purpose::Token,
        &nonce,
        &[
            &h.tenant_id,
            &alice.device.id,
            &prt_binding(&prt),
            "api://payroll",
        ],
    );
    let wrong_purpose = with(
        with(body.clone(), "/nonce", json!(nonce)),
        "/device_signature",
        json!(alice.device.sign(&msg)),
    );
    let before = h.counts().await;
    assert_error(
        &h.post("/v1/token", &wrong_purpose, None).await,
        "LK-NONCE-004",
    );
    only_audited(&h, before, "LK-NONCE-004").await;
    // The untouched proof still works: the refusals consumed nothing.
    assert_eq!(h.post("/v1/token", &body, None).await.0, 200);

    // Sent eight times at once, one proof gives exactly one token.
    let body = h.token_body(&alice.device, &prt, "api://hr").await;
    let before = h.counts().await;
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, body) = (
            h.client.clone(),
            format!("{}/v1/token", h.url),
            body.clone(),
        );
        sends.spawn(async move {
            let resp = client.post(url).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }
    let results = sends.join_all().await;
    let ok = results.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.iter().filter(|(status, _)| *status != 200) {
        assert_error(r, "LK-NONCE-003");
    }
    let after = h.counts().await;
    assert_eq!(after.used_nonces, before.used_nonces + 1);
    assert_eq!(after.prts, before.prts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_issued_only_for_audiences_the_tenant_knows() {
    let h = Harness::start().await;
    let alice = enrolled(&h, "alice@example.com", p256_key()).await;
    let prt = signed_in(&h, &alice).await;

    // Unknown: refused, and the nonce is not consumed.
    let body = h.token_body(&alice.device, &prt, "api://payroll").await;
    let before = h.counts().await;
    assert_error(&h.post("/v1/token", &body, None).await, "LK-TOKEN-001");
    only_audited(&h, before, "LK-TOKEN-001").await;
    // Registered: the same request now gets its token.
    h.add_resource("api://payroll").await;
    assert_eq!(h.post("/v1/token", &body, None).await.0, 200);
    // Removed: no new tokens.
    h.admin.resource_remove("api://payroll").await.unwrap();
    let before = h.counts().await;
    assert_error(
        &h.token(&alice.device, &prt, "api://payroll").await,
        "LK-TOKEN-001",
    );
    only_audited(&h, before, "LK-TOKEN-001").await;
    // A prefix or a case variant of a registered resource is another audience.
    h.add_resource("api://hr").await;
    for near in ["api://h", "API://hr", "api://hr/"] {
        assert_error(&h.token(&alice.device, &prt, near).await, "LK-TOKEN-001");
    }

    // A registered application's client id is a known audience; the service's own API too.
    let app = h
        .admin
        .client_add("App", &["https://app.example/cb".to_owned()], true)
        .await
        .unwrap();
    let (status, body) = h.token(&alice.device, &prt, &app.client_id).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = h.token(&alice.device, &prt, "urn:latchkey:api").await;
    assert_eq!(status, 200, "{body}");
    // The agent's ID-token audience is not an access-token audience.
    assert_error(
        &h.token(&alice.device, &prt, "urn:latchkey:agent").await,
        "LK-TOKEN-001",
    );
}

#[tokio::test]
async fn resource_administration_checks_and_audits() {
    let h = Harness::start().await;
    let added = h
        .admin
        .resource_add("api://payroll", Some("Payroll"))
        .await
        .unwrap();
    assert_eq!(
        (added.uri.as_str(), added.name.as_str()),
        ("api://payroll", "Payroll")
    );
    h.admin
        .resource_add("https://api.example.com", None)
        .await
        .unwrap();
    let listed: Vec<String> = h
        .admin
        .resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(listed, ["api://payroll", "https://api.example.com"]);

    let before = h.counts().await;
    for bad in [
        "",
        "payroll",
        "api://pay roll",
        "1api://x",
        "api:",
        "urn:latchkey:api",
        "urn:latchkey:agent",
        &format!("api://{}", "x".repeat(600)),
    ] {
        let err = h.admin.resource_add(bad, None).await.unwrap_err();
        assert_eq!(err.code().as_str(), "LK-REQ-003", "{bad:?}: {err}");
    }
    let dup = h
        .admin
        .resource_add("api://payroll", None)
        .await
        .unwrap_err();
    assert_eq!(dup.code().as_str(), "LK-REQ-003", "{dup}");
    let missing = h.admin.resource_remove("api://nope").await.unwrap_err();
    assert_eq!(missing.code().as_str(), "LK-TOKEN-002", "{missing}");
    assert_eq!(h.counts().await, before, "refused changes wrote something");
    assert_eq!(h.admin.resources().await.unwrap().len(), 2);

    h.admin.resource_remove("api://payroll").await.unwrap();
    let events: Vec<(String, Option<String>)> = h
        .audit()
        .await
        .into_iter()
        .filter(|a| a.event.starts_with("resource_"))
        .map(|a| (a.event, a.reason))
        .collect();
    assert_eq!(
        events,
        [
            ("resource_add".to_owned(), Some("api://payroll".to_owned())),
            (
                "resource_add".to_owned(),
                Some("https://api.example.com".to_owned())
            ),
            (
                "resource_remove".to_owned(),
                Some("api://payroll".to_owned())
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_proof_is_bound_to_its_token_and_good_once() {
    let h = Harness::start().await;
    let alice = enrolled(&h, "alice@example.com", p256_key()).await;
    let prt = signed_in(&h, &alice).await;
    let other_prt = signed_in(&h, &alice).await;
    let nonce = h.nonce(Purpose::RenewPrt).await;
    let sign = |fields: &[&str]| {
        alice
            .device
            .sign(&proof_message(Purpose::RenewPrt, &nonce, fields))
    };
    let body = |prt: &str, signature: String| {
        json!({
            "prt": prt,
            "device_id": alice.device.id,
            "nonce": nonce,
            "device_signature": signature,
        })
    };
    let bound = sign(&[&h.tenant_id, &alice.device.id, &prt_binding(&prt)]);

    // The proof of the earlier form (tenant and device only) no longer verifies.
    let before = h.counts().await;
    let unbound = sign(&[&h.tenant_id, &alice.device.id]);
    assert_error(
        &h.post("/v1/prt/renew", &body(&prt, unbound), None).await,
        "LK-DEV-003",
    );
    only_audited(&h, before, "LK-DEV-003").await;
    // A proof made for one token does not renew another.
    let before = h.counts().await;
    assert_error(
        &h.post("/v1/prt/renew", &body(&other_prt, bound.clone()), None)
            .await,
        "LK-DEV-003",
    );
    only_audited(&h, before, "LK-DEV-003").await;
    // A token alone, or with a proof by another device, renews nothing.
    let mallory = enrolled(&h, "mallory@example.com", p256_key()).await;
    let before = h.counts().await;
    let forged = mallory.device.sign(&proof_message(
        Purpose::RenewPrt,
        &nonce,
        &[&h.tenant_id, &alice.device.id, &prt_binding(&prt)],
    ));
    assert_error(
        &h.post("/v1/prt/renew", &body(&prt, forged), None).await,
        "LK-DEV-003",
    );
    only_audited(&h, before, "LK-DEV-003").await;

    // The bound proof renews once (a new token row, the nonce consumed) ...
    let before = h.counts().await;
    let (status, renewed) = h
        .post("/v1/prt/renew", &body(&prt, bound.clone()), None)
        .await;
    assert_eq!(status, 200, "{renewed}");
    let after = h.counts().await;
    assert_eq!(after.prts, before.prts + 1);
    assert_eq!(after.used_nonces, before.used_nonces + 1);
    // ... and replayed, nothing (the renewed token is revoked, which is found first).
    let before = h.counts().await;
    assert_error(
        &h.post("/v1/prt/renew", &body(&prt, bound), None).await,
        "LK-PRT-001",
    );
    only_audited(&h, before, "LK-PRT-001").await;
    // Sent eight times at once, one renewal proof gives exactly one new token: the nonce is
    // consumed in the renewal's transaction.
    let nonce = h.nonce(Purpose::RenewPrt).await;
    let signature = alice.device.sign(&proof_message(
        Purpose::RenewPrt,
        &nonce,
        &[&h.tenant_id, &alice.device.id, &prt_binding(&other_prt)],
    ));
    let once = json!({
        "prt": other_prt,
        "device_id": alice.device.id,
        "nonce": nonce,
        "device_signature": signature,
    });
    let before = h.counts().await;
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, body) = (
            h.client.clone(),
            format!("{}/v1/prt/renew", h.url),
            once.clone(),
        );
        sends.spawn(async move {
            let resp = client.post(url).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }
    let results = sends.join_all().await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{results:?}"
    );
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert!(
            ["LK-NONCE-003", "LK-PRT-001"].contains(&body["code"].as_str().unwrap()),
            "{status} {body}"
        );
    }
    let after = h.counts().await;
    assert_eq!(after.prts, before.prts + 1);
    assert_eq!(after.used_nonces, before.used_nonces + 1);
    // The renewed token is bound to the same device, with the same rules.
    let new_prt = renewed["prt"].as_str().unwrap();
    assert_eq!(
        h.token(&alice.device, new_prt, "urn:latchkey:api").await.0,
        200
    );
    assert_error(
        &h.token(&alice.device, &prt, "urn:latchkey:api").await,
        "LK-PRT-001",
    );
}
