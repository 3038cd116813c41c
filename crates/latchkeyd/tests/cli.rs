//! The real `latchkeyd` binary: serve's banner, admin commands while it runs, output
//! formats and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::BIN;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(data: &Path, args: &[&str], stdin: &str) -> Run {
    let (code, stdout, stderr) = common::run_with_input(data, args, stdin);
    Run {
        code,
        stdout,
        stderr,
    }
}

/// Starts `serve`; returns the child and the lines up to the listening line.
fn serve(data: &Path, extra: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited: {lines:?}"
        );
        let done = line.starts_with("listening on ");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    (child, lines)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn serve_and_administer_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, banner) = serve(&data, &["--tenant-name", "Contoso"]);
    let text = banner.join("\n");
    assert!(
        banner
            .last()
            .unwrap()
            .starts_with("listening on https://localhost:"),
        "{text}"
    );
    assert!(text.contains("created tenant Contoso"), "{text}");
    assert!(data.join("ca.pem").is_file());

    let show = run(&data, &["tenant", "show", "--json"], "");
    assert_eq!(show.code, 0, "{}", show.stderr);
    let tenant: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(tenant["name"], "Contoso");
    let fingerprint = tenant["ca_fingerprint_sha256"].as_str().unwrap();
    assert!(text.contains(fingerprint) && text.contains(tenant["tenant_id"].as_str().unwrap()));

    let add = run(
        &data,
        &["user", "add", "alice@example.com", "--password-stdin"],
        "pa55word-for-tests\n",
    );
    assert_eq!(add.code, 0, "{}", add.stderr);
    let uri = add
        .stdout
        .lines()
        .find(|l| l.starts_with("otpauth://"))
        .unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Contoso:alice@example.com?secret="),
        "{uri}"
    );
    assert!(
        uri.ends_with("&issuer=Contoso&algorithm=SHA1&digits=6&period=30"),
        "{uri}"
    );

    let again = run(
        &data,
        &["user", "add", "alice@example.com", "--password-stdin"],
        "pa55word-for-tests\n",
    );
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.starts_with("error: LK-REQ-003: "),
        "{}",
        again.stderr
    );

    let list = run(&data, &["user", "list", "--json"], "");
    let users: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(users[0]["upn"], "alice@example.com");
    let table = run(&data, &["user", "list"], "");
    assert!(table.stdout.starts_with("UPN"), "{}", table.stdout);

    for (args, code) in [
        (vec!["key", "delete", "abcd", "--yes"], "LK-KEY-001"),
        (vec!["device", "disable", "nope", "--yes"], "LK-DEV-001"),
        (vec!["audit", "--since", "someday"], "LK-REQ-003"),
    ] {
        let out = run(&data, &args, "");
        assert_eq!(out.code, 1, "{args:?}");
        assert!(
            out.stderr.starts_with(&format!("error: {code}: ")),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        run(&data, &["device", "list", "--json"], "").stdout.trim(),
        "[]"
    );
    assert_eq!(
        run(&data, &["key", "list", "--json"], "").stdout.trim(),
        "[]"
    );
    let audit = run(&data, &["audit", "--since", "1h", "--json"], "");
    assert!(audit.stdout.contains("user_create"), "{}", audit.stdout);
    assert_eq!(
        run(&data, &["user", "disable", "alice@example.com"], "").code,
        0
    );

    // Restart: the same tenant, nothing created.
    stop(child);
    let (child, banner) = serve(&data, &[]);
    let text = banner.join("\n");
    assert!(!text.contains("created tenant"), "{text}");
    assert!(text.contains(fingerprint), "{text}");
    stop(child);
}

#[test]
fn usage_errors_and_insecure_http_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["frobnicate"], "").code, 2);
    assert_eq!(run(dir.path(), &["user", "add"], "").code, 2);
    let out = run(
        dir.path(),
        &["serve", "--insecure-http", "--listen", "0.0.0.0:0"],
        "",
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);
}

#[test]
fn a_serve_that_fails_to_start_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    // The listen address is taken: refused before the data directory is touched.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("fresh");
    let out = run(&data, &["serve", "--listen", &addr], "");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("cannot listen on"), "{}", out.stderr);
    assert!(!data.exists(), "a failed start created {}", data.display());

    // A step after the data directory is made fails (a key file that cannot be written):
    // the directory it made is removed again, and an empty one it found is left empty.
    let key = dir.path().join("no-such-dir").join("kek");
    let key = key.to_str().unwrap();
    let out = run(
        &data,
        &["serve", "--listen", "127.0.0.1:0", "--key-file", key],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!data.exists(), "a failed start left {}", data.display());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = run(
        &empty,
        &["serve", "--listen", "127.0.0.1:0", "--key-file", key],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(empty.is_dir());
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "a failed start left files"
    );

    // A directory that already holds a tenant keeps it whatever happens.
    let (child, _) = serve(&data, &[]);
    stop(child);
    let out = run(&data, &["serve", "--listen", &addr], "");
    assert_eq!(out.code, 1);
    assert!(data.join("ca.pem").is_file() && data.join("latchkey.db").is_file());
}
