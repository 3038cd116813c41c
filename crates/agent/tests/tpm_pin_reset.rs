//! `pin reset` of a TPM Hello key on a private swtpm against the real service in-process
//! (docs/pin-reset.md): the service answers the key's authorisation value after a fresh
//! MFA, the TPM changes it to the new PIN's, the key never leaves the TPM; the reset is not
//! counted by the TPM and does not get around its lockout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::tpm::{swtpm, tpm_agent};
use common::{password_only, world, World, PASSWORD, PIN};
use latchkey_agent::{Agent, Credentials, DESTRUCTIVE_AND_NON_DESTRUCTIVE};
use latchkey_proto::api::device::JoinType;

const NEW_PIN: &str = "824613";

fn enable_pin_recovery(w: &World, agent: &Agent) {
    let tenant = agent.device().unwrap().unwrap().tenant_id;
    let xml = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target>\
         <LocURI>./Device/Vendor/MSFT/PassportForWork/{tenant}/Policies/EnablePinRecovery</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>true</Data></Item>\
         </Replace></SyncBody></SyncML>"
    );
    w.runtime
        .block_on(w.admin.apply_syncml(&xml, None))
        .unwrap();
}

fn full_mfa(w: &World, secret: &[u8]) -> Credentials {
    w.server_clock.advance(latchkey_server::clock::secs(30));
    Credentials {
        password: PASSWORD.to_owned().into(),
        otp: Some(w.otp(secret)),
    }
}

#[test]
fn a_tpm_key_is_reset_in_the_tpm_without_a_count_and_not_around_its_lockout() {
    let w = world();
    let tpm = swtpm();
    let upn = "tia@example.com";
    let (_, secret) = w.joined_with_secret(upn, JoinType::Cloud);
    let agent = tpm_agent(&w, w.state.clone(), &tpm.tcti());
    enable_pin_recovery(&w, &agent);
    agent.sync_policy(upn).unwrap();
    agent.check_prerequisites(upn).unwrap();
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let stored = agent.tpm_container(upn).unwrap().unwrap();
    assert!(
        stored.recovery.is_some(),
        "the TPM key has its recovery blob"
    );
    assert_eq!(
        agent.status(None).unwrap().user_state.can_reset,
        DESTRUCTIVE_AND_NON_DESTRUCTIVE
    );

    let counted = tpm.counter();
    let reset = agent
        .reset_pin(upn, NEW_PIN, &full_mfa(&w, &secret))
        .unwrap();
    assert_eq!(reset.key_id, done.key_id, "the same TPM key");
    assert_eq!(
        tpm.counter(),
        counted,
        "the reset is not a wrong PIN to the TPM"
    );
    let after = agent.tpm_container(upn).unwrap().unwrap();
    assert_eq!(after.public, stored.public, "the same key in the TPM");
    assert_ne!(
        after.private, stored.private,
        "its authorisation value changed"
    );
    assert_ne!(after.recovery, stored.recovery, "a new recovery blob");
    agent.signin(upn, NEW_PIN).unwrap();
    assert_eq!(agent.signin(upn, PIN).unwrap_err().code(), "LK-AGENT-016");
    assert_eq!(tpm.counter(), counted + 1, "the old PIN is a wrong PIN");

    // In lockout the recovery path gets no further than the PIN does, and the service
    // is not asked (its blob stays unanswered).
    while agent.check_pin_lockout(upn).is_ok() {
        let _ = agent.signin(upn, "000000");
    }
    let answered = w
        .runtime
        .block_on(w.admin.counts())
        .unwrap()
        .pin_recovery_answers;
    let err = agent
        .reset_pin(upn, "357913", &full_mfa(&w, &secret))
        .unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-017", "{err}");
    assert_eq!(
        w.runtime
            .block_on(w.admin.counts())
            .unwrap()
            .pin_recovery_answers,
        answered
    );
}
