//! Policy end to end with the real binaries: the administrator changes policy with
//! `latchkeyd policy apply` (SyncML) or `latchkeyd policy gpo set`, the device receives it
//! (`latchkey policy sync`, at join and at sign-in), and provisioning, PIN change and sign-in
//! obey it; `latchkey policy show` says where each setting came from and what this device
//! does not enforce.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latchkey_e2e::{Output, Service, Totp, World};

const PASSWORD: &str = "pa55word-for-tests";
const PIN: &str = "246810";
const LONG_PIN: &str = "24681357";

/// Joins `upn` on device `pc` with MFA (the owner stands in for a fresh MFA at setup).
fn join(world: &World, svc: &Service, upn: &str, join_type: &str) -> (Output, Totp) {
    let totp = world.add_user(upn, PASSWORD);
    let out = world.join_as(svc, "pc", upn, PASSWORD, &totp, join_type);
    (out, totp)
}

fn ok(out: Output) -> Output {
    out.assert_ok();
    out
}

/// `latchkeyd policy apply` of Replaces of `(path under PassportForWork/, format, data)`.
fn apply(world: &World, settings: &[(&str, &str, &str)]) {
    world.apply_csp(settings);
}

fn gpo(world: &World, settings: &[&str]) {
    let mut args = vec!["policy", "gpo", "set", "WHfB", "--all"];
    args.extend_from_slice(settings);
    world.admin(&args, "").assert_ok();
}

fn sync(world: &World) -> Output {
    let out = world.device("pc", &["policy", "sync"], "");
    out.assert_ok();
    out
}

fn setup(world: &World, pin: &str) -> Output {
    world.device(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\n{pin}\n"),
    )
}

fn pin_change(world: &World, old: &str, new: &str) -> Output {
    world.device(
        "pc",
        &["hello", "pin", "change", "--pin-stdin"],
        &format!("{old}\n{new}\n"),
    )
}

fn last_event(world: &World) -> serde_json::Value {
    let events = world
        .device("pc", &["events", "--json"], "")
        .assert_ok()
        .json();
    events.as_array().unwrap().last().unwrap().clone()
}

#[test]
fn minimum_length_and_history_are_obeyed_at_setup_and_pin_change() {
    let world = World::new();
    let svc = world.start_service();
    join(&world, &svc, "amy@example.com", "cloud");
    setup(&world, PIN).assert_ok();
    apply(
        &world,
        &[
            ("{t}/Policies/PINComplexity/MinimumPINLength", "int", "8"),
            ("{t}/Policies/PINComplexity/History", "int", "2"),
        ],
    );
    let synced = sync(&world);
    assert!(
        synced.stdout.contains("Policy version"),
        "{}",
        synced.stdout
    );

    // A 6-digit PIN is refused at setup and at pin change, with the rule listed.
    let refused = setup(&world, "135790");
    refused.assert_error("LK-PIN-003");
    assert!(
        refused.stderr.contains("at least 8 characters"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("8 to 127 characters"),
        "{}",
        refused.stderr
    );
    let refused = pin_change(&world, PIN, "135790");
    refused.assert_error("LK-PIN-003");
    assert!(
        refused.stderr.contains("at least 8 characters"),
        "{}",
        refused.stderr
    );

    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    let key_id = status["UserState"]["NgcKeyId"].clone();
    let changed = pin_change(&world, PIN, LONG_PIN);
    changed.assert_ok();
    assert!(
        changed.stdout.contains(key_id.as_str().unwrap()),
        "{}",
        changed.stdout
    );
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["UserState"]["NgcKeyId"], key_id, "same key");
    // The old PIN no longer signs in; the new one does.
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_error("LK-PIN-001");
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{LONG_PIN}\n"))
        .assert_ok();
    // History 2: the current PIN and the one before may not come back.
    pin_change(&world, LONG_PIN, LONG_PIN).assert_error("LK-PIN-005");
    pin_change(&world, LONG_PIN, "97531864").assert_ok();
    let reused = pin_change(&world, "97531864", LONG_PIN);
    reused.assert_error("LK-PIN-005");
    assert!(reused.stderr.contains("last 2 PINs"), "{}", reused.stderr);
    // A wrong current PIN counts toward the lockout.
    pin_change(&world, "00000000", "11223344").assert_error("LK-PIN-001");
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["UserState"]["PinFailures"], 1);
    // The history holds no PIN in the clear.
    let dir = world.device_dir("pc").join("pinhistory");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(!text.contains(LONG_PIN) && !text.contains(PIN));
    }
}

#[test]
fn use_passport_for_work_false_stops_a_cloud_device_with_event_360() {
    let world = World::new();
    let svc = world.start_service();
    join(&world, &svc, "ben@example.com", "cloud");
    apply(
        &world,
        &[("{t}/Policies/UsePassportForWork", "bool", "false")],
    );
    sync(&world);
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        status["NgcPrerequisiteCheck"]["PreReqResult"],
        "WillNotProvision"
    );
    setup(&world, PIN).assert_error("LK-AGENT-010");
    let event = last_event(&world);
    assert_eq!(event["id"], 360);
    assert!(
        event
            .to_string()
            .contains("UsePassportForWork is false (device CSP)"),
        "{event}"
    );
    assert_eq!(status["UserState"]["NgcSet"], false);
}

#[test]
fn a_hybrid_device_provisions_once_group_policy_enables_it() {
    let world = World::new();
    let svc = world.start_service();
    let (_, totp) = join(&world, &svc, "cat@example.com", "hybrid");
    setup(&world, PIN).assert_error("LK-AGENT-010");
    assert_eq!(last_event(&world)["id"], 360);
    gpo(&world, &["Enabled=true"]);
    sync(&world);
    // A hybrid device's owner gives a fresh MFA at setup.
    let otp = totp.fresh();
    world
        .device(
            "pc",
            &[
                "hello",
                "setup",
                "--password-stdin",
                "--otp",
                &otp,
                "--pin-stdin",
            ],
            &format!("{PASSWORD}\n{PIN}\n"),
        )
        .assert_ok();
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["UserState"]["NgcSet"], true);
    let events = world
        .device("pc", &["events", "--json"], "")
        .assert_ok()
        .json();
    assert!(events.as_array().unwrap().iter().any(|e| e["id"] == 358));
    let show = ok(world.device("pc", &["policy", "show"], ""));
    let line = show
        .stdout
        .lines()
        .find(|l| l.starts_with("UsePassportForWork "))
        .unwrap();
    assert!(line.contains("computer Group Policy"), "{line}");
}

#[test]
fn require_security_device_refuses_with_the_failed_check() {
    let world = World::new();
    let svc = world.start_service();
    join(&world, &svc, "dee@example.com", "cloud");
    gpo(&world, &["RequireSecurityDevice=true"]);
    sync(&world);
    let refused = setup(&world, PIN);
    refused.assert_error("LK-AGENT-010");
    assert!(
        refused.stderr.contains("DeviceEligible"),
        "{}",
        refused.stderr
    );
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        status["NgcPrerequisiteCheck"]["Checks"]["DeviceEligible"]["State"],
        "NO"
    );

    // UseCertificateForOnPremAuth, which makes setup wait for the certificate, is
    // checked end to end in certificates.rs.
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(0),
        "no key reached the service"
    );
}

#[test]
fn policy_show_gives_sources_and_not_enforced_settings_and_sync_fails_offline() {
    let world = World::new();
    let svc = world.start_service();
    let (joined, _) = join(&world, &svc, "eve@example.com", "cloud");
    assert!(
        joined.stdout.contains("Policy version 0"),
        "{}",
        joined.stdout
    );
    let before = world
        .device("pc", &["policy", "show", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(before["version"], 0);
    assert_eq!(before["origin"], "service");

    apply(
        &world,
        &[
            ("Biometrics/UseBiometrics", "bool", "false"),
            ("DynamicLock/DynamicLock", "bool", "true"),
            ("{t}/Policies/PINComplexity/MinimumPINLength", "int", "6"),
        ],
    );
    gpo(&world, &["MinimumPINLength=7"]);
    sync(&world);
    let view = world
        .device("pc", &["policy", "show", "--json"], "")
        .assert_ok()
        .json();
    let version = view["version"].as_u64().unwrap();
    assert!(version >= 2, "{view}");
    let row = |name: &str| {
        view["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["setting"] == name)
            .unwrap_or_else(|| panic!("{name} not shown: {view}"))
            .clone()
    };
    let bio = row("Biometrics/UseBiometrics");
    assert_eq!(
        (bio["value"].as_str(), bio["source"].as_str()),
        (Some("false"), Some("device CSP"))
    );
    assert_eq!(bio["enforcement"], "not_enforced");
    assert_eq!(
        row("DynamicLock/DynamicLock")["enforcement"],
        "not_enforced"
    );
    let min = row("PINComplexity/MinimumPINLength");
    assert_eq!(min["value"], "7");
    assert_eq!(
        min["source"], "computer Group Policy",
        "GP wins the PIN group"
    );
    assert_eq!(
        row("ExcludeSecurityDevices/TPM12")["enforcement"],
        "reported"
    );
    assert!(
        view["notes"]
            .to_string()
            .contains("CSP PIN rules are not applied"),
        "{view}"
    );

    let text = ok(world.device("pc", &["policy", "show"], ""));
    let bio_line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("Biometrics/UseBiometrics "))
        .unwrap();
    assert!(
        bio_line.contains("device CSP") && bio_line.contains("not enforced"),
        "{bio_line}"
    );
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["Policy"]["Version"], version);
    let status_text = ok(world.device("pc", &["status"], ""));
    assert!(
        status_text.stdout.contains("PolicyVersion"),
        "{}",
        status_text.stdout
    );

    // The service is gone: `policy sync` fails, and the last policy stays in force.
    drop(svc);
    world
        .device("pc", &["policy", "sync"], "")
        .assert_error("LK-AGENT-005");
    let after = world
        .device("pc", &["policy", "show", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(after["version"], version);
}
