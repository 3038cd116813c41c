//! What the device CLI checks before it asks for secrets, and what it says, over the real
//! binaries (on a pseudo-terminal where the prompts are the point): an untrusted or
//! unreachable server asks for no password; the PIN rules come before the PIN prompt; a
//! PIN that breaks them is asked for again and the password is kept; a sign-in without a
//! key or in lockout asks for no PIN; every operation lands in the event log; `status`
//! fits 80 columns and prints thumbprints as the service does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_e2e::{snapshot, Service, Totp, World};

const PASSWORD: &str = "pa55word-for-tests";
const PIN: &str = "246810";

fn join_args<'a>(url: &'a str, upn: &'a str, ca: &'a str, otp: &'a str) -> Vec<&'a str> {
    vec![
        "join", "--server", url, "--user", upn, "--ca", ca, "--otp", otp,
    ]
}

/// Joins `device` for `upn` (password on standard input, with MFA).
fn joined(world: &World, svc: &Service, device: &str, upn: &str) -> Totp {
    let totp = world.add_user(upn, PASSWORD);
    let ca = world.ca_file().display().to_string();
    let otp = totp.fresh();
    let mut args = join_args(&svc.url, upn, &ca, &otp);
    args.push("--password-stdin");
    world
        .device(device, &args, &format!("{PASSWORD}\n"))
        .assert_ok();
    totp
}

fn no_library_internals(text: &str) {
    for internal in ["reqwest", "hyper", "rustls", "kind:", "Error {", "source:"] {
        assert!(!text.contains(internal), "{internal:?} in:\n{text}");
    }
}

#[test]
fn an_untrusted_server_is_not_trusted_and_no_password_is_asked() {
    let world = World::new();
    let svc = world.start_service();
    let other = World::new();
    let _other_svc = other.start_service();
    let totp = world.add_user("lee@example.com", PASSWORD);
    let foreign = other.ca_file().display().to_string();
    let otp = totp.fresh();
    let talk = world.device_on_terminal(
        "pc",
        &join_args(&svc.url, "lee@example.com", &foreign, &otp),
        &[("Password: ", PASSWORD)],
    );
    assert_eq!(talk.code, 1, "{}", talk.transcript);
    assert_eq!(talk.answered, 0, "no password asked:\n{}", talk.transcript);
    assert!(!talk.transcript.contains("Password"), "{}", talk.transcript);
    let origin = svc.url.clone();
    assert!(
        talk.transcript.contains(&format!(
            "error: LK-AGENT-039: the server at {origin} is not trusted: its certificate is \
             not signed by the tenant CA this device trusts"
        )),
        "{}",
        talk.transcript
    );
    assert!(talk.transcript.contains("hint: check the --server URL"));
    no_library_internals(&talk.transcript);
    assert!(snapshot(&world.device_dir("pc")).is_empty());

    // A certificate that does not name the host asked for: not trusted either.
    let wide = World::new();
    let wide_svc = Service::start_on(&wide.data_dir(), "0.0.0.0:0");
    let port = wide_svc.url.rsplit(':').next().unwrap().to_owned();
    let by_other_name = format!("https://127.0.0.2:{port}");
    let ca = wide.ca_file().display().to_string();
    let out = wide.device(
        "pc",
        &join_args(&by_other_name, "x@example.com", &ca, "000000"),
        "",
    );
    out.assert_error("LK-AGENT-039");
    assert!(
        out.stderr.contains(&format!(
            "LK-AGENT-039: the server at {by_other_name} is not trusted: its certificate does \
             not name 127.0.0.2"
        )),
        "{}",
        out.stderr
    );
    no_library_internals(&out.stderr);
}

#[test]
fn a_wrong_fingerprint_is_not_trusted_before_any_password() {
    let world = World::new();
    let svc = world.start_service();
    let wrong = "00:".repeat(31) + "00";
    let talk = world.device_on_terminal(
        "pc",
        &[
            "join",
            "--server",
            &svc.url,
            "--user",
            "kim@example.com",
            "--ca-fingerprint",
            &wrong,
        ],
        &[("Password: ", PASSWORD)],
    );
    assert_eq!((talk.code, talk.answered), (1, 0), "{}", talk.transcript);
    assert!(
        talk.transcript.contains(&format!(
            "LK-AGENT-008: the server at {} is not trusted: its CA has fingerprint",
            svc.url
        )),
        "{}",
        talk.transcript
    );
}

#[test]
fn an_unreachable_server_says_connection_refused_and_asks_nothing() {
    let world = World::new();
    let svc = world.start_service();
    let ca = world.ca_file().display().to_string();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("https://127.0.0.1:{dead_port}");
    let talk = world.device_on_terminal(
        "pc",
        &join_args(&dead, "a@example.com", &ca, "000000"),
        &[("Password: ", PASSWORD)],
    );
    assert_eq!((talk.code, talk.answered), (1, 0), "{}", talk.transcript);
    assert!(
        talk.transcript.contains(&format!(
            "error: LK-AGENT-005: cannot reach {dead}: connection refused\n"
        )),
        "{}",
        talk.transcript
    );
    no_library_internals(&talk.transcript);
    let unknown = world.device(
        "pc",
        &join_args("https://no-such-host.invalid", "a@example.com", &ca, "0"),
        "",
    );
    assert!(
        unknown.stderr.contains(
            "LK-AGENT-005: cannot reach https://no-such-host.invalid: the host name \
             no-such-host.invalid is not known (DNS lookup failed)"
        ),
        "{}",
        unknown.stderr
    );
    no_library_internals(&unknown.stderr);

    // Joined, then the service goes away: `hello setup` says so before the password.
    joined(&world, &svc, "pc", "ann@example.com");
    let url = svc.url.clone();
    drop(svc);
    let talk = world.device_on_terminal("pc", &["hello", "setup"], &[("Password: ", PASSWORD)]);
    assert_eq!((talk.code, talk.answered), (1, 0), "{}", talk.transcript);
    assert!(
        talk.transcript.contains(&format!(
            "LK-AGENT-005: cannot reach {url}: connection refused"
        )),
        "{}",
        talk.transcript
    );
}

#[test]
fn a_pin_that_breaks_the_rules_is_asked_again_and_the_password_is_kept() {
    let world = World::new();
    let svc = world.start_service();
    joined(&world, &svc, "pc", "bea@example.com");
    let talk = world.device_on_terminal(
        "pc",
        &["hello", "setup"],
        &[
            ("Password: ", PASSWORD),
            ("New PIN: ", "12"),
            ("Confirm PIN: ", "12"),
            ("New PIN: ", PIN),
            ("Confirm PIN: ", PIN),
        ],
    );
    let t = &talk.transcript;
    assert_eq!((talk.code, talk.answered), (0, 5), "{t}");
    let rules = t.find("PIN rules: ").expect("the rules are shown");
    assert!(rules < t.find("New PIN: ").unwrap(), "rules first:\n{t}");
    assert!(
        t.contains("PIN rules: 4 to 127 characters, digits required"),
        "{t}"
    );
    assert!(t.contains("LK-PIN-003: the PIN "), "{t}");
    assert!(t.contains("Choose another PIN (2 of 3 tries left)."), "{t}");
    assert_eq!(t.matches("Password: ").count(), 1, "asked once:\n{t}");
    assert!(
        t.contains("Windows Hello key registered for bea@example.com."),
        "{t}"
    );
    let signin = world.device("pc", &["signin", "--pin-stdin"], &format!("{PIN}\n"));
    signin.assert_ok();
}

#[test]
fn three_broken_pins_end_the_setup_and_a_broken_pin_on_stdin_sends_nothing() {
    let world = World::new();
    let svc = world.start_service();
    joined(&world, &svc, "pc", "cid@example.com");
    let mut script = vec![("Password: ", PASSWORD)];
    for _ in 0..3 {
        script.push(("New PIN: ", "1"));
        script.push(("Confirm PIN: ", "1"));
    }
    let talk = world.device_on_terminal("pc", &["hello", "setup"], &script);
    assert_eq!((talk.code, talk.answered), (1, 7), "{}", talk.transcript);
    assert!(
        talk.transcript.contains("error: LK-PIN-003"),
        "{}",
        talk.transcript
    );

    let out = world.device(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\n1\n"),
    );
    out.assert_error("LK-PIN-003");
    assert!(
        out.stderr
            .contains("hint: nothing was sent to the service and nothing was changed"),
        "{}",
        out.stderr
    );
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(0), "{keys}");
}

#[test]
fn a_sign_in_without_a_key_or_in_lockout_asks_for_no_pin() {
    let world = World::new();
    let svc = world.start_service();
    joined(&world, &svc, "pc", "dan@example.com");
    let talk = world.device_on_terminal("pc", &["signin"], &[("PIN: ", PIN)]);
    assert_eq!((talk.code, talk.answered), (1, 0), "{}", talk.transcript);
    assert!(!talk.transcript.contains("PIN:"), "{}", talk.transcript);
    assert!(
        talk.transcript.contains(
            "error: LK-AGENT-009: dan@example.com has no Windows Hello key on this device; \
             run `latchkey hello setup`"
        ),
        "{}",
        talk.transcript
    );
    world
        .device(
            "pc",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{PASSWORD}\n{PIN}\n"),
        )
        .assert_ok();
    for _ in 0..5 {
        world
            .device("pc", &["signin", "--pin-stdin"], "999999\n")
            .assert_error("LK-PIN-001");
    }
    let talk = world.device_on_terminal("pc", &["signin"], &[("PIN: ", PIN)]);
    assert_eq!((talk.code, talk.answered), (1, 0), "{}", talk.transcript);
    assert!(
        talk.transcript
            .contains("error: LK-PIN-002: too many incorrect PINs; try again in"),
        "{}",
        talk.transcript
    );
}

fn event_ids(world: &World) -> Vec<u64> {
    world
        .device("pc", &["events", "--json"], "")
        .assert_ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn every_operation_is_in_the_event_log_and_status_fits_80_columns() {
    let world = World::new();
    let svc = world.start_service();
    joined(&world, &svc, "pc", "eve@example.com");
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
    world
        .device("pc", &["signin", "--pin-stdin"], "999999\n")
        .assert_error("LK-PIN-001");
    world
        .device(
            "pc",
            &["pin", "change", "--pin-stdin"],
            &format!("{PIN}\n135790\n"),
        )
        .assert_ok();
    world
        .admin(
            &["resource", "add", "api://payroll", "--name", "Payroll"],
            "",
        )
        .assert_ok();
    world
        .device("pc", &["token", "--audience", "api://payroll"], "")
        .assert_ok();
    world.device("pc", &["policy", "sync"], "").assert_ok();
    let ids = event_ids(&world);
    // In order: join (and the policy received with it), the prerequisite check, the key,
    // the sign-in (and its policy refresh), the wrong PIN, the PIN change, the token, the
    // sync.
    assert_eq!(
        ids,
        [200, 340, 358, 370, 300, 340, 310, 311, 330, 320, 340],
        "join, its policy, the prerequisites, the key provider, the key, the sign-in's \
         policy and the sign-in, the wrong PIN, the PIN change, the token, the sync"
    );
    let text = world
        .device("pc", &["events"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(
        text.contains("  310  Information  Signed in with Windows Hello"),
        "{text}"
    );
    assert!(
        text.contains("  311  Warning      Sign-in failed: the PIN is incorrect"),
        "{text}"
    );
    assert!(
        !text.contains(PIN) && !text.contains("135790"),
        "no PIN in the log"
    );

    // Status: every line fits 80 columns; the new fields are there.
    let status = world
        .device("pc", &["status"], "")
        .assert_ok()
        .stdout
        .clone();
    for line in status.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line:?}",
            line.chars().count()
        );
    }
    let sections: Vec<usize> = [
        "| Device State",
        "| Device Details",
        "| Tenant Details",
        "| User State",
        "| SSO State",
        "| Ngc Prerequisite Check",
    ]
    .iter()
    .map(|s| {
        status
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing:\n{status}"))
    })
    .collect();
    assert!(
        sections.windows(2).all(|w| w[0] < w[1]),
        "dsregcmd's order:\n{status}"
    );
    for line in [
        "TpmProtected : NO",
        "DeviceAuthStatus : SUCCESS (",
        "PinLockout : NOT LOCKED (0 of 5 incorrect PINs)",
        "DeviceCertificateValidity : ",
    ] {
        assert!(status.contains(line), "{line} missing:\n{status}");
    }
    let json = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    let devices = world
        .admin(&["device", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(
        json["DeviceState"]["DeviceCertificateSha256"], devices[0]["cert_thumbprint"],
        "the device certificate's fingerprint as the service prints it"
    );
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(json["UserState"]["NgcKeyId"], keys[0]["key_id"]);
    // The SHA-256 fingerprint wraps after a colon, both halves under its column.
    let fp = json["DeviceState"]["DeviceCertificateSha256"]
        .as_str()
        .unwrap();
    let (first, second) = fp.split_at(48);
    assert!(
        status.contains(&format!(
            "DeviceCertificateSha256 : {first}\n{:30}{second}\n",
            ""
        )),
        "{status}"
    );

    // An administrator disables the device: the next token says so, and so does status.
    let id = json["DeviceState"]["DeviceId"].as_str().unwrap().to_owned();
    world
        .admin(&["device", "disable", &id, "--yes"], "")
        .assert_ok();
    world
        .device("pc", &["token", "--audience", "api://payroll"], "")
        .assert_error("LK-DEV-002");
    assert_eq!(*event_ids(&world).last().unwrap(), 321);
    let status = world
        .device("pc", &["status"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(
        status.contains("DeviceAuthStatus : FAILED. Device is disabled or deleted (LK-DEV-002,"),
        "{status}"
    );

    // Leaving removes the state but keeps the log, which records it.
    world.device("pc", &["leave", "--force"], "").assert_ok();
    assert_eq!(*event_ids(&world).last().unwrap(), 202);
    let left = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(left["DeviceState"]["Joined"], false);
}
