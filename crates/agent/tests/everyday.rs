//! Issue 16, the employee's everyday, with the real service in-process: the service check
//! before secrets ("not trusted" against "cannot reach"), an event for every operation,
//! and `status` with DeviceAuthStatus, PinLockout and the device certificate's validity
//! in lines of at most 80 columns, whatever the lengths of the values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{world, PIN};
use latchkey_agent::events::{self, id};
use latchkey_agent::{trust, AgentError};

#[test]
fn the_service_check_tells_not_trusted_from_cannot_reach() {
    let w = world();
    let tenant = trust::check_service(&w.url, &w.ca_pem).unwrap();
    assert!(!tenant.tenant_id.is_empty());

    let other =
        latchkey_pki::TenantCa::create("Elsewhere", time::OffsetDateTime::now_utc()).unwrap();
    let err = trust::check_service(&w.url, other.cert_pem()).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-039", "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "LK-AGENT-039: the server at {} is not trusted: its certificate is not signed by \
             the tenant CA this device trusts",
            w.url
        )
    );

    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{dead}");
    let err = trust::check_service(&url, &w.ca_pem).unwrap_err();
    assert!(matches!(err, AgentError::Unreachable { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("LK-AGENT-005: cannot reach {url}: connection refused")
    );
}

#[test]
fn every_operation_is_recorded_and_status_says_how_the_device_stands() {
    let w = world();
    // A long name, to see the status lines wrap rather than overflow.
    let upn = "a.very-long-name.for-the-status-columns@subsidiary.example.com";
    let agent = w.enrolled(upn);
    agent.check_service().unwrap();
    let log = agent.events().unwrap();
    let ids: Vec<u32> = log.iter().map(|e| e.id).collect();
    for want in [id::DEVICE_JOINED, id::KEY_REGISTERED, id::SIGNED_IN] {
        assert!(ids.contains(&want), "{want} in {ids:?}");
    }
    let signed_in = log.iter().rfind(|e| e.id == id::SIGNED_IN).unwrap();
    assert!(signed_in
        .data
        .iter()
        .any(|(k, v)| k == events::DEVICE_AUTH && v == "SUCCESS"));

    let report = agent.status(None).unwrap();
    assert!(report
        .device_state
        .device_auth_status
        .starts_with("SUCCESS ("));
    assert_eq!(
        report.user_state.pin_lockout,
        "NOT LOCKED (0 of 5 incorrect PINs)"
    );
    let validity = report
        .device_state
        .device_certificate_validity
        .clone()
        .unwrap();
    assert!(validity.contains(" -- "), "{validity}");
    let sha = report
        .device_state
        .device_certificate_sha256
        .clone()
        .unwrap();
    assert_eq!(sha.len(), 95, "colon-separated SHA-256: {sha}");

    // Wrong PINs up to the lockout, then a sign-in refused before any PIN.
    for _ in 0..5 {
        let e = agent.signin(upn, "000000").unwrap_err();
        assert_eq!(e.code(), "LK-PIN-001");
    }
    let e = agent.check_pin_lockout(upn).unwrap_err();
    assert_eq!(e.code(), "LK-PIN-002");
    let ids: Vec<u32> = agent.events().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(
        ids[ids.len() - 6..],
        [
            id::SIGNIN_WRONG_PIN,
            id::SIGNIN_WRONG_PIN,
            id::SIGNIN_WRONG_PIN,
            id::SIGNIN_WRONG_PIN,
            id::SIGNIN_WRONG_PIN,
            id::SIGNIN_LOCKED_OUT
        ]
    );
    let report = agent.status(None).unwrap();
    assert!(
        report.user_state.pin_lockout.starts_with("LOCKED OUT for "),
        "{}",
        report.user_state.pin_lockout
    );
    let text = latchkey_agent::status::render(&report);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line:?}\n{text}");
    }
    assert!(
        text.contains(&format!("{:>27} : a.very-long-name", "User")),
        "{text}"
    );
    assert!(!text.contains(PIN));
}
