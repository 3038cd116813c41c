//! Policy on the device against the real service (in-process, HTTPS on loopback): the
//! SyncML session delivers what the administrator set, the sources are kept, and
//! provisioning, PIN change and sign-in obey it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{password_only, world, World, PIN};
use latchkey_agent::policy_sync::PolicyRefresh;
use latchkey_policy::gpo::GpoScope;
use latchkey_policy::Source;
use latchkey_proto::api::device::JoinType;

fn csp(w: &World, settings: &[(&str, &str, &str)]) -> i64 {
    let t = w.admin.tenant().tenant_id;
    let mut body = String::new();
    for (i, (path, format, data)) in settings.iter().enumerate() {
        // Nodes under {TenantId}/Policies are named without that prefix.
        let path = if path.starts_with("Biometrics/") {
            path.to_string()
        } else {
            format!("{t}/Policies/{path}")
        };
        body.push_str(&format!(
            "<Replace><CmdID>{}</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork/{path}</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">{format}</Format></Meta><Data>{data}</Data></Item></Replace>",
            i + 1
        ));
    }
    let xml =
        format!("<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody>{body}<Final/></SyncBody></SyncML>");
    w.runtime
        .block_on(w.admin.apply_syncml(&xml, None))
        .unwrap();
    w.runtime.block_on(w.admin.policy_version()).unwrap()
}

fn gpo(w: &World, settings: &[&str]) -> i64 {
    let s: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    w.runtime
        .block_on(w.admin.gpo_set("WHfB", GpoScope::Computer, None, None, &s))
        .unwrap()
}

#[test]
fn the_join_receives_policy_and_a_sync_brings_changes_with_their_sources() {
    let w = world();
    let upn = "ann@example.com";
    let agent = w.joined(upn, JoinType::Cloud);
    let joined = agent.policy_in_force(None).unwrap();
    assert_eq!(
        joined.version(),
        Some(0),
        "received at join, before any change"
    );

    let v = csp(
        &w,
        &[
            ("PINComplexity/MinimumPINLength", "int", "8"),
            ("Biometrics/UseBiometrics", "bool", "false"),
        ],
    );
    let v = v.max(gpo(&w, &["Enabled=true"]));
    let stored = agent.sync_policy(upn).unwrap();
    assert_eq!(stored.version, v as u64);
    assert_eq!(stored.failed, 0, "every command applied on the device");
    assert_eq!(stored.commands, 3, "{:?}", stored.policy);
    let p = &stored.policy;
    assert_eq!(
        (p.pin.min_length.value, p.pin.min_length.source),
        (8, Source::DeviceCsp)
    );
    assert_eq!(p.use_passport_for_work.source, Source::ComputerGpo);
    assert!(!p.use_biometrics.value);
    assert_eq!(agent.status(None).unwrap().policy.version, Some(v as u64));
    let sessions = w
        .runtime
        .block_on(
            w.admin
                .policy_sessions(&agent.device().unwrap().unwrap().device_id),
        )
        .unwrap();
    assert_eq!(sessions[0].failed, Some(0), "message 2 reached the service");
    assert!(sessions[0].closed_at.is_some());

    // Setup obeys the received rules.
    let err = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.code(), "LK-PIN-003");
    assert!(err.to_string().contains("at least 8 characters"), "{err}");
    assert!(
        err.to_string().contains("8 to 127 characters"),
        "the rules are listed: {err}"
    );
}

#[test]
fn pin_change_follows_length_history_and_expiry_and_keeps_the_key() {
    let w = world();
    let upn = "bo@example.com";
    let agent = w.enrolled(upn);
    let key_id = agent.container(upn).unwrap().unwrap().key_id;
    csp(
        &w,
        &[
            ("PINComplexity/MinimumPINLength", "int", "8"),
            ("PINComplexity/History", "int", "2"),
            ("PINComplexity/Expiration", "int", "1"),
        ],
    );
    // The sign-in brings the new policy; the 6-digit PIN is not expired yet.
    let signed = agent.signin(upn, PIN).unwrap();
    assert!(
        matches!(signed.policy, PolicyRefresh::Received { .. }),
        "{:?}",
        signed.policy
    );

    assert_eq!(
        agent.change_pin(upn, PIN, "135790").unwrap_err().code(),
        "LK-PIN-003"
    );
    // A wrong old PIN counts toward the lockout.
    assert_eq!(
        agent
            .change_pin(upn, "000000", "13579024")
            .unwrap_err()
            .code(),
        "LK-PIN-001"
    );
    assert_eq!(agent.container(upn).unwrap().unwrap().lockout.failures, 1);
    let changed = agent.change_pin(upn, PIN, "13579024").unwrap();
    assert_eq!(changed.key_id, key_id, "the key id is unchanged");
    assert_eq!(agent.container(upn).unwrap().unwrap().lockout.failures, 0);
    // History 2: the current and the previous PIN are refused (the old one is too short
    // anyway, so use a long pair).
    assert_eq!(
        agent
            .change_pin(upn, "13579024", "13579024")
            .unwrap_err()
            .code(),
        "LK-PIN-005"
    );
    agent.change_pin(upn, "13579024", "24680135").unwrap();
    assert_eq!(
        agent
            .change_pin(upn, "24680135", "13579024")
            .unwrap_err()
            .code(),
        "LK-PIN-005"
    );
    agent.signin(upn, "24680135").unwrap();

    // A day later (Expiration 1) the sign-in asks for a PIN change.
    w.device_clock.advance(86_400);
    let err = agent.signin(upn, "24680135").unwrap_err();
    assert_eq!(err.code(), "LK-PIN-006", "{err}");
    assert!(err.to_string().contains("latchkey hello pin change"));
    agent.change_pin(upn, "24680135", "97531864").unwrap();
    agent.signin(upn, "97531864").unwrap();
    assert_eq!(agent.container(upn).unwrap().unwrap().key_id, key_id);
}

#[test]
fn provisioning_obeys_enable_require_device_and_certificate_policy() {
    let w = world();
    let upn = "cy@example.com";
    let (agent, secret) = w.joined_with_secret(upn, JoinType::Hybrid);
    // Hybrid: not by default.
    assert_eq!(
        agent.check_prerequisites(upn).unwrap_err().code(),
        "LK-AGENT-010"
    );
    gpo(&w, &["Enabled=true"]);
    agent.sync_policy(upn).unwrap();
    agent.check_prerequisites(upn).unwrap();

    gpo(&w, &["RequireSecurityDevice=true"]);
    agent.sync_policy(upn).unwrap();
    let err = agent.check_prerequisites(upn).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-010");
    assert!(err.to_string().contains("DeviceEligible"), "{err}");
    let last = agent.events().unwrap().pop().unwrap();
    assert_eq!(last.id, 360);

    gpo(
        &w,
        &[
            "RequireSecurityDevice=false",
            "UseCertificateForOnPremAuth=true",
        ],
    );
    agent.sync_policy(upn).unwrap();
    // The certificate step is pending, which does not stop provisioning: setup enrols.
    agent.check_prerequisites(upn).unwrap();
    let status = agent.status(None).unwrap();
    let cert = &status.ngc_prerequisite_check.checks["CertEnrollment"];
    assert_eq!(cert.state, "PENDING");
    // The join spent this step's code.
    w.server_clock.advance(latchkey_server::clock::secs(30));
    let full_mfa = latchkey_agent::Credentials {
        otp: Some(w.otp(&secret)),
        ..password_only()
    };
    // The certificate comes with the key (certificates.rs has the refusals).
    let done = agent.provision(upn, PIN, &full_mfa, &mut |_| {}).unwrap();
    assert!(done.certificate.is_some());
    let status = agent.status(None).unwrap();
    let cert = &status.ngc_prerequisite_check.checks["CertEnrollment"];
    assert_eq!(cert.state, "YES");
}

#[test]
fn use_passport_for_work_false_stops_a_cloud_device() {
    let w = world();
    let upn = "di@example.com";
    let agent = w.joined(upn, JoinType::Cloud);
    csp(&w, &[("UsePassportForWork", "bool", "false")]);
    agent.sync_policy(upn).unwrap();
    let err = agent.check_prerequisites(upn).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-010");
    assert!(err.to_string().contains("PolicyEnabled"), "{err}");
    let event = agent.events().unwrap().pop().unwrap();
    assert_eq!(event.id, 360);
    assert!(event
        .data
        .iter()
        .any(|(k, v)| k == "PolicyEnabled" && v.starts_with("NO")));
}
