//! The device CLI's own behaviour end to end: CA pinning at join, private atomic state,
//! no key pool, PIN rules, status and the errors before each step is done.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;

use latchkey_e2e::{snapshot, Service, Totp, World};

const PASSWORD: &str = "pa55word-for-tests";
const PIN: &str = "246810";

fn join_args(svc: &Service, upn: &str, otp: &str, trust: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "join",
        "--server",
        &svc.url,
        "--user",
        upn,
        "--password-stdin",
        "--otp",
        otp,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(trust.iter().map(|s| s.to_string()));
    args
}

fn run(world: &World, device: &str, args: &[String], stdin: &str) -> latchkey_e2e::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.device(device, &args, stdin)
}

fn joined(world: &World, svc: &Service, device: &str, upn: &str) -> Totp {
    let totp = world.add_user(upn, PASSWORD);
    let ca = world.ca_file().display().to_string();
    let args = join_args(svc, upn, &totp.fresh(), &["--ca", &ca]);
    run(world, device, &args, &format!("{PASSWORD}\n")).assert_ok();
    totp
}

#[test]
fn join_pins_the_ca_by_fingerprint_and_refuses_a_wrong_one() {
    let world = World::new();
    let svc = world.start_service();
    let totp = world.add_user("kim@example.com", PASSWORD);
    let tenant = world
        .admin(&["tenant", "show", "--json"], "")
        .assert_ok()
        .json();
    let fingerprint = tenant["ca_fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_string();

    let wrong = "00:".repeat(31) + "00";
    let args = join_args(
        &svc,
        "kim@example.com",
        &totp.fresh(),
        &["--ca-fingerprint", &wrong],
    );
    run(&world, "pc", &args, &format!("{PASSWORD}\n")).assert_error("LK-AGENT-008");
    assert!(
        snapshot(&world.device_dir("pc")).is_empty(),
        "nothing written after refusing the CA"
    );
    let devices = world
        .admin(&["device", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        devices.as_array().map(Vec::len),
        Some(0),
        "no join was sent"
    );

    // The fingerprint as printed, or in lowercase without colons: both pin the CA.
    let relaxed = fingerprint.replace(':', "").to_lowercase();
    let args = join_args(
        &svc,
        "kim@example.com",
        &totp.fresh(),
        &["--ca-fingerprint", &relaxed],
    );
    run(&world, "pc", &args, &format!("{PASSWORD}\n")).assert_ok();
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["DeviceState"]["Joined"], true);

    // Joining again is refused until the device leaves.
    let args = join_args(
        &svc,
        "kim@example.com",
        &totp.fresh(),
        &["--ca-fingerprint", &fingerprint],
    );
    run(&world, "pc", &args, &format!("{PASSWORD}\n")).assert_error("LK-AGENT-002");
}

#[test]
fn a_ca_file_that_is_not_the_services_ca_fails_the_tls_check() {
    let world = World::new();
    let svc = world.start_service();
    let other = World::new();
    let _other_svc = other.start_service();
    let totp = world.add_user("lee@example.com", PASSWORD);
    let foreign = other.ca_file().display().to_string();
    let args = join_args(&svc, "lee@example.com", &totp.fresh(), &["--ca", &foreign]);
    let out = run(&world, "pc", &args, &format!("{PASSWORD}\n"));
    out.assert_error("LK-AGENT-039");
    assert!(snapshot(&world.device_dir("pc")).is_empty());
}

#[test]
fn state_files_are_private_and_no_temporary_file_is_left() {
    let world = World::new();
    let svc = world.start_service();
    joined(&world, &svc, "pc", "mia@example.com");
    world
        .device(
            "pc",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{PASSWORD}\n{PIN}\n"),
        )
        .assert_ok();
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_ok();
    let files = snapshot(&world.device_dir("pc"));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "device.json",
        "events.json",
        "hello/mia@example.com.json",
        "sso/mia@example.com.json",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    for (name, _) in &files {
        assert!(!name.contains(".tmp"), "temporary file left: {name}");
        let mode = std::fs::metadata(world.device_dir("pc").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
    // The container never holds the private key in the clear.
    let (_, container) = files.iter().find(|(n, _)| n.starts_with("hello/")).unwrap();
    let text = String::from_utf8_lossy(container);
    assert!(text.contains("argon2") || text.contains("m_cost_kib"));
    assert!(!text.contains("PRIVATE KEY"));
}

#[test]
fn setup_keeps_no_key_pool_and_replacing_a_key_needs_the_one_time_code() {
    let world = World::new();
    let svc = world.start_service();
    let totp = joined(&world, &svc, "pc", "ned@example.com");
    // A plaintext pool key left by an earlier version is removed at start.
    let pool = world.device_dir("pc").join("pool");
    std::fs::create_dir(&pool).unwrap();
    std::fs::set_permissions(&pool, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(pool.join("old.key"), b"plaintext PKCS#8").unwrap();
    let status = world
        .device("pc", &["pool", "status"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(status.contains("none"), "{status}");
    assert!(!pool.exists(), "legacy pool removed");

    let setup = world.device(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\n{PIN}\n"),
    );
    setup.assert_ok();
    assert!(setup.stderr.contains("Generating"), "{}", setup.stderr);
    assert!(
        !world.device_dir("pc").join("pool").exists(),
        "no pool is kept"
    );

    // Replacing the key: the password alone is refused (LK-AUTH-005) and nothing changes.
    let before = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    let refused = world.device(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\n{PIN}\n"),
    );
    refused.assert_error("LK-AUTH-005");
    let unchanged = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        before["UserState"]["NgcKeyId"],
        unchanged["UserState"]["NgcKeyId"]
    );
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_ok();

    // With the one-time code the new key replaces the old one (one key per user per device).
    let otp = totp.fresh();
    let setup = world.device(
        "pc",
        &[
            "hello",
            "setup",
            "--password-stdin",
            "--pin-stdin",
            "--otp",
            &otp,
        ],
        &format!("{PASSWORD}\n{PIN}\n"),
    );
    setup.assert_ok();
    assert!(setup.stdout.contains("Replaced key"), "{}", setup.stdout);
    let after = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_ne!(
        before["UserState"]["NgcKeyId"],
        after["UserState"]["NgcKeyId"]
    );
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    assert_eq!(keys[0]["key_id"], after["UserState"]["NgcKeyId"]);
}

#[test]
fn a_pin_that_breaks_the_rules_is_refused_with_every_rule_and_nothing_is_registered() {
    let world = World::new();
    let svc = world.start_service();
    joined(&world, &svc, "pc", "oli@example.com");
    let out = world.device(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\nab\n"),
    );
    out.assert_error("LK-PIN-003");
    assert!(out.stderr.contains("at least 4"), "{}", out.stderr);
    assert!(out.stderr.contains("lowercase"), "{}", out.stderr);
    assert!(out.stderr.contains("digit"), "{}", out.stderr);
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(0));
    let names: Vec<String> = snapshot(&world.device_dir("pc"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("hello/")),
        "no container: {names:?}"
    );
}

#[test]
fn each_step_before_its_prerequisite_fails_with_its_own_code() {
    let world = World::new();
    let svc = world.start_service();
    world
        .device("pc", &["signin", "--pin-stdin"], "1234\n")
        .assert_error("LK-AGENT-001");
    world
        .device("pc", &["leave"], "")
        .assert_error("LK-AGENT-001");
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["DeviceState"]["Joined"], false);
    assert_eq!(
        status["NgcPrerequisiteCheck"]["PreReqResult"],
        "WillNotProvision"
    );

    joined(&world, &svc, "pc", "pat@example.com");
    world
        .device("pc", &["signin", "--pin-stdin"], "1234\n")
        .assert_error("LK-AGENT-009");
    world
        .device("pc", &["token", "--audience", "api://x"], "")
        .assert_error("LK-AGENT-011");

    world
        .device(
            "pc",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{PASSWORD}\n{PIN}\n"),
        )
        .assert_ok();
    let text = world
        .device("pc", &["status"], "")
        .assert_ok()
        .stdout
        .clone();
    for section in [
        "Device State",
        "User State",
        "SSO State",
        "Ngc Prerequisite Check",
    ] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert!(
        text.contains("offline"),
        "the software-key limit is stated:\n{text}"
    );
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["UserState"]["NgcSet"], true);
    assert_eq!(status["SsoState"]["PrtPresent"], false);
    assert_eq!(
        status["DeviceState"]["DeviceKeyAlgorithm"], "RSA-2048",
        "a new join makes an RSA device key, whose proofs the service checks cheaply"
    );
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_ok();
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["SsoState"]["PrtPresent"], true);
    let events = world
        .device("pc", &["events", "--json"], "")
        .assert_ok()
        .json();
    let registered = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == 300)
        .expect("event 300");
    let data = registered["data"].to_string();
    assert!(data.contains("pat@example.com"), "{data}");
    assert!(
        data.contains(status["UserState"]["NgcKeyId"].as_str().unwrap()),
        "{data}"
    );
}
