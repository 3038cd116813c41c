//! The spine end to end: user add, join, hello setup, sign-in and token with the real
//! binaries over HTTPS on loopback, the token accepted by an independent JWT library, and a
//! service restart in the middle that loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_e2e::{snapshot, status_field, verify_with_pyjwt, Service, World};

const PIN: &str = "482916";

fn join(
    world: &World,
    svc: &Service,
    device: &str,
    upn: &str,
    password: &str,
    otp: &str,
    join_type: &str,
) {
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
                &world.ca_file().display().to_string(),
                "--join-type",
                join_type,
                "--password-stdin",
                "--otp",
                otp,
            ],
            &format!("{password}\n"),
        )
        .assert_ok();
}

#[test]
fn join_setup_signin_token_survive_a_restart() {
    let world = World::new();
    let svc = world.start_service();
    assert!(
        svc.url.starts_with("https://localhost:"),
        "HTTPS by default, named localhost on loopback: {}",
        svc.url
    );
    assert!(
        world.ca_file().is_file(),
        "the first start writes DATA_DIR/ca.pem"
    );

    let alice = world.add_user("alice@example.com", "correct horse battery");
    join(
        &world,
        &svc,
        "laptop",
        "alice@example.com",
        "correct horse battery",
        &alice.fresh(),
        "cloud",
    );

    let status = world
        .device("laptop", &["status", "--json"], "")
        .assert_ok()
        .json();
    let text = status.to_string();
    assert!(
        text.contains("WillProvision"),
        "cloud device owned by alice will provision: {text}"
    );

    // Without the password the owner cannot provision: the device stands in for the second
    // factor only (seed rule), not for the first.
    world
        .device(
            "laptop",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("wrong password\n{PIN}\n"),
        )
        .assert_error("LK-AUTH-001");
    // The registered owner who joined with MFA provisions with the password alone.
    world
        .device(
            "laptop",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("correct horse battery\n{PIN}\n"),
        )
        .assert_ok();

    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(1),
        "one key registered: {keys}"
    );

    let events = world
        .device("laptop", &["events", "--json"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(
        events.contains("358") && events.contains("300"),
        "events 358 and 300 recorded: {events}"
    );

    // Restart the service in the middle: tenant, CA, keys and devices survive.
    let ca_before = std::fs::read(world.ca_file()).unwrap();
    let svc = svc.restart();
    assert_eq!(
        std::fs::read(world.ca_file()).unwrap(),
        ca_before,
        "the CA is reused"
    );

    world
        .device("laptop", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_ok();
    // Tokens only for audiences the tenant knows: refused until the resource is registered.
    world
        .device("laptop", &["token", "--audience", "api://payroll"], "")
        .assert_error("LK-TOKEN-001");
    world
        .admin(
            &["resource", "add", "api://payroll", "--name", "Payroll"],
            "",
        )
        .assert_ok();
    let resources = world.admin(&["resource", "list", "--json"], "").json();
    assert_eq!(resources[0]["uri"], "api://payroll");
    assert_eq!(resources[0]["name"], "Payroll");
    world
        .admin(&["resource", "add", "not a uri"], "")
        .assert_error("LK-REQ-003");
    world
        .admin(&["resource", "remove", "api://nope"], "")
        .assert_error("LK-TOKEN-002");
    let token = world
        .device("laptop", &["token", "--audience", "api://payroll"], "")
        .assert_ok()
        .stdout
        .trim()
        .to_string();

    let claims =
        verify_with_pyjwt(&world, &svc, "api://payroll", &token).expect("PyJWT accepts the token");
    assert_eq!(claims["upn"], "alice@example.com");
    assert_eq!(claims["aud"], "api://payroll");
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for m in ["swk", "pin", "mfa", "ngcmfa"] {
        assert!(amr.contains(&m), "amr {amr:?} lacks {m}");
    }
    let device_id = status_field(&world, "laptop", "DeviceId");
    assert_eq!(claims["deviceid"].as_str().unwrap(), device_id);
    assert!(claims["tid"].as_str().is_some_and(|t| t.len() == 36));

    // The same library refuses a token for another audience and a tampered token.
    assert!(verify_with_pyjwt(&world, &svc, "api://other", &token).is_err());
    // Change the signature's first character: the last one carries only 2 bits of the
    // 64-byte signature, and a lenient base64 decoder may read 'A'..'P' there the same.
    let sig_start = token.rfind('.').unwrap() + 1;
    let first = token[sig_start..].chars().next().unwrap();
    let mut tampered = token.clone();
    tampered.replace_range(
        sig_start..sig_start + 1,
        if first == 'A' { "B" } else { "A" },
    );
    assert!(verify_with_pyjwt(&world, &svc, "api://payroll", &tampered).is_err());
}

#[test]
fn wrong_password_and_otp_are_refused_and_nothing_is_written() {
    let world = World::new();
    let svc = world.start_service();
    let bob = world.add_user("bob@example.com", "hunter2hunter2");
    let args = |otp: &str| {
        vec![
            "join".to_string(),
            "--server".into(),
            svc.url.clone(),
            "--user".into(),
            "bob@example.com".into(),
            "--ca".into(),
            world.ca_file().display().to_string(),
            "--password-stdin".into(),
            "--otp".into(),
            otp.to_string(),
        ]
    };
    let before = world
        .admin(&["device", "list", "--json"], "")
        .assert_ok()
        .json();
    let wrong_otp = bob.wrong();
    let a = args(&wrong_otp);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    world
        .device("d", &a, "hunter2hunter2\n")
        .assert_error("LK-AUTH-002");
    let good = bob.fresh();
    let a = args(&good);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    world
        .device("d", &a, "not-the-password\n")
        .assert_error("LK-AUTH-001");
    assert_eq!(
        world
            .admin(&["device", "list", "--json"], "")
            .assert_ok()
            .json(),
        before,
        "no device recorded"
    );
    let leftovers: Vec<String> = snapshot(&world.device_dir("d"))
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains("device"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no device state after a failed join: {leftovers:?}"
    );
    let audit = world
        .admin(&["audit", "--json"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(
        audit.contains("LK-AUTH-002") && audit.contains("LK-AUTH-001"),
        "failures audited with reasons: {audit}"
    );
}
