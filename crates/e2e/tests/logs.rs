//! The service's log over a full run with the real binaries, at TRACE: a request line for
//! each request, and no secret anywhere (password, PINs, one-time codes, the TOTP secret,
//! the PRT, the access and ID tokens, the device's and the Hello key's private keys).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use latchkey_e2e::hello_key::{device_key_pkcs8, software_hello_key_pem};
use latchkey_e2e::{Service, World};

const PASSWORD: &str = "Obs-pa55word-never-logged";
const WRONG_PASSWORD: &str = "Obs-wrong-pa55word-never-logged";
const PIN_A: &str = "83920471";
const PIN_B: &str = "59160382";
const UPN: &str = "lee@example.com";
const AUDIENCE: &str = "api://payroll";

/// Where `needle` occurs in `log` as a whole token (not inside a longer run of letters and
/// digits), with the line's leading timestamp ignored: a 6-digit code must not be found in
/// a timestamp's microseconds or inside a hex id.
fn occurs(log: &str, needle: &str) -> Option<String> {
    for line in log.lines() {
        let line = line.split_once(' ').map_or(line, |(_, rest)| rest);
        let mut from = 0;
        while let Some(at) = line[from..].find(needle) {
            let start = from + at;
            let end = start + needle.len();
            let before = line[..start].chars().next_back();
            let after = line[end..].chars().next();
            let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if !alnum(before) && !alnum(after) {
                return Some(line.to_owned());
            }
            from = start + 1;
        }
    }
    None
}

/// The parts of a JWT worth hiding (claims and signature; the header is public).
fn jwt_parts(token: &str) -> Vec<String> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    vec![
        token.trim().to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

/// Forms a private key's DER could take in a log: each PEM body line, and stretches of its
/// standard and URL-safe base64 and of its hex.
fn key_forms(der: &[u8]) -> Vec<String> {
    let std_b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let url_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der);
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    let mut forms: Vec<String> = std_b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .filter(|c| c.len() >= 32)
        .collect();
    // The private scalar sits past the first 40 bytes (after the algorithm identifiers
    // every key of the kind shares).
    for (text, per_byte) in [(&std_b64, 4.0 / 3.0), (&url_b64, 4.0 / 3.0), (&hex, 2.0)] {
        let start = (48.0 * per_byte) as usize;
        let len = (24.0 * per_byte) as usize;
        forms.push(text[start..start + len].to_owned());
    }
    forms
}

fn substring_hits(log: &str, needle: &str) -> bool {
    log.contains(needle)
}

#[test]
fn no_secret_appears_in_a_trace_log_of_a_full_run_and_every_request_has_a_line() {
    let world = World::new();
    let log_path = world.root.path().join("latchkeyd.log");
    let svc = Service::start_logged_with(
        &world.data_dir(),
        &log_path,
        &[],
        &[("RUST_LOG", "trace"), ("LATCHKEY_LOG_FORMAT", "text")],
    );
    let totp = world.add_user(UPN, PASSWORD);
    let ca = world.ca_file().display().to_string();
    let mut codes = Vec::new();

    // A refused join (wrong password), then the join.
    let otp = totp.fresh();
    codes.push(otp.clone());
    let join = |password: &str, otp: &str| {
        world.device(
            "pc",
            &[
                "join",
                "--server",
                &svc.url,
                "--user",
                UPN,
                "--password-stdin",
                "--otp",
                otp,
                "--ca",
                &ca,
                "--join-type",
                "cloud",
            ],
            &format!("{password}\n"),
        )
    };
    let refused = join(WRONG_PASSWORD, &otp);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let otp = totp.fresh();
    codes.push(otp.clone());
    join(PASSWORD, &otp).assert_ok();

    // Hello setup, sign-in, a PIN change, sign-in with the new PIN, a wrong PIN, a token.
    world
        .device(
            "pc",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{PASSWORD}\n{PIN_A}\n"),
        )
        .assert_ok();
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN_A}\n"))
        .assert_ok();
    world
        .device(
            "pc",
            &["hello", "pin", "change", "--pin-stdin"],
            &format!("{PIN_A}\n{PIN_B}\n"),
        )
        .assert_ok();
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN_A}\n"))
        .assert_error("LK-PIN-001");
    world
        .device("pc", &["signin", "--pin-stdin"], &format!("{PIN_B}\n"))
        .assert_ok();
    world
        .admin(&["resource", "add", AUDIENCE, "--name", "Payroll"], "")
        .assert_ok();
    let access = world
        .device("pc", &["token", "--audience", AUDIENCE], "")
        .assert_ok()
        .stdout
        .trim()
        .to_owned();
    world
        .device("pc", &["token", "--audience", "api://nobody"], "")
        .assert_error("LK-TOKEN-001");

    // What the device holds: the PRT and ID token, the Hello key, the device key.
    let state = world.device_dir("pc");
    let sso_dir = state.join(latchkey_agent::SSO_DIR);
    let sso_file = std::fs::read_dir(&sso_dir)
        .unwrap()
        .flatten()
        .next()
        .expect("an SSO record")
        .path();
    let sso: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sso_file).unwrap()).unwrap();
    let prt = sso["prt"].as_str().unwrap().to_owned();
    let id_token = sso["id_token"].as_str().unwrap().to_owned();
    assert!(prt.len() >= 20, "{prt}");
    let hello_pem = software_hello_key_pem(&state, UPN, PIN_B);
    let hello_der = base64::engine::general_purpose::STANDARD
        .decode(
            hello_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let device_der = device_key_pkcs8(&state);
    drop(svc);

    let log = String::from_utf8_lossy(&std::fs::read(&log_path).unwrap()).into_owned();

    // The log is not empty: a line per request, with its route and status.
    let requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("latchkey::request:") && l.contains("request_id="))
        .collect();
    for want in [
        "route=/v1/auth/password status=200",
        "route=/v1/devices/join status=200",
        "route=/v1/keys status=200",
        "route=/v1/signin status=200",
        "route=/v1/token status=200",
    ] {
        assert!(
            requests.iter().any(|l| l.contains(want)),
            "no request line with {want}"
        );
    }
    assert!(
        requests
            .iter()
            .any(|l| l.contains("route=/v1/auth/password") && l.contains("code=LK-AUTH-001")),
        "the refused password has its line with its code"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("route=/v1/token") && l.contains("code=LK-TOKEN-001")),
        "the refused token has its line with its code"
    );
    assert!(log.contains("service started"), "the start-up line");
    assert!(
        log.contains(" TRACE ") && log.contains(" DEBUG "),
        "the log is at TRACE"
    );

    // The searches below find what is there: the tenant id is in every request line, and a
    // status as a whole token.
    let tenant = world.tenant_id();
    assert!(substring_hits(&log, &tenant));
    assert!(occurs(&log, "200").is_some());
    assert!(
        occurs(&log, &tenant[..6]).is_none(),
        "a part of a longer token is not a whole-token occurrence"
    );
    let lines = log.lines().count();
    assert!(
        lines > 200,
        "a TRACE log of a whole run has many lines: {lines}"
    );

    // No secret, in any form.
    let mut secrets: Vec<(String, String)> = vec![
        ("password".into(), PASSWORD.into()),
        ("wrong password".into(), WRONG_PASSWORD.into()),
        ("PIN A".into(), PIN_A.into()),
        ("PIN B".into(), PIN_B.into()),
        ("PRT".into(), prt.clone()),
    ];
    // The PRT's tail alone would still be a leak.
    secrets.push(("PRT tail".into(), prt[prt.len() - 24..].to_owned()));
    for part in jwt_parts(&access) {
        secrets.push(("access token".into(), part));
    }
    for part in jwt_parts(&id_token) {
        secrets.push(("ID token".into(), part));
    }
    for form in key_forms(&hello_der) {
        secrets.push(("Hello private key".into(), form));
    }
    for form in key_forms(&device_der) {
        secrets.push(("device private key".into(), form));
    }
    for (what, secret) in &secrets {
        assert!(
            !substring_hits(&log, secret),
            "the {what} is in the service log"
        );
    }
    for code in &codes {
        if let Some(line) = occurs(&log, code) {
            panic!("a one-time code used is in the service log: {line}");
        }
    }
    assert!(
        !log.contains("BEGIN PRIVATE KEY") && !log.contains("BEGIN EC PRIVATE KEY"),
        "no private key PEM"
    );
}
