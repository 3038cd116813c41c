//! The administration commands of issue 16 through the real binary: no data directory is
//! created by accident, `init`, `tenant rename`, the user commands with the QR code,
//! confirmations, key id prefixes, applications, the audit filters and formats, and the
//! policy bounds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{init, run, BIN};

/// Runs with `stdin` piped in (not a terminal).
fn run_in(data: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    common::run_with_input(data, args, stdin)
}

fn add_user(data: &Path, upn: &str) -> String {
    let (code, out, err) = run_in(
        data,
        &["user", "add", upn, "--password-stdin"],
        "pa55word-for-tests\n",
    );
    assert_eq!(code, 0, "{err}");
    out
}

fn audit_jsonl(data: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["audit", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(data, &args);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn commands_on_a_missing_data_directory_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("latchky-data");
    for args in [
        vec!["tenant", "show"],
        vec!["user", "list"],
        vec!["user", "add", "a@example.com", "--password-stdin"],
        vec!["device", "list"],
        vec!["key", "delete", "abcd", "--yes"],
        vec!["audit"],
        vec!["policy", "show"],
        vec!["cert", "list"],
        vec!["client", "list"],
        vec!["pin-recovery", "show"],
    ] {
        let (code, _, err) = run(&typo, &args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(
            err.trim_end(),
            format!(
                "error: LK-ADM-001: {}: no such directory; nothing was created. Check \
                 --data-dir, or create a data directory with `latchkeyd init --data-dir {}`",
                typo.display(),
                typo.display()
            ),
            "{args:?}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }

    // An existing directory without a database, or with an empty one: refused, untouched.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let (code, _, err) = run(&empty, &["user", "list"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("LK-ADM-001") && err.contains("no Latchkey database in this directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);

    // `init` creates it, prints the tenant and CA, and a second `init` changes nothing.
    let data = dir.path().join("data");
    let (code, out, err) = run(&data, &["init", "--tenant-name", "Contoso"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("created tenant Contoso ("), "{out}");
    assert!(
        out.contains("CA file:        ") && out.contains("CA SHA-256:     "),
        "{out}"
    );
    assert!(data.join("ca.pem").is_file());
    let (code, out, _) = run(&data, &["init", "--tenant-name", "Other"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("the data directory has a tenant already; nothing was changed"),
        "{out}"
    );
    assert!(out.contains("tenant:         Contoso ("), "{out}");
}

#[test]
fn tenant_rename_sets_the_totp_issuer_and_users_are_managed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    let (code, out, err) = run(&data, &["tenant", "rename", "Contoso Paris"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("to Contoso Paris"), "{out}");
    let (code, _, err) = run(&data, &["tenant", "rename", "  "]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: LK-REQ-003: "), "{err}");

    // user add: the issuer is the tenant's name; --qr prints the URI's QR code.
    let (code, out, err) = run_in(
        &data,
        &[
            "user",
            "add",
            "alice@example.com",
            "--password-stdin",
            "--qr",
        ],
        "pa55word-for-tests\n",
    );
    assert_eq!(code, 0, "{err}");
    let uri = out.lines().find(|l| l.starts_with("otpauth://")).unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Contoso%20Paris:alice@example.com?secret="),
        "{uri}"
    );
    assert!(uri.contains("&issuer=Contoso%20Paris&"), "{uri}");
    let qr = out.split("or scan this QR code:\n").nth(1).unwrap();
    let expected =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).unwrap();
    let width = expected.width() + 8;
    let rendered = expected
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    assert_eq!(qr.trim_end_matches('\n'), rendered);
    assert!(qr.lines().all(|l| l.chars().count() == width), "{qr}");
    assert_eq!(qr.lines().count(), width.div_ceil(2));
    // Without --qr and without a terminal: the URI only.
    let out = add_user(&data, "bob@example.com");
    assert!(!out.contains("QR"), "{out}");

    // disable / enable.
    assert_eq!(run(&data, &["user", "disable", "bob@example.com"]).0, 0);
    let (code, out, _) = run(&data, &["user", "enable", "bob@example.com"]);
    assert_eq!((code, out.trim()), (0, "user enabled: bob@example.com"));
    let (_, out, _) = run(&data, &["user", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(users
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["disabled"] == false));
    let (code, _, err) = run(&data, &["user", "enable", "nobody@example.com"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: LK-AUTH-001: no user nobody@example.com"),
        "{err}"
    );

    // reset-password (stdin), reset-mfa (confirmed), delete (confirmed).
    let (code, out, err) = run_in(
        &data,
        &[
            "user",
            "reset-password",
            "bob@example.com",
            "--password-stdin",
        ],
        "another-pa55word\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "password reset (browser sessions ended): bob@example.com"
    );
    let (code, _, err) = run_in(
        &data,
        &[
            "user",
            "reset-password",
            "bob@example.com",
            "--password-stdin",
        ],
        "short\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("at least 8 characters"), "{err}");

    let (code, _, err) = run(&data, &["user", "reset-mfa", "bob@example.com"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim_end(),
        "error: LK-ADM-002: Give bob@example.com a new TOTP secret (the authenticator app's \
         current entry stops working): this cannot be undone; pass --yes to confirm (standard \
         input is not a terminal, so nobody can be asked); nothing was changed"
    );
    let (code, out, err) = run(&data, &["user", "reset-mfa", "bob@example.com", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let new_uri = out.lines().find(|l| l.starts_with("otpauth://")).unwrap();
    assert!(
        new_uri.contains("Contoso%20Paris:bob@example.com"),
        "{new_uri}"
    );

    let (code, _, err) = run(&data, &["user", "delete", "bob@example.com"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: LK-ADM-002: Delete user bob@example.com ("),
        "{err}"
    );
    let upns = |data: &Path| -> Vec<String> {
        let (_, out, _) = run(data, &["user", "list", "--json"]);
        let users: serde_json::Value = serde_json::from_str(&out).unwrap();
        users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["upn"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(upns(&data), ["alice@example.com", "bob@example.com"]);
    let (code, out, err) = run(&data, &["user", "delete", "bob@example.com", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(upns(&data), ["alice@example.com"]);
    assert_eq!(
        out.trim(),
        "user deleted: bob@example.com (0 Hello key(s), 0 security key(s), 0 session(s) \
         deleted; 0 certificate(s) revoked)"
    );
    let (code, _, err) = run(&data, &["user", "delete", "bob@example.com", "--yes"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: LK-AUTH-001: "), "{err}");

    // Every change is audited with the administrator who made it.
    let lines = audit_jsonl(&data, &["--user", "bob@example.com"]);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "user_create",
            "user_disable",
            "user_enable",
            "user_reset_password",
            "user_reset_mfa",
            "user_delete"
        ]
    );
    let actor = lines[0]["actor"].as_str().unwrap();
    assert!(actor.starts_with("admin:") && actor.len() > 6, "{actor}");
    let rename = audit_jsonl(&data, &["--event", "tenant_rename"]);
    assert_eq!(rename.len(), 1);
    assert_eq!(rename[0]["reason"], "Latchkey -> Contoso Paris");
}

#[test]
fn irreversible_commands_refuse_without_a_terminal_or_yes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    add_user(&data, "alice@example.com");
    let (code, out, _) = run_in(
        &data,
        &[
            "client",
            "add",
            "Wiki",
            "--redirect-uri",
            "https://wiki.example.com/cb",
            "--json",
        ],
        "",
    );
    assert_eq!(code, 0);
    let client: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = client["client_id"].as_str().unwrap();
    // Unknown objects are named before anything is asked.
    for (args, code) in [
        (vec!["device", "delete", "nope"], "LK-DEV-001"),
        (vec!["device", "disable", "nope"], "LK-DEV-001"),
        (vec!["client", "delete", "nope"], "LK-ADM-006"),
        (vec!["client", "rotate-secret", "nope"], "LK-ADM-006"),
        (vec!["key", "delete", "abcd"], "LK-KEY-001"),
        (vec!["key", "delete", "abc"], "LK-ADM-004"),
        (vec!["key", "delete", "wxyz1234"], "LK-ADM-004"),
        (vec!["user", "delete", "nobody@example.com"], "LK-AUTH-001"),
        (vec!["security-key", "delete", "nope"], "LK-KEY-001"),
    ] {
        let (status, _, err) = run(&data, &args);
        assert_eq!(status, 1, "{args:?}");
        assert!(
            err.starts_with(&format!("error: {code}: ")),
            "{args:?}: {err}"
        );
    }
    let (_, _, err) = run(&data, &["key", "delete", "abc"]);
    assert_eq!(
        err.trim_end(),
        "error: LK-ADM-004: `abc` is not a key id or a prefix of one: give at least 4 \
         hexadecimal digits"
    );
    for args in [
        vec!["client", "delete", id],
        vec!["client", "rotate-secret", id],
        vec!["cert", "revoke", "00ff", "--reason", "superseded"],
    ] {
        let (status, _, err) = run_in(&data, &args, "yes\n");
        assert_eq!(status, 1, "{args:?}");
        assert!(err.starts_with("error: LK-ADM-002: "), "{args:?}: {err}");
        assert!(err.contains("pass --yes to confirm"), "{err}");
    }
    let (code, _, err) = run(&data, &["cert", "revoke", "00ff", "--yes"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: LK-CERT-"), "{err}");

    // rotate-secret prints a new secret once; a public client has none.
    let (code, out, err) = run(&data, &["client", "rotate-secret", id, "--yes", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rotated: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_ne!(rotated["client_secret"], client["client_secret"]);
    assert_eq!(rotated["client_secret"].as_str().unwrap().len(), 43);
    let (_, out, _) = run_in(
        &data,
        &[
            "client",
            "add",
            "App",
            "--public",
            "--redirect-uri",
            "http://localhost:9/cb",
            "--json",
        ],
        "",
    );
    let public: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pid = public["client_id"].as_str().unwrap();
    let (code, _, err) = run(&data, &["client", "rotate-secret", pid, "--yes"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: LK-ADM-007: "), "{err}");
    let (code, out, _) = run(&data, &["client", "delete", id, "--yes"]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("application deleted: {id}").as_str())
    );
    let (_, out, _) = run(&data, &["client", "list", "--json"]);
    assert!(!out.contains(id), "{out}");
    let events: Vec<String> = audit_jsonl(&data, &["--event", "oidc_client_*"])
        .iter()
        .map(|l| l["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "oidc_client_create",
            "oidc_client_rotate_secret",
            "oidc_client_create",
            "oidc_client_delete"
        ]
    );
}

#[test]
fn audit_filters_formats_and_a_table_that_fits_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    add_user(&data, "alice@example.com");
    add_user(
        &data,
        "someone.with.a.rather.long.name@subsidiary.example.com",
    );
    assert_eq!(run(&data, &["user", "disable", "alice@example.com"]).0, 0);

    let (code, out, err) = run(&data, &["audit"]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "ID       TIME (UTC)           EVENT                   OUTCOME   WHO"
    );
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    let (_, detailed, _) = run(&data, &["audit", "--details"]);
    assert!(
        detailed.contains("reason=someone.with.a.rather.long.name@"),
        "{detailed}"
    );
    assert!(
        detailed.lines().all(|l| l.chars().count() <= 80),
        "{detailed}"
    );

    let all = audit_jsonl(&data, &[]);
    let disable = audit_jsonl(&data, &["--event", "user_disable", "--outcome", "success"]);
    assert_eq!(disable.len(), 1);
    assert_eq!(disable[0]["reason"], "alice@example.com");
    let seq = disable[0]["seq"].as_i64().unwrap();
    let (code, out, _) = run(&data, &["audit", "show", &seq.to_string()]);
    assert_eq!(code, 0);
    assert!(out.contains("event:    user_disable"), "{out}");
    assert!(out.contains("reason:   alice@example.com"), "{out}");
    assert_eq!(audit_jsonl(&data, &["--outcome", "failure"]).len(), 0);
    assert_eq!(audit_jsonl(&data, &["--until", "1h"]).len(), 0);
    assert_eq!(audit_jsonl(&data, &["--since", "1h"]).len(), all.len());
    assert_eq!(audit_jsonl(&data, &["--limit", "1"]), all[all.len() - 1..]);
    assert_eq!(audit_jsonl(&data, &["--device", "nope"]).len(), 0);
    assert_eq!(
        audit_jsonl(&data, &["--user", "ALICE@example.com"]).len(),
        2
    );
    let (code, _, err) = run(&data, &["audit", "--until", "someday"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: LK-REQ-003: --until `someday`"),
        "{err}"
    );

    let (code, csv, _) = run(&data, &["audit", "--format", "csv"]);
    assert_eq!(code, 0);
    let mut rows = csv.split("\r\n");
    assert_eq!(
        rows.next().unwrap(),
        "id,time,event,outcome,actor,device_id,key_id,source,reason"
    );
    let first: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(first.len(), 9, "{first:?}");
    assert_eq!(first[2], "user_create");
    assert!(first[4].starts_with("admin:"), "{first:?}");
}

#[test]
fn policy_values_outside_the_csp_bounds_are_refused_and_stored_ones_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    for (settings, message) in [
        (
            vec!["MinimumPINLength=3"],
            "MinimumPINLength must be between 4 and 127 (not 3)",
        ),
        (
            vec!["MaximumPINLength=200"],
            "MaximumPINLength must be between 4 and 127 (not 200)",
        ),
        (
            vec!["MinimumPINLength=10", "MaximumPINLength=6"],
            "MaximumPINLength (6) must not be below MinimumPINLength (10)",
        ),
    ] {
        let mut args = vec!["policy", "gpo", "set", "Pins"];
        args.extend(settings.iter());
        let (code, _, err) = run(&data, &args);
        assert_eq!(code, 1, "{settings:?}");
        assert_eq!(
            err.trim_end(),
            format!("error: LK-POLICY-002: {message}; nothing was stored")
        );
    }
    let (_, out, _) = run(&data, &["policy", "gpo", "list", "--json"]);
    assert_eq!(out.trim(), "[]");
    // A maximum below a minimum stored earlier in the same GPO half.
    assert_eq!(
        run(
            &data,
            &["policy", "gpo", "set", "Pins", "MinimumPINLength=10"]
        )
        .0,
        0
    );
    let (code, _, err) = run(
        &data,
        &["policy", "gpo", "set", "Pins", "MaximumPINLength=8"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("MaximumPINLength (8) must not be below MinimumPINLength (10)"),
        "{err}"
    );
    // .reg import.
    let reg = dir.path().join("pins.reg");
    std::fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\\
         Microsoft\\PassportForWork\\PINComplexity]\r\n\"MinimumPINLength\"=dword:00000003\r\n",
    )
    .unwrap();
    let (code, _, err) = run(&data, &["policy", "gpo", "import", reg.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim_end(),
        "error: LK-POLICY-002: MinimumPINLength must be between 4 and 127 (not 3); nothing \
         was stored"
    );
    // SyncML: refused whole, nothing stored.
    let syncml = dir.path().join("pins.xml");
    let tenant = tenant_id(&data);
    std::fs::write(
        &syncml,
        syncml_add(&tenant, &[("History", 5), ("MinimumPINLength", 3)]),
    )
    .unwrap();
    let (_, before, _) = run(&data, &["policy", "show", "--json"]);
    let (code, _, err) = run(&data, &["policy", "apply", syncml.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(
            "error: LK-POLICY-002: MinimumPINLength must be between 4 and 127 (not 3; CmdID 3)"
        ),
        "{err}"
    );
    let (_, after, _) = run(&data, &["policy", "show", "--json"]);
    assert_eq!(before, after);
    std::fs::write(
        &syncml,
        syncml_add(
            &tenant,
            &[("MinimumPINLength", 12), ("MaximumPINLength", 8)],
        ),
    )
    .unwrap();
    let (code, _, err) = run(&data, &["policy", "apply", syncml.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("MaximumPINLength (8) must not be below MinimumPINLength (12)"),
        "{err}"
    );
    // Accepted values are stored; `policy show` has nothing to warn about.
    std::fs::write(
        &syncml,
        syncml_add(&tenant, &[("MinimumPINLength", 6), ("MaximumPINLength", 8)]),
    )
    .unwrap();
    let (code, _, err) = run(&data, &["policy", "apply", syncml.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (_, out, err) = run(&data, &["policy", "show"]);
    assert!(
        !out.contains("WARNING") && !err.contains("WARNING"),
        "{out}"
    );
}

fn tenant_id(data: &Path) -> String {
    let (_, out, _) = run(data, &["tenant", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["tenant_id"].as_str().unwrap().to_owned()
}

/// A SyncML message adding the tenant node and `settings` under PINComplexity.
fn syncml_add(tenant: &str, settings: &[(&str, i64)]) -> String {
    let base = format!("./Vendor/MSFT/PassportForWork/{tenant}");
    let mut items =
        format!("<Add><CmdID>1</CmdID><Item><Target><LocURI>{base}</LocURI></Target></Item></Add>");
    for (i, (name, value)) in settings.iter().enumerate() {
        items.push_str(&format!(
            "<Add><CmdID>{}</CmdID><Item><Target><LocURI>{base}/Policies/PINComplexity/{name}\
             </LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">int</Format>\
             <Type>text/plain</Type></Meta><Data>{value}</Data></Item></Add>",
            i + 2
        ));
    }
    format!("<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody>{items}</SyncBody></SyncML>")
}

#[test]
fn policy_show_warns_about_stored_lengths_it_ignores() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    let (_, out, _) = run(&data, &["admin-token", "create", "--json"]);
    let token: serde_json::Value = serde_json::from_str(&out).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            break url.to_owned();
        }
    };
    // The HTTP endpoint keeps SyncML's per-command semantics: a pair that is broken only
    // together is stored there (two commands each within 4..127).
    let body = dir.path().join("pair.xml");
    std::fs::write(
        &body,
        syncml_add(
            &tenant_id(&data),
            &[("MinimumPINLength", 12), ("MaximumPINLength", 8)],
        ),
    )
    .unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(data.join("ca.pem"))
        .args([
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-H",
            "Content-Type: application/vnd.syncml.dm+xml",
            "--data-binary",
        ])
        .arg(format!("@{}", body.display()))
        .arg(format!("{url}/v1/policy/syncml"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let (code, out, err) = run(&data, &["policy", "show"]);
    assert_eq!(code, 0, "{err}");
    let warning = "WARNING: the PIN lengths set by device CSP are IGNORED: MinimumPINLength and \
                   MaximumPINLength must be between 4 and 127 and the maximum not below the \
                   minimum; the defaults 4 and 127 apply instead. Set them again within the \
                   bounds.";
    assert!(err.contains(warning), "{err}");
    let (head, table) = out.split_once("SETTING").unwrap();
    assert!(head.contains(warning), "{out}");
    assert!(!table.contains("WARNING"), "{out}");
}

/// Runs `latchkeyd ARGS --data-dir DATA` on a pseudo-terminal, typing `answer` at the
/// confirmation prompt (tests/pkinit/on_a_terminal.py): exit status and transcript.
fn on_a_terminal(data: &Path, args: &[&str], answer: &str) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pkinit/on_a_terminal.py");
    let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = Command::new(python)
        .arg(script)
        .arg("Type yes to continue: ")
        .arg(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{answer}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_the_command_asks_and_only_yes_goes_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    add_user(&data, "bob@example.com");
    let (code, transcript) = on_a_terminal(&data, &["user", "delete", "bob@example.com"], "no");
    assert_eq!(code, 1, "{transcript}");
    assert!(
        transcript.contains("Delete user bob@example.com (")
            && transcript.contains(
                ") with its Hello keys, security keys and sessions, and revoke its certificates? \
             This cannot be undone. Type yes to continue: "
            ),
        "{transcript}"
    );
    assert!(
        transcript.contains("error: LK-ADM-002: not confirmed; nothing was changed"),
        "{transcript}"
    );
    assert!(transcript.ends_with("[typed]\n"), "{transcript}");
    assert!(run(&data, &["user", "list"]).1.contains("bob@example.com"));

    let (code, transcript) = on_a_terminal(&data, &["user", "delete", "bob@example.com"], "yes");
    assert_eq!(code, 0, "{transcript}");
    assert!(
        transcript.contains("user deleted: bob@example.com"),
        "{transcript}"
    );
    assert!(!run(&data, &["user", "list"]).1.contains("bob@example.com"));
}
