//! Revocation, lockout and the provisioning rules, end to end with the real binaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_e2e::{Service, Totp, World};

const PIN: &str = "735194";

fn join(world: &World, svc: &Service, device: &str, upn: &str, totp: &Totp, join_type: &str) {
    let ca = world.ca_file().display().to_string();
    let otp = totp.fresh();
    world
        .device(
            device,
            &[
                "join",
                "--server",
                &svc.url,
                "--user",
                upn,
                "--ca",
                &ca,
                "--join-type",
                join_type,
                "--password-stdin",
                "--otp",
                &otp,
            ],
            "pa55word-for-tests\n",
        )
        .assert_ok();
}

fn enrolled(world: &World, svc: &Service, device: &str, upn: &str) -> Totp {
    let totp = world.add_user(upn, "pa55word-for-tests");
    join(world, svc, device, upn, &totp, "cloud");
    world
        .device(
            device,
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("pa55word-for-tests\n{PIN}\n"),
        )
        .assert_ok();
    world
        .device(device, &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_ok();
    totp
}

fn device_id(world: &World, device: &str) -> String {
    let list = world
        .admin(&["device", "list", "--json"], "")
        .assert_ok()
        .json();
    let _ = device;
    list.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .or_else(|| list.as_array().unwrap().last().unwrap()["device_id"].as_str())
        .unwrap()
        .to_string()
}

#[test]
fn a_deleted_key_stops_signin_and_token_at_once() {
    let world = World::new();
    let svc = world.start_service();
    enrolled(&world, &svc, "pc", "carol@example.com");
    let keys = world
        .admin(
            &["key", "list", "--user", "carol@example.com", "--json"],
            "",
        )
        .assert_ok()
        .json();
    let key = &keys.as_array().unwrap()[0];
    let key_id = key["key_id"]
        .as_str()
        .or_else(|| key["id"].as_str())
        .unwrap()
        .to_string();
    world
        .admin(&["key", "delete", &key_id, "--yes"], "")
        .assert_ok();
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_error("LK-KEY-001")
        .assert_error("hint: the service no longer knows this Hello key")
        .assert_error("run `latchkey hello setup` to make a new one");
    world
        .device("pc", &["token", "--audience", "api://x"], "")
        .assert_error("LK-");
    let audit = world
        .admin(&["audit", "--json"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(
        audit.contains("LK-KEY-001"),
        "failed sign-in audited with its reason"
    );
}

#[test]
fn a_disabled_device_stops_signin_at_once() {
    let world = World::new();
    let svc = world.start_service();
    enrolled(&world, &svc, "pc", "dave@example.com");
    let id = device_id(&world, "pc");
    world
        .admin(&["device", "disable", &id, "--yes"], "")
        .assert_ok();
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_error("LK-DEV-002")
        .assert_error("hint: an administrator disabled this device")
        .assert_error("`latchkey leave --force`");
    world
        .device("pc", &["token", "--audience", "api://x"], "")
        .assert_error("LK-DEV-002");
}

#[test]
fn wrong_pins_lock_the_container_even_for_the_right_pin() {
    let world = World::new();
    let svc = world.start_service();
    enrolled(&world, &svc, "pc", "erin@example.com");
    for _ in 0..5 {
        world
            .device("pc", &["signin", "--pin-stdin"], "000000\n")
            .assert_error("LK-PIN-001");
    }
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_error("LK-PIN-002");
}

#[test]
fn leave_disables_the_device_and_removes_local_state() {
    let world = World::new();
    let svc = world.start_service();
    enrolled(&world, &svc, "pc", "frank@example.com");
    world.device("pc", &["leave"], "").assert_ok();
    let devices = world
        .admin(&["device", "list", "--json"], "")
        .assert_ok()
        .json();
    assert!(
        devices.to_string().contains("true") || devices.to_string().contains("disabled"),
        "device disabled: {devices}"
    );
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json()
        .to_string();
    assert!(
        status.contains("WillNotProvision"),
        "no longer joined: {status}"
    );
}

#[test]
fn hybrid_and_registered_devices_do_not_provision_by_default() {
    let world = World::new();
    let svc = world.start_service();
    let totp = world.add_user("gina@example.com", "pa55word-for-tests");
    join(&world, &svc, "hybrid", "gina@example.com", &totp, "hybrid");
    let out = world.device(
        "hybrid",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("pa55word-for-tests\n{PIN}\n"),
    );
    assert_ne!(
        out.code, 0,
        "hybrid device must not provision without policy"
    );
    let events = world
        .device("hybrid", &["events", "--json"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(events.contains("360"), "event 360 recorded: {events}");
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(0), "nothing registered");
}

#[test]
fn provisioning_is_refused_in_a_remote_session() {
    let world = World::new();
    let svc = world.start_service();
    let totp = world.add_user("hank@example.com", "pa55word-for-tests");
    join(&world, &svc, "pc", "hank@example.com", &totp, "cloud");
    let out = world.device_env(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("pa55word-for-tests\n{PIN}\n"),
        &[("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")],
    );
    assert_ne!(out.code, 0, "refused under SSH");
    let status = world
        .device_env(
            "pc",
            &["status", "--json"],
            "",
            &[("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")],
        )
        .assert_ok()
        .json()
        .to_string();
    assert!(status.contains("WillNotProvision"));
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(0), "nothing registered");
}

#[test]
fn another_user_on_a_cloud_device_needs_a_fresh_mfa() {
    let world = World::new();
    let svc = world.start_service();
    enrolled(&world, &svc, "shared", "ivan@example.com");
    let judy = world.add_user("judy@example.com", "judys-password-123");
    // Without a second factor the service refuses (the device only stands in for its owner).
    let out = world.device(
        "shared",
        &[
            "hello",
            "setup",
            "--user",
            "judy@example.com",
            "--password-stdin",
            "--pin-stdin",
        ],
        &format!("judys-password-123\n{PIN}\n"),
    );
    assert_ne!(out.code, 0, "judy is not the owner: MFA required");
    let otp = judy.fresh();
    world
        .device(
            "shared",
            &[
                "hello",
                "setup",
                "--user",
                "judy@example.com",
                "--password-stdin",
                "--pin-stdin",
                "--otp",
                &otp,
            ],
            &format!("judys-password-123\n{PIN}\n"),
        )
        .assert_ok();
    let keys = world
        .admin(&["key", "list", "--user", "judy@example.com", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
}
