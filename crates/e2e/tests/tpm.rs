//! Hello keys in a TPM, end to end with the real binaries and a real swtpm: the tenant
//! trusts the swtpm's manufacturer CA, the device joins with `--key-provider tpm`, sets up
//! Hello and signs in; the token, verified through the JWKS by PyJWT, says `hwk`; the
//! administrator's key list says `tpm`; `status` says `TpmProtected : YES`; the state
//! directory copied next to another TPM does not sign in.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latchkey_e2e::{json_field, status_field, verify_with_pyjwt, World};
use latchkey_tpm::swtpm::SwTpm;
use latchkey_tpm::DaParameters;

const PIN: &str = "482916";
// The measurement answers prompts from a JSON map: keep these free of quotes.
const PASSWORD: &str = "correct horse battery";

/// Small dictionary-attack numbers, set before anything else (a fresh swtpm would lock
/// out after 3 failures for 1000 s).
const DA: DaParameters = DaParameters {
    max_tries: 5,
    recovery_time: 1000,
    lockout_recovery: 1000,
};

/// Copies a state directory as a person with a backup would: modes kept.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::metadata(from).unwrap().permissions()).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn tpm_join_setup_signin_token_say_hwk_and_the_state_is_useless_elsewhere() {
    let world = World::new();
    let tpm_dir = tempfile::tempdir().unwrap();
    let tpm = SwTpm::start_with_da(tpm_dir.path(), DA).unwrap();
    let tcti = tpm.tcti().unwrap().as_str().to_owned();
    let svc = world.start_service();

    // The swtpm's local CA plays the TPM manufacturer.
    world
        .admin(
            &[
                "tpm-roots",
                "add",
                &tpm.manufacturer_root().display().to_string(),
            ],
            "",
        )
        .assert_ok();
    world
        .admin(
            &[
                "tpm-roots",
                "add",
                "--intermediate",
                &tpm.manufacturer_intermediate().display().to_string(),
            ],
            "",
        )
        .assert_ok();

    let ada = world.add_user("ada@example.com", PASSWORD);
    let tpm_args = ["--tpm", tcti.as_str(), "--key-provider", "tpm"];
    let with_tpm = |args: &[&str]| -> Vec<String> {
        tpm_args
            .iter()
            .chain(args.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>, stdin: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        world.device("laptop", &args, stdin)
    };
    let ca = world.ca_file().display().to_string();
    let otp = ada.fresh();
    run(
        with_tpm(&[
            "join",
            "--server",
            &svc.url,
            "--user",
            "ada@example.com",
            "--ca",
            &ca,
            "--join-type",
            "cloud",
            "--password-stdin",
            "--otp",
            &otp,
        ]),
        &format!("{PASSWORD}\n"),
    )
    .assert_ok();
    run(
        with_tpm(&["hello", "setup", "--password-stdin", "--pin-stdin"]),
        &format!("{PASSWORD}\n{PIN}\n"),
    )
    .assert_ok();

    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    let text = keys.to_string();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{text}");
    assert!(text.contains("\"tpm\""), "the key is TPM-attested: {text}");

    let protected = {
        let args: Vec<&str> = tpm_args
            .iter()
            .copied()
            .chain(["status", "--json"])
            .collect();
        let out = world.device("laptop", &args, "");
        out.assert_ok();
        out.json()
    };
    let text = protected.to_string();
    assert!(
        text.contains("\"TpmProtected\":true"),
        "status shows TpmProtected YES: {text}"
    );

    // The device key lives in the TPM too, and the device's AIK was activated at join.
    for (field, starts) in [
        ("DeviceKeyProtection", "TPM"),
        ("DeviceTpmAttestation", "ATTESTED"),
    ] {
        let shown = protected.to_string();
        let value = json_field(&protected, field).unwrap_or_else(|| panic!("{field}: {shown}"));
        assert!(value.starts_with(starts), "{field} = {value}");
    }

    run(with_tpm(&["signin", "--pin-stdin"]), &format!("{PIN}\n")).assert_ok();
    world
        .admin(
            &["resource", "add", "api://payroll", "--name", "Payroll"],
            "",
        )
        .assert_ok();
    let token = run(with_tpm(&["token", "--audience", "api://payroll"]), "")
        .assert_ok()
        .stdout
        .trim()
        .to_string();
    let claims =
        verify_with_pyjwt(&world, &svc, "api://payroll", &token).expect("PyJWT accepts the token");
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"hwk"), "amr {amr:?} says hwk");
    assert!(!amr.contains(&"swk"), "amr {amr:?} does not say swk");
    assert_eq!(
        claims["deviceid"].as_str().unwrap(),
        status_field(&world, "laptop", "DeviceId")
    );

    // The whole state directory next to another TPM: nothing signs.
    let other_dir = tempfile::tempdir().unwrap();
    let other = SwTpm::start_with_da(other_dir.path(), DA).unwrap();
    let other_tcti = other.tcti().unwrap().as_str().to_owned();
    copy_dir(&world.device_dir("laptop"), &world.device_dir("copy"));
    let args = [
        "--tpm",
        other_tcti.as_str(),
        "--key-provider",
        "tpm",
        "signin",
        "--pin-stdin",
    ];
    let out = world.device("copy", &args, &format!("{PIN}\n"));
    assert_ne!(out.code, 0, "the copy must not sign in: {}", out.stdout);
    assert!(
        out.stderr.contains("LK-AGENT-018"),
        "a clear code: {}",
        out.stderr
    );
}

/// Runs `latchkey` on a pseudo-terminal through `scripts/bench/pty_timing.py`.
/// `mark`: a text of the output whose first appearance is timed too.
fn pty_run(
    world: &World,
    device: &str,
    args: &[&str],
    answers: &str,
    mark: &str,
) -> serde_json::Value {
    let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = format!(
        "{}/../../scripts/bench/pty_timing.py",
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(answers)
        .arg(mark)
        .arg("--")
        .arg(latchkey_e2e::bin("latchkey"))
        .arg("--state-dir")
        .arg(world.device_dir(device))
        .args(args)
        .env("TSS2_LOG", "all+none")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], 0, "{v}");
    v
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The device-side timings of docs/PERFORMANCE.md: `hello setup` before and after the PIN
/// prompt, and `signin` after the PIN, with the TPM provider and with software keys.
/// `cargo test -p latchkey-e2e --release --test tpm -- --ignored --nocapture` (after
/// `cargo build --release --bins` and with `LATCHKEY_BIN_DIR` at the release binaries).
#[test]
#[ignore = "a measurement, not a test"]
fn measure_hello_setup_and_signin_on_swtpm() {
    const ROUNDS: usize = 5;
    let world = World::new();
    let tpm_dir = tempfile::tempdir().unwrap();
    let tpm = SwTpm::start_with_da(tpm_dir.path(), DA).unwrap();
    let tcti = tpm.tcti().unwrap().as_str().to_owned();
    let svc = world.start_service();
    for (flag, file) in [
        (None, tpm.manufacturer_root()),
        (Some("--intermediate"), tpm.manufacturer_intermediate()),
    ] {
        let file = file.display().to_string();
        let mut args = vec!["tpm-roots", "add"];
        args.extend(flag);
        args.push(&file);
        world.admin(&args, "").assert_ok();
    }
    let ca = world.ca_file().display().to_string();
    let answers = format!(r#"{{"password": "{PASSWORD}", "pin": "{PIN}"}}"#);
    for provider in ["tpm", "software"] {
        let (mut before, mut after, mut refill, mut signin) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let device = format!("{provider}-{round}");
            // A user per device: a one-time code is good once.
            let upn = format!("{device}@example.com");
            let otp = world.add_user(&upn, PASSWORD).fresh();
            let common = ["--tpm", tcti.as_str(), "--key-provider", provider];
            let mut join: Vec<&str> = common.to_vec();
            join.extend([
                "join",
                "--server",
                &svc.url,
                "--user",
                &upn,
                "--ca",
                &ca,
                "--password-stdin",
                "--otp",
                &otp,
            ]);
            world
                .device(&device, &join, &format!("{PASSWORD}\n"))
                .assert_ok();
            let mut setup: Vec<&str> = common.to_vec();
            setup.extend(["hello", "setup"]);
            let t = pty_run(&world, &device, &setup, &answers, "Key id:");
            let pin_prompt = t["prompts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p[0].as_str().unwrap().to_lowercase().contains("new pin"))
                .unwrap()[1]
                .as_f64()
                .unwrap();
            before.push(pin_prompt);
            // Up to the result line: the pool refill after it waits for nobody.
            after.push(t["mark"].as_f64().unwrap() - t["answered_last"].as_f64().unwrap());
            refill.push(t["exit"].as_f64().unwrap() - t["mark"].as_f64().unwrap());
            for _ in 0..3 {
                let mut args: Vec<&str> = common.to_vec();
                args.push("signin");
                let t = pty_run(&world, &device, &args, &answers, "Signed in");
                signin.push(t["exit"].as_f64().unwrap() - t["answered_last"].as_f64().unwrap());
            }
        }
        println!(
            "provider {provider}: hello setup before the PIN prompt {:.0} ms, after it {:.0} ms \
             (then {:.0} ms to exit: the pool refill); signin after the PIN {:.0} ms \
             (medians of {ROUNDS}, {ROUNDS}, {ROUNDS}, {} runs)",
            median(before) * 1e3,
            median(after) * 1e3,
            median(refill) * 1e3,
            median(signin.clone()) * 1e3,
            signin.len()
        );
    }
}
