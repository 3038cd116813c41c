//! `pin reset` on the device against the real service in-process (docs/pin-reset.md): the
//! non-destructive reset keeps the key and takes the new PIN at once, clears the PIN history
//! and is never answered twice; without EnablePinRecovery only the destructive reset runs,
//! which makes a new key and retires the old one at the service.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{password_only, world, World, PASSWORD, PIN};
use latchkey_agent::pin_history::PinHistory;
use latchkey_agent::{Agent, Credentials, DESTRUCTIVE_AND_NON_DESTRUCTIVE, DESTRUCTIVE_ONLY};
use latchkey_proto::api::device::JoinType;
use latchkey_proto::b64;
use serde_json::Value;

const NEW_PIN: &str = "824613";

/// Sets the tenant's PassportForWork CSP `node` (under `Policies/`) to `value` of `format`.
fn csp(w: &World, agent: &Agent, node: &str, format: &str, value: &str) {
    let tenant = agent.device().unwrap().unwrap().tenant_id;
    let xml = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target>\
         <LocURI>./Device/Vendor/MSFT/PassportForWork/{tenant}/Policies/{node}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">{format}</Format></Meta><Data>{value}</Data></Item>\
         </Replace></SyncBody></SyncML>"
    );
    w.runtime
        .block_on(w.admin.apply_syncml(&xml, None))
        .unwrap();
}

/// The password and a fresh one-time code (each TOTP step is accepted once).
fn full_mfa(w: &World, secret: &[u8]) -> Credentials {
    w.server_clock.advance(latchkey_server::clock::secs(30));
    Credentials {
        password: PASSWORD.to_owned().into(),
        otp: Some(w.otp(secret)),
    }
}

fn amr(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&b64::decode("jwt", payload).unwrap()).unwrap();
    claims["amr"].clone()
}

/// `upn` joined, with `recovery` as EnablePinRecovery, and set up Hello with [`PIN`].
fn set_up(w: &World, upn: &str, recovery: bool) -> (Agent, Vec<u8>) {
    let (agent, secret) = w.joined_with_secret(upn, JoinType::Cloud);
    csp(
        w,
        &agent,
        "EnablePinRecovery",
        "bool",
        &recovery.to_string(),
    );
    csp(w, &agent, "PINComplexity/History", "int", "5");
    agent.sync_policy(upn).unwrap();
    agent.check_prerequisites(upn).unwrap();
    agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    (agent, secret)
}

fn can_reset(agent: &Agent) -> String {
    agent.status(None).unwrap().user_state.can_reset
}

fn container_file(upn: &str) -> String {
    latchkey_agent::records::user_file(latchkey_agent::HELLO_DIR, upn)
}

#[test]
fn a_non_destructive_reset_keeps_the_key_and_the_new_pin_works_at_once() {
    let w = world();
    let upn = "kim@example.com";
    let (agent, secret) = set_up(&w, upn, true);
    let key_id = agent.stored_key(upn).unwrap().unwrap().key_id().to_owned();
    assert_eq!(can_reset(&agent), DESTRUCTIVE_AND_NON_DESTRUCTIVE);
    assert!(agent.container(upn).unwrap().unwrap().recovery.is_some());
    // A PIN change makes a PIN history and a new recovery part.
    let before_change = agent.container(upn).unwrap().unwrap().recovery;
    agent.change_pin(upn, PIN, "531642").unwrap();
    let after_change = agent.container(upn).unwrap().unwrap().recovery;
    assert!(after_change.is_some() && after_change != before_change);
    assert!(!PinHistory::load(agent.state(), upn)
        .unwrap()
        .entries
        .is_empty());
    let name = container_file(upn);
    let old_copy = agent.state().read_bytes(&name).unwrap().unwrap();

    // Someone who forgot the PIN has usually locked the container out trying: the reset
    // still runs (it tries no PIN) and the new PIN starts a fresh counter.
    while agent.check_pin_lockout(upn).is_ok() {
        let _ = agent.signin(upn, "000000");
    }
    let done = agent
        .reset_pin(upn, NEW_PIN, &full_mfa(&w, &secret))
        .unwrap();
    assert_eq!(done.key_id, key_id, "the same key");
    agent.check_pin_lockout(upn).unwrap();
    assert_eq!(done.kind.as_str(), "non-destructive");
    // The new PIN signs in at once; the old ones do not; the token still says mfa.
    let err = agent.signin(upn, "531642").unwrap_err();
    assert_eq!(err.code(), "LK-PIN-001", "{err}");
    agent.signin(upn, NEW_PIN).unwrap();
    w.runtime
        .block_on(w.admin.resource_add("api://payroll", None))
        .unwrap();
    let token = agent.token(upn, "api://payroll").unwrap();
    assert!(
        amr(&token).as_array().unwrap().iter().any(|v| v == "mfa"),
        "{}",
        amr(&token)
    );
    // PIN history is not preserved through a PIN reset.
    assert!(PinHistory::load(agent.state(), upn)
        .unwrap()
        .entries
        .is_empty());
    // The registration is the same key.
    let keys = w.runtime.block_on(w.admin.keys(Some(upn))).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, key_id);
    let events = agent.events().unwrap();
    assert!(events.iter().any(|e| e.id == 400));

    // An older copy of the container, restored: its blob was answered, and is never again.
    agent.state().write_bytes(&name, &old_copy).unwrap();
    let err = agent
        .reset_pin(upn, "357913", &full_mfa(&w, &secret))
        .unwrap_err();
    assert_eq!(err.code(), "LK-PINR-005", "{err}");
    assert_eq!(agent.state().read_bytes(&name).unwrap().unwrap(), old_copy);
    assert!(agent.events().unwrap().iter().any(|e| e.id == 401));
    // A wrong one-time code: no token, nothing sent, nothing changed.
    let wrong = Credentials {
        password: PASSWORD.to_owned().into(),
        otp: Some("000000".to_owned()),
    };
    let err = agent.reset_pin(upn, "357913", &wrong).unwrap_err();
    assert_eq!(err.code(), "LK-AUTH-002", "{err}");
    assert_eq!(agent.state().read_bytes(&name).unwrap().unwrap(), old_copy);
}

#[test]
fn without_pin_recovery_the_reset_makes_a_new_key_and_the_old_one_is_refused() {
    let w = world();
    let upn = "lou@example.com";
    let (agent, secret) = set_up(&w, upn, false);
    assert_eq!(can_reset(&agent), DESTRUCTIVE_ONLY);
    assert!(agent.container(upn).unwrap().unwrap().recovery.is_none());
    let old_key = agent.stored_key(upn).unwrap().unwrap().key_id().to_owned();
    let name = container_file(upn);
    let old_copy = agent.state().read_bytes(&name).unwrap().unwrap();

    // The non-destructive path is refused before anything is asked of the service.
    let err = agent
        .reset_pin(upn, NEW_PIN, &full_mfa(&w, &secret))
        .unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-037", "{err}");
    assert!(
        err.to_string().contains("EnablePinRecovery is off"),
        "{err}"
    );

    let done = agent
        .reset_pin_destructive(upn, NEW_PIN, &full_mfa(&w, &secret), &mut |_| {})
        .unwrap();
    assert_ne!(done.key_id, old_key, "a new key");
    assert_eq!(done.replaced_key_id.as_deref(), Some(old_key.as_str()));
    agent.signin(upn, NEW_PIN).unwrap();
    let keys = w.runtime.block_on(w.admin.keys(Some(upn))).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, done.key_id);

    // The old key, restored from a copy, is refused by the service.
    agent.state().write_bytes(&name, &old_copy).unwrap();
    let err = agent.signin(upn, PIN).unwrap_err();
    assert_eq!(err.code(), "LK-KEY-001", "{err}");
}

#[test]
fn after_a_rotation_the_next_sign_in_remakes_the_blob_under_the_new_key() {
    let w = world();
    let upn = "mo@example.com";
    let (agent, secret) = set_up(&w, upn, true);
    let blob_key = |agent: &Agent| {
        agent
            .container(upn)
            .unwrap()
            .unwrap()
            .recovery
            .unwrap()
            .blob
            .recovery_key_id
    };
    let old = blob_key(&agent);
    let new = w.runtime.block_on(w.admin.pin_recovery_rotate(30)).unwrap();
    assert_ne!(old, new);
    agent.signin(upn, PIN).unwrap();
    assert_eq!(blob_key(&agent), new, "re-made at the sign-in");
    // The new blob resets the PIN.
    agent
        .reset_pin(upn, NEW_PIN, &full_mfa(&w, &secret))
        .unwrap();
    agent.signin(upn, NEW_PIN).unwrap();
}
