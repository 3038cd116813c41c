//! A property: no sequence of API calls lets user A act on user B's device, Hello key,
//! primary refresh token or tokens. Alice holds everything of her own (password, TOTP
//! secret, device key, Hello key, a primary refresh token) and Bob's public identifiers
//! (UPN, device id, key id); proptest draws sequences of requests that mix the two. Every
//! one must be refused, and afterwards Bob's devices, keys and audit-visible state are as
//! before and Bob still signs in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{enrolled, rsa_key, Enrolled, Harness};
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
    ]
}

struct World {
    h: Harness,
    alice: Enrolled,
    bob: Enrolled,
    alice_prt: String,
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
            "bob_successes": bob_audit_successes,
        })
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
        let h = Harness::start().await;
        let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
        let bob = enrolled(&h, "bob@example.com", rsa_key(1)).await;
        let (status, body) = h.signin(&alice.device, &alice.upn, &alice.key).await;
        assert_eq!(status, 200, "{body}");
        let alice_prt = body["prt"].as_str().unwrap().to_owned();
        World {
            h,
            alice,
            bob,
            alice_prt,
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
                    prop_assert!(
                        !(200..300).contains(&status),
                        "{op:?} was accepted: {status} {body}"
                    );
                    prop_assert!(
                        body["code"].as_str().is_some_and(|c| c.starts_with("LK-")),
                        "{op:?}: no error code in {body}"
                    );
                }
                let after = world.snapshot().await;
                prop_assert_eq!(&after, &before, "Bob's state changed after {:?}", ops);
                Ok(())
            })
        })
        .unwrap();
    // Bob is unaffected: he still signs in with his own key on his own device, and
    // Alice's own credentials still work (the refusals were about Bob, not a lockout).
    runtime.block_on(async {
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
