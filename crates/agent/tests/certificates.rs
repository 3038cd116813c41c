//! Hello certificates on the device against the real service in-process: enrolment at
//! `hello setup` under UseCertificateForOnPremAuth (and its failure, which stores
//! nothing), `cert enroll`, renewal only inside the window (by `cert renew` and at
//! sign-in), never after expiry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{password_only, world, World, PIN};
use latchkey_agent::{Agent, Renewal};
use latchkey_policy::gpo::GpoScope;
use latchkey_proto::api::device::JoinType;
use latchkeyd::data_admin::cert::TemplateChange;

const TEMPLATE: &str = "Hello authentication";
const DAY: i64 = 86_400;

fn gpo(w: &World, settings: &[&str]) {
    let s: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    w.runtime
        .block_on(w.admin.gpo_set("WHfB", GpoScope::Computer, None, None, &s))
        .unwrap();
}

fn template(w: &World, change: TemplateChange) {
    w.runtime
        .block_on(w.admin.set_cert_template(TEMPLATE, &change))
        .unwrap();
}

/// The certificates the service recorded for `upn`: (serial, state).
fn issued(w: &World, upn: &str) -> Vec<(String, String)> {
    w.runtime
        .block_on(w.admin.certificates(Some(upn)))
        .unwrap()
        .into_iter()
        .map(|c| (c.serial, c.state))
        .collect()
}

/// Moves both clocks on by `seconds`.
fn later(w: &World, seconds: i64) {
    w.server_clock
        .advance(latchkey_server::clock::secs(seconds));
    w.device_clock.advance(seconds);
}

/// `upn` joined a cloud device with MFA and synced the policy that requires a certificate.
fn joined_under_certificate_policy(w: &World, upn: &str) -> Agent {
    let agent = w.joined(upn, JoinType::Cloud);
    gpo(w, &["UseCertificateForOnPremAuth=true"]);
    agent.sync_policy(upn).unwrap();
    agent
}

#[test]
fn setup_under_use_certificate_for_on_prem_auth_installs_the_certificate_first() {
    let w = world();
    let upn = "cy@example.com";
    let agent = joined_under_certificate_policy(&w, upn);
    agent.check_prerequisites(upn).unwrap();
    let status = agent.status(None).unwrap();
    assert_eq!(
        status.ngc_prerequisite_check.checks["CertEnrollment"].state,
        "PENDING"
    );

    // The registered owner gives no one-time code: the new key's own sign-in is the MFA.
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let cert = done
        .certificate
        .clone()
        .expect("a certificate with the key");
    assert_eq!(cert.key_id, done.key_id);
    assert_eq!(cert.template, TEMPLATE);
    assert_eq!(issued(&w, upn), [(cert.serial.clone(), "valid".to_owned())]);
    assert_eq!(agent.certificate(upn).unwrap(), Some(cert.clone()));

    let status = agent.status(None).unwrap();
    assert_eq!(
        status.ngc_prerequisite_check.checks["CertEnrollment"].state,
        "YES"
    );
    let line = status.user_state.hello_certificate.unwrap();
    assert!(
        line.contains(&cert.thumbprint) && line.contains(TEMPLATE),
        "{line}"
    );
    let ids: Vec<u32> = agent.events().unwrap().iter().map(|e| e.id).collect();
    let installed = ids.iter().position(|&i| i == 380).expect("event 380");
    let registered = ids.iter().position(|&i| i == 300).expect("event 300");
    assert!(
        installed < registered,
        "the certificate before the key: {ids:?}"
    );
}

#[test]
fn a_refused_enrolment_under_the_policy_stores_nothing_on_the_device() {
    let w = world();
    let upn = "dee@example.com";
    let agent = joined_under_certificate_policy(&w, upn);
    w.runtime.block_on(w.admin.group_add("wh4b-users")).unwrap();
    template(
        &w,
        TemplateChange {
            group: Some(Some("wh4b-users".into())),
            ..TemplateChange::default()
        },
    );
    let err = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-014", "{err}");
    assert!(err.to_string().contains("LK-CERT-003"), "{err}");
    assert!(agent.stored_key(upn).unwrap().is_none(), "no key stored");
    assert!(agent.certificate(upn).unwrap().is_none(), "no certificate");
    assert!(issued(&w, upn).is_empty(), "nothing issued");
    let keys = w.runtime.block_on(w.admin.keys(Some(upn))).unwrap();
    assert!(keys.is_empty(), "nor registered: one transaction");
    // The refused enrolment, then the registration it stopped.
    let mut log = agent.events().unwrap();
    let last = log.pop().unwrap();
    let before = log.pop().unwrap();
    assert_eq!((before.id, before.level.as_str()), (383, "Warning"));
    assert_eq!((last.id, last.level.as_str()), (301, "Error"));
    assert!(last
        .data
        .contains(&("Code".to_owned(), "LK-AGENT-014".to_owned())));

    // In the group, setup again (still no one-time code: there is no key to replace),
    // and this time the certificate comes with the key.
    w.runtime
        .block_on(w.admin.group_member("wh4b-users", Some(upn), None, true))
        .unwrap();
    assert!(!agent.mfa_needed(upn).unwrap());
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    assert!(done.certificate.is_some());
    assert_eq!(issued(&w, upn).len(), 1);
}

#[test]
fn renewal_only_inside_the_window_and_never_after_expiry() {
    let w = world();
    let upn = "eve@example.com";
    // Ten days, renewed in the last 20 %: the window opens on day 8.
    template(
        &w,
        TemplateChange {
            validity_days: Some(10),
            renewal_percent: Some(20),
            ..TemplateChange::default()
        },
    );
    let agent = joined_under_certificate_policy(&w, upn);
    let first = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap()
        .certificate
        .unwrap();

    // Before the window: nothing is sent, nothing issued; a sign-in renews nothing.
    later(&w, 7 * DAY);
    assert_eq!(
        agent.cert_renew(upn, PIN).unwrap(),
        Renewal::NotDue {
            renew_after: first.renew_after
        }
    );
    assert!(agent.signin(upn, PIN).unwrap().certificate.is_none());
    assert_eq!(issued(&w, upn).len(), 1);

    // Inside the window: the sign-in renews, for the same key.
    later(&w, DAY + DAY / 2);
    let renewed = agent
        .signin(upn, PIN)
        .unwrap()
        .certificate
        .expect("renewed at sign-in")
        .unwrap();
    assert_ne!(renewed.serial, first.serial);
    assert_eq!(renewed.key_id, first.key_id);
    assert!(renewed.not_after > first.not_after);
    let states = issued(&w, upn);
    assert!(
        states.contains(&(first.serial.clone(), "superseded".to_owned())),
        "{states:?}"
    );
    assert!(
        states.contains(&(renewed.serial.clone(), "valid".to_owned())),
        "{states:?}"
    );
    assert_eq!(agent.certificate(upn).unwrap(), Some(renewed.clone()));
    // The new certificate is not due: `cert renew` sends nothing.
    assert!(matches!(
        agent.cert_renew(upn, PIN).unwrap(),
        Renewal::NotDue { .. }
    ));

    // After expiry: no renewal, locally or at sign-in; enrolment (a Hello sign-in with
    // the PIN: fresh MFA) replaces it.
    later(&w, 11 * DAY);
    let err = agent.cert_renew(upn, PIN).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-030", "{err}");
    let before = issued(&w, upn).len();
    assert!(agent.signin(upn, PIN).unwrap().certificate.is_none());
    assert_eq!(
        issued(&w, upn).len(),
        before,
        "an expired one is not renewed"
    );
    let status = agent.status(None).unwrap();
    assert!(status
        .user_state
        .hello_certificate
        .unwrap()
        .contains("EXPIRED"));
    assert_eq!(
        status.ngc_prerequisite_check.checks["CertEnrollment"].state,
        "PENDING"
    );
    let fresh = agent.cert_enroll(upn, PIN, None).unwrap();
    assert_ne!(fresh.serial, renewed.serial);
    assert_eq!(fresh.key_id, first.key_id);
    assert_eq!(issued(&w, upn).len(), before + 1);
}

#[test]
fn a_wrong_pin_stops_enrolment_and_renewal_before_the_service_hears_of_it() {
    let w = world();
    let upn = "fay@example.com";
    let agent = joined_under_certificate_policy(&w, upn);
    agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let before = issued(&w, upn);
    assert_eq!(
        agent.cert_enroll(upn, "000000", None).unwrap_err().code(),
        "LK-PIN-001"
    );
    later(&w, 300 * DAY);
    assert_eq!(
        agent.cert_renew(upn, "000000").unwrap_err().code(),
        "LK-PIN-001"
    );
    assert_eq!(issued(&w, upn), before);
    assert_eq!(
        agent.container(upn).unwrap().unwrap().lockout.failures,
        2,
        "both counted"
    );
}

#[test]
fn a_tpm_key_signs_its_own_request_and_renews_in_the_tpm() {
    let w = world();
    let tpm = common::tpm::swtpm();
    let upn = "gil@example.com";
    w.joined(upn, JoinType::Cloud);
    let agent = common::tpm::tpm_agent(&w, w.state.clone(), &tpm.tcti());
    gpo(&w, &["UseCertificateForOnPremAuth=true"]);
    agent.sync_policy(upn).unwrap();
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    assert!(agent.tpm_container(upn).unwrap().is_some(), "a TPM key");
    let cert = done.certificate.expect("certified with the key");
    assert_eq!(cert.key_id, done.key_id);
    // The certificate certifies the key the TPM holds: the registered public key.
    let listed = w.runtime.block_on(w.admin.keys(Some(upn))).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key_id, cert.key_id);

    // Renewal in the renewal window: the TPM signs the request and the key proof.
    later(&w, 300 * DAY);
    let renewed = match agent.cert_renew(upn, PIN).unwrap() {
        Renewal::Renewed(r) => r,
        other => panic!("not renewed: {other:?}"),
    };
    assert_eq!(renewed.key_id, cert.key_id);
    assert_ne!(renewed.serial, cert.serial);
}
