//! The agent against the real service (in-process, HTTPS on loopback) with both clocks in
//! the test's hands: primary refresh token renewal near expiry, refusal once it has expired
//! or the device is disabled, and the lockout counter kept in the container file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{world, PIN};
use latchkey_server::clock::secs;

#[test]
fn a_token_renews_the_prt_near_expiry_and_not_before() {
    let w = world();
    let upn = "rosa@example.com";
    let agent = w.enrolled(upn);
    let first = agent.sso(upn).unwrap().unwrap();
    w.runtime
        .block_on(w.admin.resource_add("api://payroll", None))
        .unwrap();

    agent.token(upn, "api://payroll").unwrap();
    assert_eq!(
        agent.sso(upn).unwrap().unwrap(),
        first,
        "far from expiry: no renewal"
    );

    // A day later on both clocks, and the device sees its token within the renewal margin.
    w.server_clock.advance(secs(86_400));
    w.device_clock.advance(
        first.prt_expires_at - w.device_clock.0.load(std::sync::atomic::Ordering::SeqCst) - 60,
    );
    agent.token(upn, "api://payroll").unwrap();
    let renewed = agent.sso(upn).unwrap().unwrap();
    assert_ne!(renewed.prt, first.prt, "a new primary refresh token");
    assert!(renewed.prt_expires_at > first.prt_expires_at);

    // The old token was replaced by the renewal: it no longer works.
    let mut stale = renewed.clone();
    stale.prt = first.prt.clone();
    agent
        .state()
        .write_json("sso/rosa@example.com.json", &stale)
        .unwrap();
    let err = agent.renew(upn).unwrap_err();
    assert!(err.code().starts_with("LK-PRT-"), "{err}");
}

/// The agent proves possession of the device key with every use of its primary refresh
/// token: the token copied to another device gets nothing there, and an audience the tenant
/// does not know gets nothing anywhere.
#[test]
fn a_copied_prt_is_refused_on_another_device_and_unknown_audiences_are_refused() {
    let w = world();
    w.runtime
        .block_on(w.admin.resource_add("api://payroll", None))
        .unwrap();
    let victim = w.enrolled("uma@example.com");
    let thief = w.enrolled_in(
        "vic@example.com",
        latchkey_agent::store::StateDir::new(w._dir.path().join("thief")),
    );
    let err = victim.token("uma@example.com", "api://nope").unwrap_err();
    assert_eq!(err.code(), "LK-TOKEN-001", "{err}");

    let stolen = victim.sso("uma@example.com").unwrap().unwrap();
    thief
        .state()
        .write_json("sso/uma@example.com.json", &stolen)
        .unwrap();
    let err = thief.token("uma@example.com", "api://payroll").unwrap_err();
    assert_eq!(err.code(), "LK-PRT-004", "{err}");
    let err = thief.renew("uma@example.com").unwrap_err();
    assert_eq!(err.code(), "LK-PRT-004", "{err}");
    // The owner's device still gets its token.
    victim.token("uma@example.com", "api://payroll").unwrap();
}

#[test]
fn a_disabled_device_stops_tokens_at_once() {
    let w = world();
    let upn = "sam@example.com";
    let agent = w.enrolled(upn);
    w.runtime
        .block_on(w.admin.resource_add("api://x", None))
        .unwrap();
    agent.token(upn, "api://x").unwrap();

    let device = agent.device().unwrap().unwrap();
    w.runtime
        .block_on(w.admin.disable_device(&device.device_id))
        .unwrap();
    let err = agent.token(upn, "api://x").unwrap_err();
    assert_eq!(err.code(), "LK-DEV-002", "{err}");
}

#[test]
fn the_prt_expires_on_the_service_side() {
    let w = world();
    let upn = "tia@example.com";
    let agent = w.enrolled(upn);
    w.runtime
        .block_on(w.admin.resource_add("api://x", None))
        .unwrap();
    w.server_clock.advance(secs(15 * 86_400));
    w.device_clock.advance(15 * 86_400);
    let err = agent.token(upn, "api://x").unwrap_err();
    assert!(
        matches!(err.code(), "LK-PRT-002" | "LK-PRT-001"),
        "expired primary refresh token refused: {err}"
    );
    // A fresh sign-in with the PIN gets a new one.
    agent.signin(upn, PIN).unwrap();
    agent.token(upn, "api://x").unwrap();
}

#[test]
fn the_wrong_pin_count_lives_in_the_container_file() {
    let w = world();
    let upn = "uma@example.com";
    let agent = w.enrolled(upn);
    for _ in 0..3 {
        assert_eq!(
            agent.signin(upn, "000000").unwrap_err().code(),
            "LK-PIN-001"
        );
    }
    // Another agent process over the same state sees the count.
    let other = w.agent();
    assert_eq!(other.container(upn).unwrap().unwrap().lockout.failures, 3);
    other.signin(upn, PIN).unwrap();
    assert_eq!(agent.container(upn).unwrap().unwrap().lockout.failures, 0);
}
