//! A property: no sequence of API calls lets user A act on user B's device, Hello key,
//! security key, sessions or tokens. Alice holds everything of her own (password, TOTP
//! secret, device key, Hello key, a primary refresh token, a web session, a security key)
//! and Bob's public identifiers (UPN, device id, key id, security-key credential id);
//! proptest draws sequences of requests that mix the two, on the API and on the web pages.
//! Every one must be refused with an error code, Alice's pages never show Bob's
//! identifiers, and afterwards Bob's devices, keys, security keys and audit-visible state
//! are as before, and Bob's primary refresh token and web session still work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::Mutex;

use common::web::{
    assertion, assertion_as, enable_security_keys, shown_code, Browser, SecurityKey, Session,
};
use common::{enrolled, rsa_key, Enrolled, Harness, WebHarness};
use latchkey_proto::b64;
use latchkey_proto::proof::{proof_message, Purpose};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

/// Whose value a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Alice,
    Bob,
}

/// One request by Alice.
#[derive(Debug, Clone)]
enum Op {
    /// Sign in naming `upn`, `device` and `key_id` (at least one Bob's), signed by Alice's
    /// Hello and device keys.
    SignIn {
        upn: Whose,
        device: Whose,
        key_id: Whose,
    },
    /// Register a new key for `upn` on `device` with Alice's MFA token (not both Alice's).
    Register { upn: Whose, device: Whose },
    /// Renew Alice's primary refresh token naming Bob's device.
    RenewOnBobsDevice,
    /// Get a token with Alice's primary refresh token naming Bob's device.
    TokenOnBobsDevice,
    /// Leave (unjoin) Bob's device with Alice's device key.
    LeaveBobsDevice,
    /// A password sign-in as Bob with Alice's password and one-time code.
    PasswordAsBob { with_otp: bool },
    /// Rename or remove Bob's security key from Alice's web session.
    EditBobsSecurityKey { remove: bool },
    /// The administration forms (disable Bob's device, delete his Hello key or security
    /// key) from Alice's web session; Alice is not an administrator.
    AdminOnBob { what: AdminTarget },
    /// A security-key sign-in that involves Bob, signed by Alice's security key.
    SecurityKeyAsBob { how: SkAttempt },
}

/// What an administration form names of Bob's.
#[derive(Debug, Clone, Copy)]
enum AdminTarget {
    Device,
    HelloKey,
    SecurityKey,
}

/// How Alice's security key tries to sign in involving Bob.
#[derive(Debug, Clone, Copy)]
enum SkAttempt {
    /// Username-first for Bob, with Alice's own credential.
    BobFirstAlicesCredential,
    /// Username-first for Bob, naming Bob's credential id, signed by Alice's key.
    BobFirstBobsCredentialId,
    /// Discoverable (no user name), naming Bob's credential id, signed by Alice's key.
    DiscoverableBobsCredentialId,
}

fn whose() -> impl Strategy<Value = Whose> {
    prop_oneof![Just(Whose::Alice), Just(Whose::Bob)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (whose(), whose(), whose())
            .prop_filter("at least one of Bob's", |(u, d, k)| {
                [u, d, k].iter().any(|w| **w == Whose::Bob)
            })
            .prop_map(|(upn, device, key_id)| Op::SignIn {
                upn,
                device,
                key_id
            }),
        (whose(), whose())
            .prop_filter("at least one of Bob's", |(u, d)| {
                *u == Whose::Bob || *d == Whose::Bob
            })
            .prop_map(|(upn, device)| Op::Register { upn, device }),
        Just(Op::RenewOnBobsDevice),
        Just(Op::TokenOnBobsDevice),
        Just(Op::LeaveBobsDevice),
        any::<bool>().prop_map(|with_otp| Op::PasswordAsBob { with_otp }),
        any::<bool>().prop_map(|remove| Op::EditBobsSecurityKey { remove }),
        prop_oneof![
            Just(AdminTarget::Device),
            Just(AdminTarget::HelloKey),
            Just(AdminTarget::SecurityKey)
        ]
        .prop_map(|what| Op::AdminOnBob { what }),
        prop_oneof![
            Just(SkAttempt::BobFirstAlicesCredential),
            Just(SkAttempt::BobFirstBobsCredentialId),
            Just(SkAttempt::DiscoverableBobsCredentialId)
        ]
        .prop_map(|how| Op::SecurityKeyAsBob { how }),
    ]
}

struct World {
    h: Harness,
    alice: Enrolled,
    bob: Enrolled,
    alice_prt: String,
    bob_prt: String,
    browser: Browser,
    alice_web: Session,
    bob_web: Session,
    alice_sk: Mutex<SecurityKey>,
    bob_sk_id: Vec<u8>,
}

impl World {
    fn pick(&self, w: Whose) -> &Enrolled {
        match w {
            Whose::Alice => &self.alice,
            Whose::Bob => &self.bob,
        }
    }

    async fn snapshot(&self) -> Value {
        let bob = &self.bob.upn;
        let bob_audit_successes = self
            .h
            .audit()
            .await
            .into_iter()
            .filter(|a| a.outcome == "success" && a.actor.as_deref() == Some(bob.as_str()))
            .count();
        json!({
            "devices": self.h.admin.devices().await.unwrap(),
            "bob_keys": self.h.admin.keys(Some(bob)).await.unwrap(),
            "bob_security_keys": self.h.admin.security_keys(Some(bob)).await.unwrap(),
            "bob_successes": bob_audit_successes,
        })
    }

    /// Bob's identifiers that Alice's pages must never show.
    fn bobs_identifiers(&self) -> Vec<String> {
        vec![
            self.bob.upn.clone(),
            self.bob.device.id.clone(),
            self.bob.key.key_id(),
            b64::encode(&self.bob_sk_id),
        ]
    }

    /// A web form's answer as (status, {code}) like the API's.
    fn page_answer((status, html): (u16, String)) -> (u16, Value) {
        (status, json!({ "code": shown_code(&html) }))
    }

    async fn apply(&self, op: &Op) -> (u16, Value) {
        let h = &self.h;
        let alice = &self.alice;
        match op {
            Op::SignIn {
                upn,
                device,
                key_id,
            } => {
                let device_named = alice.device.clone_with_id(&self.pick(*device).device.id);
                let body = h
                    .signin_body(
                        &device_named,
                        &self.pick(*upn).upn,
                        &self.pick(*key_id).key.key_id(),
                        &alice.key,
                    )
                    .await;
                h.post("/v1/signin", &body, None).await
            }
            Op::Register { upn, device } => {
                let token = h.mfa_token(&alice.upn, &alice.secret).await;
                let device_named = alice.device.clone_with_id(&self.pick(*device).device.id);
                h.register(
                    &device_named,
                    &self.pick(*upn).upn,
                    &rsa_key(2),
                    Some(&token),
                )
                .await
            }
            Op::RenewOnBobsDevice => {
                let device_named = alice.device.clone_with_id(&self.bob.device.id);
                h.renew(&device_named, &self.alice_prt).await
            }
            Op::TokenOnBobsDevice => {
                let device_named = alice.device.clone_with_id(&self.bob.device.id);
                h.token(&device_named, &self.alice_prt, "urn:latchkey:api")
                    .await
            }
            Op::LeaveBobsDevice => {
                let nonce = h.nonce(Purpose::Leave).await;
                let msg =
                    proof_message(Purpose::Leave, &nonce, &[&h.tenant_id, &self.bob.device.id]);
                let body = json!({
                    "device_id": self.bob.device.id,
                    "nonce": nonce,
                    "signature": alice.device.sign(&msg),
                });
                h.post("/v1/devices/leave", &body, None).await
            }
            Op::PasswordAsBob { with_otp } => {
                h.clock.advance(time::Duration::seconds(30));
                let otp = with_otp.then(|| h.otp(&alice.secret, 0));
                // Alice does not know Bob's password: she tries her own.
                let answer = h
                    .password(&self.bob.upn, "alice's own password", otp.as_deref())
                    .await;
                // Let the failure age out of the rate limiter's window, so that the later
                // requests of the run are judged on their merits, not refused as a burst.
                h.clock.advance(time::Duration::seconds(
                    latchkey_server::ratelimit::WINDOW_SECS + 1,
                ));
                answer
            }
            Op::EditBobsSecurityKey { remove } => {
                let id = b64::encode(&self.bob_sk_id);
                let s = &self.alice_web;
                let (path, fields) = if *remove {
                    (
                        "/security-info/keys/remove",
                        vec![("csrf", s.csrf.as_str()), ("credential_id", id.as_str())],
                    )
                } else {
                    (
                        "/security-info/keys/rename",
                        vec![
                            ("csrf", s.csrf.as_str()),
                            ("credential_id", id.as_str()),
                            ("name", "Mine now"),
                        ],
                    )
                };
                Self::page_answer(self.browser.form(h, s, path, &fields).await)
            }
            Op::AdminOnBob { what } => {
                let key_id = self.bob.key.key_id();
                let sk_id = b64::encode(&self.bob_sk_id);
                let (path, field, value) = match what {
                    AdminTarget::Device => (
                        "/admin/devices/disable",
                        "device_id",
                        self.bob.device.id.as_str(),
                    ),
                    AdminTarget::HelloKey => ("/admin/keys/delete", "key_id", key_id.as_str()),
                    AdminTarget::SecurityKey => (
                        "/admin/security-keys/delete",
                        "credential_id",
                        sk_id.as_str(),
                    ),
                };
                let s = &self.alice_web;
                let fields = [
                    ("csrf", s.csrf.as_str()),
                    (field, value),
                    ("confirm", "yes"),
                ];
                Self::page_answer(self.browser.form(h, s, path, &fields).await)
            }
            Op::SecurityKeyAsBob { how } => {
                let upn = match how {
                    SkAttempt::DiscoverableBobsCredentialId => None,
                    _ => Some(self.bob.upn.as_str()),
                };
                let (status, start) = self.browser.begin(h, upn).await;
                assert_eq!(status, 200, "{start}");
                let body = {
                    let mut key = self.alice_sk.lock().unwrap();
                    match how {
                        SkAttempt::BobFirstAlicesCredential => assertion(h, &mut key, &start),
                        _ => assertion_as(h, &mut key, &self.bob_sk_id, &start),
                    }
                };
                let (status, body, session) = self.browser.finish(h, &body).await;
                assert!(session.is_none(), "{how:?} gave a session: {body}");
                (status, body)
            }
        }
    }
}

#[test]
fn no_sequence_of_requests_lets_alice_act_on_bobs_credentials() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let world = runtime.block_on(async {
        let h = Harness::web().await;
        enable_security_keys(&h).await;
        let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
        let bob = enrolled(&h, "bob@example.com", rsa_key(1)).await;
        let (status, body) = h.signin(&alice.device, &alice.upn, &alice.key).await;
        assert_eq!(status, 200, "{body}");
        let alice_prt = body["prt"].as_str().unwrap().to_owned();
        let (status, body) = h.signin(&bob.device, &bob.upn, &bob.key).await;
        assert_eq!(status, 200, "{body}");
        let bob_prt = body["prt"].as_str().unwrap().to_owned();
        let browser = Browser::new(&h, "127.0.0.1").await;
        let alice_web = browser.sign_in(&h, &alice.upn, &alice.secret).await;
        let bob_web = browser.sign_in(&h, &bob.upn, &bob.secret).await;
        let alice_sk = browser
            .register_security_key(&h, &alice_web, "Alice's key", b"alice's credential")
            .await;
        let bob_sk_id = b"bob's credential".to_vec();
        browser
            .register_security_key(&h, &bob_web, "Bob's key", &bob_sk_id)
            .await;
        World {
            h,
            alice,
            bob,
            alice_prt,
            bob_prt,
            browser,
            alice_web,
            bob_web,
            alice_sk: Mutex::new(alice_sk),
            bob_sk_id,
        }
    });
    let before = runtime.block_on(world.snapshot());
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op(), 1..5), |ops| {
            runtime.block_on(async {
                for op in &ops {
                    let (status, body) = world.apply(op).await;
                    prop_assert!(status >= 400, "{op:?} was accepted: {status} {body}");
                    prop_assert!(
                        body["code"].as_str().is_some_and(|c| c.starts_with("LK-")),
                        "{op:?}: no error code in {body}"
                    );
                }
                let (status, page) = world
                    .browser
                    .get(&world.h, &world.alice_web.cookie, "/security-info")
                    .await;
                prop_assert_eq!(status, 200, "{}", page);
                for id in world.bobs_identifiers() {
                    prop_assert!(!page.contains(&id), "Alice's page shows {}", id);
                }
                let after = world.snapshot().await;
                prop_assert_eq!(&after, &before, "Bob's state changed after {:?}", ops);
                Ok(())
            })
        })
        .unwrap();
    // Bob is unaffected: he still signs in with his own key on his own device, his primary
    // refresh token still renews, his web session still shows his security key; and
    // Alice's own credentials still work (the refusals were about Bob, not a lockout).
    runtime.block_on(async {
        let (status, body) = world.h.renew(&world.bob.device, &world.bob_prt).await;
        assert_eq!(status, 200, "{body}");
        let (status, page) = world
            .browser
            .get(&world.h, &world.bob_web.cookie, "/security-info")
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&b64::encode(&world.bob_sk_id)), "{page}");
        let (status, body) = world.h.renew(&world.alice.device, &world.alice_prt).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = world
            .h
            .signin(&world.bob.device, &world.bob.upn, &world.bob.key)
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = world
            .h
            .signin(&world.alice.device, &world.alice.upn, &world.alice.key)
            .await;
        assert_eq!(status, 200, "{body}");
    });
}
