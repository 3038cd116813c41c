//! The real `latchkeyd` binary: `policy apply` (one line per command), `policy show`,
//! Group Policy, groups, `.reg` import and admin tokens, including while `serve` runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{run, BIN};
const SEED: &str = include_str!("../../policy/tests/fixtures/seed_passportforwork_example.xml");

fn tenant(data: &Path) -> String {
    let (_, out, _) = run(data, &["tenant", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["tenant_id"].as_str().unwrap().to_owned()
}

#[test]
fn apply_prints_one_line_per_command_and_show_names_sources() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::init(&data);
    // Start the service: administration works while it runs.
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "serve exited");
        if line.starts_with("listening on ") {
            break;
        }
    }

    let seed = dir.path().join("seed.xml");
    std::fs::write(&seed, SEED).unwrap();
    let (code, out, err) = run(&data, &["policy", "apply", seed.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 15, "{out}");
    for (i, line) in lines[..14].iter().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[0], (i + 2).to_string(), "{line}");
        assert!(
            cols[2].starts_with("./Vendor/MSFT/PassportForWork"),
            "{line}"
        );
        let expected = match i + 2 {
            14 => "200",
            15 => "404",
            _ => "400",
        };
        assert!(cols[3].starts_with(expected), "{line}");
    }
    assert!(lines[14].contains("policy version 1"));

    let fixed = dir.path().join("fixed.xml");
    std::fs::write(
        &fixed,
        SEED.replace("5NEMDU42-45CC-8CBL-8BPF-D7092646325F", &tenant(&data)),
    )
    .unwrap();
    let (code, out, _) = run(
        &data,
        &["policy", "apply", fixed.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["outcomes"][1]["status"], 200);

    // Group Policy for a group beats the CSP PIN rules.
    assert_eq!(run(&data, &["group", "add", "Pilot"]).0, 0);
    let reg = dir.path().join("whfb.reg");
    std::fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\r\n\"Enabled\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\\PINComplexity]\r\n\"MinimumPINLength\"=dword:0000000c\r\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &data,
        &[
            "policy",
            "gpo",
            "import",
            reg.to_str().unwrap(),
            "--name",
            "WHfB",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("policy version 4"), "{out}");
    let (_, out, _) = run(&data, &["policy", "show"]);
    let min = out
        .lines()
        .find(|l| l.starts_with("PINComplexity/MinimumPINLength"))
        .unwrap();
    assert!(
        min.contains("12") && min.contains("computer Group Policy"),
        "{out}"
    );
    assert!(out.contains("CSP PIN rules are not applied"), "{out}");
    let (_, out, _) = run(&data, &["policy", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["report"]["policy"]["pin"]["min_length"]["source"],
        "computer_gpo"
    );

    // Filter the GPO on the group: without a device in it, the CSP value is back.
    let (code, _, err) = run(
        &data,
        &[
            "policy",
            "gpo",
            "set",
            "WHfB",
            "--group",
            "pilot",
            "Enabled=1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&data, &["policy", "show"]);
    let min = out
        .lines()
        .find(|l| l.starts_with("PINComplexity/MinimumPINLength"))
        .unwrap();
    assert!(min.contains('8') && min.contains("device CSP"), "{out}");

    // Errors: a bad setting, a missing group, a malformed message, a user that does not exist.
    let (code, _, err) = run(&data, &["policy", "gpo", "set", "X", "History=51"]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-POLICY-001"), "{err}");
    let (code, _, err) = run(
        &data,
        &["policy", "gpo", "set", "X", "--group", "nope", "Enabled=1"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no group"), "{err}");
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<SyncML").unwrap();
    let (code, _, err) = run(&data, &["policy", "apply", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-SYNCML-001"), "{err}");
    let (code, _, err) = run(&data, &["policy", "show", "--user", "nobody@example.com"]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-POLICY-001"), "{err}");

    // Admin tokens: created once, listed without the secret.
    let (code, out, _) = run(
        &data,
        &["admin-token", "create", "--label", "mdm", "--json"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["token"].as_str().unwrap().starts_with("lkadm_"));
    let (_, out, _) = run(&data, &["admin-token", "list"]);
    assert!(out.contains("mdm") && !out.contains("lkadm_"), "{out}");

    let (_, out, _) = run(&data, &["audit"]);
    for event in [
        "policy_change",
        "gpo_change",
        "group_change",
        "admin_token_create",
    ] {
        assert!(out.contains(event), "{event} missing: {out}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
