//! The TPM key provider against a real swtpm and the real service on loopback.
//!
//! - Setup and sign-in with Hello keys made in the TPM: the service verifies the TPM's
//!   signatures; the state directory holds no private key in the clear; the state copied
//!   next to a second TPM does not sign in (LK-AGENT-018).
//! - Wrong PINs are counted by the TPM (read through the TSS and with tpm2_getcap);
//!   restoring an older copy of the container resets nothing; in lockout even the right
//!   PIN is refused, and the wait is known before any PIN is asked for.
//! - A PIN change keeps the key; the old PIN no longer opens it.
//! - `auto` takes the TPM when it answers, software otherwise, saying why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;

use common::tpm::{files, files_but_the_log, swtpm, tpm_agent, Tpm2};
use common::{password_only, world, World, CHEAP, PIN};
use latchkey_agent::provider_choice::{choose, ProviderMode};
use latchkey_agent::store::StateDir;
use latchkey_agent::tpm::swtpm::SwTpm;
use latchkey_agent::tpm::Tcti;
use latchkey_agent::tpm_provider::TPM_PROVIDER;
use latchkey_agent::Agent;
use latchkey_proto::api::device::JoinType;
use latchkey_proto::b64;

/// A joined device whose owner set up Hello with the TPM provider.
fn enrolled_with_tpm(w: &World, upn: &str, tpm: &Tpm2) -> Agent {
    w.joined(upn, JoinType::Cloud);
    let agent = tpm_agent(w, w.state.clone(), &tpm.tcti());
    agent.check_prerequisites(upn).unwrap();
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    assert!(
        agent.container(upn).unwrap().is_none(),
        "no software container"
    );
    let stored = agent.tpm_container(upn).unwrap().unwrap();
    assert_eq!(stored.key_id, done.key_id);
    agent
}

/// Every JSON string value of `v`.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The start of an RSA PKCS#8 PrivateKeyInfo: version 0, AlgorithmIdentifier rsaEncryption
/// with NULL parameters, then the OCTET STRING of the private key.
const PKCS8_RSA: &[u8] = &[
    0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    0x05, 0x00, 0x04,
];

fn holds_pkcs8(bytes: &[u8]) -> bool {
    let has = |b: &[u8]| b.windows(PKCS8_RSA.len()).any(|w| w == PKCS8_RSA);
    if has(bytes) || bytes.windows(11).any(|w| w == b"PRIVATE KEY") {
        return true;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return false;
    };
    let mut all = Vec::new();
    strings(&json, &mut all);
    all.iter()
        .filter_map(|s| b64::decode("s", s).ok())
        .any(|d| has(&d))
}

#[test]
fn setup_and_sign_in_sign_in_the_tpm_and_the_state_is_useless_elsewhere() {
    let w = world();
    let tpm = swtpm();
    let upn = "tia@example.com";
    let agent = enrolled_with_tpm(&w, upn, &tpm);
    // The service verified a signature the TPM made (the key never existed elsewhere).
    let signed = agent.signin(upn, PIN).unwrap();
    assert_eq!(signed.sso.upn, upn);

    // The holder of the key: the TPM. No PKCS#8 anywhere in the state directory.
    let state_files = files(agent.state().root());
    assert!(state_files.iter().any(|(n, _)| n.contains("hello-tpm")));
    for (name, bytes) in &state_files {
        assert!(!holds_pkcs8(bytes), "{name} holds a PKCS#8 private key");
    }
    // The checker does find a software Hello key (it can fail).
    let soft = latchkey_agent::hello_key::HelloKey::generate().unwrap();
    assert!(holds_pkcs8(
        format!(
            "{{\"k\":\"{}\"}}",
            b64::encode(soft.to_pkcs8().unwrap().as_slice())
        )
        .as_bytes()
    ));

    // Status: TPM-protected, the TPM's identity, its lockout state.
    let report = agent.status(None).unwrap();
    let d = &report.device_state;
    assert!(d.tpm_protected);
    assert_eq!(d.key_provider, TPM_PROVIDER);
    assert!(
        d.key_provider_reason.contains(tpm.tcti().as_str()),
        "{}",
        d.key_provider_reason
    );
    assert!(d.tpm_manufacturer.as_deref().unwrap().starts_with("IBM"));
    assert!(d.tpm_spec_version.as_deref().unwrap().starts_with("2.0"));
    let lockout = d.tpm_lockout.as_ref().unwrap();
    assert_eq!(
        (lockout.counter, lockout.max_tries, lockout.in_lockout),
        (0, 3, false)
    );
    assert_eq!(
        report.user_state.ngc_key_attestation.as_deref(),
        Some("software")
    );
    let text = latchkey_agent::status::render(&report);
    assert!(text.contains("TpmProtected : YES"), "{text}");
    // The choice and its reason are in the event log.
    let event = agent
        .events()
        .unwrap()
        .into_iter()
        .find(|e| e.id == latchkey_agent::events::id::KEY_PROVIDER)
        .unwrap();
    assert!(event
        .data
        .iter()
        .any(|(k, v)| k == "TpmProtected" && v == "YES"));

    // The state directory copied next to another TPM: the key does not load there.
    let other = swtpm();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = StateDir::new(copy_dir.path().join("device"));
    for (name, bytes) in &state_files {
        let rel = Path::new(name).strip_prefix(agent.state().root()).unwrap();
        copy.write_bytes(rel.to_str().unwrap(), bytes).unwrap();
    }
    let elsewhere = tpm_agent(&w, copy.clone(), &other.tcti());
    let before = files_but_the_log(copy.root());
    let err = elsewhere.signin(upn, PIN).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-018", "{err}");
    assert!(err.to_string().contains("another TPM"), "{err}");
    assert_eq!(
        files_but_the_log(copy.root()),
        before,
        "nothing written but the log"
    );
    let last = elsewhere.events().unwrap().pop().unwrap();
    assert_eq!(last.id, latchkey_agent::events::id::SIGNIN_FAILED);
    assert_eq!(other.counter(), 0, "a foreign blob is not a wrong PIN");
    // And the copy still works on the first TPM: it is the TPM that makes the difference.
    drop(agent);
    let home = tpm_agent(&w, copy, &tpm.tcti());
    home.signin(upn, PIN).unwrap();
}

#[test]
fn wrong_pins_are_counted_by_the_tpm_and_an_old_copy_resets_nothing() {
    let w = world();
    let tpm = swtpm();
    let upn = "lou@example.com";
    let agent = enrolled_with_tpm(&w, upn, &tpm);
    let name = format!("hello-tpm/{upn}.json");
    let copy = agent.state().read_bytes(&name).unwrap().unwrap();

    let err = agent.signin(upn, "000000").unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-016", "{err}");
    assert!(err.to_string().contains("2 tries left"), "{err}");
    assert_eq!(tpm.counter(), 1);
    assert_eq!(tpm.getcap("TPM2_PT_LOCKOUT_COUNTER"), 1);
    // The container did not change: there is no counter in it to restore.
    assert_eq!(agent.state().read_bytes(&name).unwrap().unwrap(), copy);
    agent.state().write_bytes(&name, &copy).unwrap();
    assert_eq!(
        tpm.getcap("TPM2_PT_LOCKOUT_COUNTER"),
        1,
        "restoring reset nothing"
    );

    assert_eq!(
        agent.signin(upn, "111111").unwrap_err().code(),
        "LK-AGENT-016"
    );
    let third = agent.signin(upn, "222222").unwrap_err();
    assert!(
        ["LK-AGENT-016", "LK-AGENT-017"].contains(&third.code()),
        "{third}"
    );
    assert_eq!(tpm.getcap("TPM2_PT_LOCKOUT_COUNTER"), 3);

    // In lockout: the wait is known before any PIN is asked for, and the right PIN is
    // refused too, without another count.
    let before = files_but_the_log(agent.state().root());
    let pre = agent.check_pin_lockout(upn).unwrap_err();
    assert_eq!(pre.code(), "LK-AGENT-017", "{pre}");
    assert!(pre.to_string().contains("try again in about"), "{pre}");
    assert!(pre.to_string().contains("no PIN was asked for"), "{pre}");
    let right = agent.signin(upn, PIN).unwrap_err();
    assert_eq!(right.code(), "LK-AGENT-017", "{right}");
    assert_eq!(tpm.getcap("TPM2_PT_LOCKOUT_COUNTER"), 3);
    let report = agent.status(None).unwrap();
    let lockout = report.device_state.tpm_lockout.unwrap();
    assert!(lockout.in_lockout);
    assert_eq!((lockout.counter, lockout.max_tries), (3, 3));
    // Restoring the copy taken before the first wrong PIN changes nothing.
    agent.state().write_bytes(&name, &copy).unwrap();
    assert_eq!(agent.signin(upn, PIN).unwrap_err().code(), "LK-AGENT-017");
    assert_eq!(
        files_but_the_log(agent.state().root()),
        before,
        "nothing written but the log"
    );
    let last = agent.events().unwrap().pop().unwrap();
    assert_eq!(last.id, latchkey_agent::events::id::SIGNIN_LOCKED_OUT);
}

#[test]
fn a_pin_change_in_the_tpm_keeps_the_key() {
    let w = world();
    let tpm = swtpm();
    let upn = "kit@example.com";
    let agent = enrolled_with_tpm(&w, upn, &tpm);
    let before = agent.tpm_container(upn).unwrap().unwrap();
    let changed = agent.change_pin(upn, PIN, "975310").unwrap();
    assert_eq!(changed.key_id, before.key_id);
    let after = agent.tpm_container(upn).unwrap().unwrap();
    assert_eq!(after.key_id, before.key_id);
    assert_eq!(after.public, before.public, "the same key");
    assert_ne!(after.private, before.private, "a new wrapped blob");
    assert_ne!(after.auth_salt, before.auth_salt);
    agent.signin(upn, "975310").unwrap();
    assert_eq!(tpm.counter(), 0);
    let err = agent.signin(upn, PIN).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-016", "{err}");
    assert_eq!(tpm.counter(), 1, "the old PIN is a wrong PIN now");
}

#[test]
fn auto_takes_the_tpm_when_it_answers_and_software_otherwise() {
    let tpm = swtpm();
    let chosen = choose(ProviderMode::Auto, Some(&tpm.tcti()), CHEAP).unwrap();
    assert_eq!(chosen.provider.name(), TPM_PROVIDER);
    assert!(chosen.provider.tpm_protected());
    assert!(chosen.reason.contains("IBM"), "{}", chosen.reason);

    // A closed port: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = Tcti::parse(&format!("swtpm:host=127.0.0.1,port={port}")).unwrap();
    let fallback = choose(ProviderMode::Auto, Some(&closed), CHEAP).unwrap();
    assert_eq!(
        fallback.provider.name(),
        latchkey_agent::status::SOFTWARE_PROVIDER
    );
    assert!(!fallback.provider.tpm_protected());
    assert!(
        fallback.reason.contains("no usable TPM"),
        "{}",
        fallback.reason
    );
    assert!(
        fallback.reason.contains(closed.as_str()),
        "{}",
        fallback.reason
    );
    let refused = choose(ProviderMode::Tpm, Some(&closed), CHEAP).unwrap_err();
    assert_eq!(refused.code(), "LK-AGENT-019", "{refused}");
    let software = choose(ProviderMode::Software, Some(&tpm.tcti()), CHEAP).unwrap();
    assert_eq!(
        software.provider.name(),
        latchkey_agent::status::SOFTWARE_PROVIDER
    );
}

#[test]
fn a_software_key_keeps_working_when_the_device_gains_a_tpm() {
    let w = world();
    let tpm = swtpm();
    let upn = "ada@example.com";
    w.enrolled(upn);
    let agent = tpm_agent(&w, w.state.clone(), &tpm.tcti());
    agent.check_pin_lockout(upn).unwrap();
    agent.signin(upn, PIN).unwrap();
    let err = agent.signin(upn, "000000").unwrap_err();
    assert_eq!(
        err.code(),
        "LK-PIN-001",
        "the software container counts its own"
    );
    assert_eq!(tpm.counter(), 0);
}

#[test]
fn a_tpm_12_is_reported_never_used_and_refused_under_exclude_tpm12() {
    let dir = tempfile::tempdir().unwrap();
    let old = SwTpm::start_tpm12(dir.path()).unwrap();
    let tcti = old.tcti().unwrap();
    // `--key-provider tpm` refuses it; `auto` falls back to software and says why.
    let refused = choose(ProviderMode::Tpm, Some(&tcti), CHEAP).unwrap_err();
    assert_eq!(refused.code(), "LK-AGENT-019", "{refused}");
    assert!(refused.to_string().contains("1.2"), "{refused}");
    let choice = choose(ProviderMode::Auto, Some(&tcti), CHEAP).unwrap();
    assert_eq!(
        choice.provider.name(),
        latchkey_agent::status::SOFTWARE_PROVIDER
    );
    assert!(choice.reason.contains("TPM 1.2"), "{}", choice.reason);
    assert_eq!(
        choice.provider.tpm_state(),
        latchkey_policy::provision::TpmState::UsableTpm12
    );

    let w = world();
    let upn = "tess@example.com";
    w.joined(upn, JoinType::Cloud);
    let agent = w.agent_in(w.state.clone()).with_choice(choice);
    // Reported, and allowed while the policy does not exclude it.
    agent.check_prerequisites(upn).unwrap();
    let status = agent.status(None).unwrap();
    let shown = format!("{status:?}");
    assert!(shown.contains("1.2 (not used"), "{shown}");
    let gpo = |settings: &[&str]| {
        let s: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        w.runtime
            .block_on(w.admin.gpo_set(
                "WHfB",
                latchkey_policy::gpo::GpoScope::Computer,
                None,
                None,
                &s,
            ))
            .unwrap()
    };
    // RequireSecurityDevice alone: a TPM 1.2 never holds a key here, so it does not count.
    gpo(&["RequireSecurityDevice=true"]);
    agent.sync_policy(upn).unwrap();
    let err = agent.check_prerequisites(upn).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-010", "{err}");
    let words = format!("{:?}", agent.prerequisites_for(Some(upn)).unwrap());
    assert!(words.contains("the TPM is not usable"), "{words}");
    // And excluded by policy, it is named as the excluded TPM 1.2.
    gpo(&["TPM12=true", "RequireSecurityDevice=true"]);
    agent.sync_policy(upn).unwrap();
    let err = agent.check_prerequisites(upn).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-010", "{err}");
    let decision = agent.prerequisites_for(Some(upn)).unwrap();
    let words = format!("{decision:?}");
    assert!(
        words.contains("ExcludeSecurityDevices/TPM12 disallows"),
        "{words}"
    );
    assert!(
        agent.container(upn).unwrap().is_none(),
        "nothing provisioned"
    );
}
