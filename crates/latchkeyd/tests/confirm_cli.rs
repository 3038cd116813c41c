//! The irreversible policy and trust commands ask first like `user delete` does: `policy gpo
//! delete`, `group delete`, `admin-token revoke`, `tpm-roots remove`, `resource remove`.
//! Without a terminal and without `--yes` they refuse (`LK-ADM-002`) and change nothing; for
//! something that does not exist they give that error instead, without asking; `--yes` goes
//! ahead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::path::Path;

use common::{ok, run};

fn error_code(data: &Path, args: &[&str]) -> String {
    let (code, _, err) = run(data, args);
    assert_eq!(code, 1, "{args:?} should fail: {err}");
    let rest = err
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("{args:?}: {err}"));
    rest.split(':').next().unwrap().to_owned()
}

/// What the listing command prints as JSON.
fn listed(data: &Path, list: &[&str]) -> serde_json::Value {
    let mut args = list.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(data, &args)).unwrap()
}

#[test]
fn policy_and_trust_removals_ask_first_and_change_nothing_unconfirmed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::init(&data);
    let ca = data.join("ca.pem");

    ok(&data, &["resource", "add", "api://payroll"]);
    ok(&data, &["group", "add", "finance"]);
    ok(
        &data,
        &["policy", "gpo", "set", "Pins", "MinimumPINLength=8"],
    );
    let token: serde_json::Value =
        serde_json::from_str(&ok(&data, &["admin-token", "create", "--json"])).unwrap();
    let token_id = token["id"].as_str().unwrap().to_owned();
    ok(&data, &["tpm-roots", "add", ca.to_str().unwrap()]);
    let fingerprint = listed(&data, &["tpm-roots", "list"])[0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();

    // (the command, the listing that shows its one target, an unknown target's name)
    let cases: Vec<(Vec<&str>, Vec<&str>, &str)> = vec![
        (
            vec!["resource", "remove", "api://payroll"],
            vec!["resource", "list"],
            "api://nope",
        ),
        (
            vec!["group", "delete", "finance"],
            vec!["group", "list"],
            "nobody",
        ),
        (
            vec!["policy", "gpo", "delete", "Pins"],
            vec!["policy", "gpo", "list"],
            "NoSuchGpo",
        ),
        (
            vec!["tpm-roots", "remove", &fingerprint],
            vec!["tpm-roots", "list"],
            "00ff",
        ),
    ];
    for (command, list, unknown) in &cases {
        let before = listed(&data, list);
        assert_eq!(before.as_array().unwrap().len(), 1, "{list:?}: {before}");
        let (code, _, err) = run(&data, command);
        assert_eq!(code, 1, "{command:?}");
        assert!(
            err.starts_with("error: LK-ADM-002: ") && err.contains("pass --yes to confirm"),
            "{command:?}: {err}"
        );
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(listed(&data, list), before, "{command:?} changed something");

        // An unknown target: its own error, no question.
        let mut missing = command.clone();
        *missing.last_mut().unwrap() = unknown;
        let code = error_code(&data, &missing);
        assert_ne!(code, "LK-ADM-002", "{missing:?} asked about nothing");

        let mut confirmed = command.clone();
        confirmed.push("--yes");
        ok(&data, &confirmed);
        assert_eq!(listed(&data, list), serde_json::json!([]), "{confirmed:?}");
    }

    // admin-token revoke: the token stays usable until confirmed.
    let revoked = |data: &Path| {
        listed(data, &["admin-token", "list"])[0]["revoked"]
            .as_bool()
            .unwrap()
    };
    assert_eq!(
        error_code(&data, &["admin-token", "revoke", &token_id]),
        "LK-ADM-002"
    );
    assert!(!revoked(&data));
    assert_ne!(
        error_code(&data, &["admin-token", "revoke", "no-such-token"]),
        "LK-ADM-002"
    );
    ok(&data, &["admin-token", "revoke", &token_id, "--yes"]);
    assert!(revoked(&data));
}
