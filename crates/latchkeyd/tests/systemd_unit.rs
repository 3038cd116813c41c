//! The systemd unit in `packaging/systemd/latchkeyd.service`: `systemd-analyze verify`
//! accepts it (with ExecStart pointed at the binary under test, since it names the packaged
//! path), and `systemd-analyze security --offline` rates its exposure low.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd");
const UNIT: &str = include_str!("../../../packaging/systemd/latchkeyd.service");

fn unit_file(dir: &std::path::Path) -> std::path::PathBuf {
    assert!(UNIT.contains("ExecStart=/usr/bin/latchkeyd serve"));
    let path = dir.join("latchkeyd.service");
    std::fs::write(&path, UNIT.replace("/usr/bin/latchkeyd", BIN)).unwrap();
    path
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit_file(dir.path()))
        .output()
        .expect("systemd-analyze (Debian package systemd) runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.trim().is_empty(), "no warnings: {said}");
}

#[test]
fn the_unit_is_hardened() {
    for directive in [
        "DynamicUser=yes",
        "StateDirectory=latchkey",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(UNIT.contains(directive), "missing {directive:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(unit_file(dir.path()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let level: f64 = text
        .split("Overall exposure level for latchkeyd.service: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {text}"));
    assert!(level < 2.0, "exposure {level}: {text}");
}
