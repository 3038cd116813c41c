//! What the `latchkeyd` CLI tests share: running the real binary on a data directory.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd");

/// Runs `latchkeyd ARGS --data-dir DATA`: exit status, stdout, stderr.
pub fn run(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `latchkeyd init --data-dir DATA`: creates the data directory and the tenant (admin
/// commands need an existing one).
pub fn init(data: &Path) {
    let (code, _, err) = run(data, &["init"]);
    assert_eq!(code, 0, "{err}");
}

/// Runs `latchkeyd ARGS --data-dir DATA`, asserts that it succeeded and returns stdout.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(data, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// Runs `latchkeyd ARGS --data-dir DATA` with `input` on standard input.
pub fn run_with_input(data: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
