//! PIN reset end to end with the real binaries (docs/pin-reset.md): under EnablePinRecovery
//! `latchkey pin reset` keeps the key and the new PIN signs in at once while the old one is
//! refused; the PINs appear in neither the service's database nor its log; without the
//! policy, and with `--destructive`, a new key replaces the old one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latchkey_e2e::{snapshot, status_field, Service, World};

const PASSWORD: &str = "pa55word-for-tests";
const PIN_A: &str = "73915286";
const PIN_B: &str = "46082719";
const PIN_C: &str = "58203147";
const PIN_D: &str = "61724039";
const UPN: &str = "kim@example.com";

fn setup(world: &World, pin: &str) {
    world
        .device(
            "pc",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{PASSWORD}\n{pin}\n"),
        )
        .assert_ok();
}

fn reset(world: &World, otp: &str, pin: &str, extra: &[&str]) -> latchkey_e2e::Output {
    let mut args = vec![
        "pin",
        "reset",
        "--password-stdin",
        "--pin-stdin",
        "--otp",
        otp,
    ];
    args.extend_from_slice(extra);
    world.device("pc", &args, &format!("{PASSWORD}\n{pin}\n"))
}

fn signin(world: &World, pin: &str) -> latchkey_e2e::Output {
    world.device("pc", &["signin", "--pin-stdin"], &format!("{pin}\n"))
}

fn key_ids(world: &World) -> Vec<String> {
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    keys.as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap().to_owned())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_non_destructive_reset_keeps_the_key_and_no_pin_reaches_the_service() {
    let world = World::new();
    let log = world.root.path().join("latchkeyd.log");
    let svc = Service::start_logged(&world.data_dir(), &log);
    let totp = world.add_user(UPN, PASSWORD);
    world.join(&svc, "pc", UPN, PASSWORD, &totp);
    world.apply_csp(&[
        ("{t}/Policies/EnablePinRecovery", "bool", "true"),
        ("{t}/Policies/PINComplexity/History", "int", "3"),
    ]);
    world.device("pc", &["policy", "sync"], "").assert_ok();
    setup(&world, PIN_A);
    // A PIN change leaves a PIN history; the reset clears it.
    world
        .device(
            "pc",
            &["hello", "pin", "change", "--pin-stdin"],
            &format!("{PIN_A}\n{PIN_C}\n"),
        )
        .assert_ok();
    let history = world.device_dir("pc").join("pinhistory");
    assert!(std::fs::read_dir(&history).unwrap().next().is_some());
    let key_id = status_field(&world, "pc", "NgcKeyId");
    assert_eq!(
        status_field(&world, "pc", "CanReset"),
        "DestructiveAndNonDestructive"
    );

    let out = reset(&world, &totp.fresh(), PIN_B, &[]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains(&format!("The key is unchanged: {key_id}")),
        "{}",
        out.stdout
    );
    assert_eq!(status_field(&world, "pc", "NgcKeyId"), key_id);
    signin(&world, PIN_A).assert_error("LK-PIN-001");
    signin(&world, PIN_C).assert_error("LK-PIN-001");
    signin(&world, PIN_B).assert_ok();
    assert!(
        std::fs::read_dir(&history).map_or(true, |mut d| d.next().is_none()),
        "the PIN history is empty after the reset"
    );
    // The token still carries the MFA claim.
    world
        .admin(
            &["resource", "add", "api://payroll", "--name", "Payroll"],
            "",
        )
        .assert_ok();
    let token = world
        .device("pc", &["token", "--audience", "api://payroll"], "")
        .assert_ok()
        .stdout
        .trim()
        .to_owned();
    let claims = latchkey_e2e::verify_with_pyjwt(&world, &svc, "api://payroll", &token)
        .expect("PyJWT accepts the token");
    let amr = claims["amr"].as_array().unwrap();
    assert!(amr.iter().any(|v| v == "mfa"), "{amr:?}");
    assert_eq!(key_ids(&world), std::slice::from_ref(&key_id));

    // The PINs never reach the service: not in its database files, not in its log.
    for (name, bytes) in snapshot(&world.data_dir())
        .into_iter()
        .chain([("latchkeyd.log".to_owned(), std::fs::read(&log).unwrap())])
    {
        for pin in [PIN_A, PIN_B, PIN_C] {
            assert!(!contains(&bytes, pin.as_bytes()), "a PIN is in {name}");
        }
    }

    // --destructive makes a new key even with recovery on.
    let out = reset(&world, &totp.fresh(), PIN_D, &["--destructive"]);
    out.assert_ok();
    let new_id = status_field(&world, "pc", "NgcKeyId");
    assert_ne!(new_id, key_id);
    assert!(
        out.stdout.contains("A new Hello key was made"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&key_id),
        "names the deleted key: {}",
        out.stdout
    );
    assert_eq!(key_ids(&world), [new_id]);
    signin(&world, PIN_D).assert_ok();
}

#[test]
fn without_pin_recovery_the_reset_says_so_and_makes_a_new_key() {
    let world = World::new();
    let svc = world.start_service();
    let totp = world.add_user(UPN, PASSWORD);
    world.join(&svc, "pc", UPN, PASSWORD, &totp);
    setup(&world, PIN_A);
    assert_eq!(status_field(&world, "pc", "CanReset"), "DestructiveOnly");
    let old_id = status_field(&world, "pc", "NgcKeyId");

    // A wrong one-time code: refused, nothing changed on the device or the service.
    let device_before = snapshot(&world.device_dir("pc"));
    let out = reset(&world, &totp.wrong(), PIN_B, &[]);
    out.assert_error("LK-AUTH-002");
    assert_eq!(key_ids(&world), std::slice::from_ref(&old_id));
    let device_after = snapshot(&world.device_dir("pc"));
    let changed: Vec<_> = device_after
        .iter()
        .filter(|f| !device_before.contains(f))
        .map(|(n, _)| n.as_str())
        .filter(|n| !n.starts_with("events"))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");

    let out = reset(&world, &totp.fresh(), PIN_B, &[]);
    out.assert_ok();
    assert!(
        out.stderr.contains("EnablePinRecovery is off"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("A new Hello key was made"),
        "{}",
        out.stdout
    );
    let new_id = status_field(&world, "pc", "NgcKeyId");
    assert_ne!(new_id, old_id);
    assert_eq!(key_ids(&world), [new_id]);
    signin(&world, PIN_B).assert_ok();
    // The service's audit names the destructive reset; the client's log records its kind.
    let audit = world
        .admin(&["audit", "--json"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(audit.contains("pin_reset=destructive"), "{audit}");
    let events = world
        .device("pc", &["events", "--json"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(events.contains("destructive"), "{events}");
}
