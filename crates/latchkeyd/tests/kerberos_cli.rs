//! `latchkeyd kerberos ...` with the real binary: kdc-setup writes the six files an MIT KDC
//! needs (checked by the real OpenSSL), all or nothing, never overwriting without
//! `--force`; it records the tenant's realm; `kerberos crl` rewrites the KDC's CRL file.
//! (PKINIT with these files against a real KDC: crates/e2e/tests/pkinit.rs.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd");
const FILES: [&str; 6] = [
    "kdc.pem",
    "kdc-key.pem",
    "anchors.pem",
    "crl.pem",
    "kdc.conf",
    "krb5.conf",
];

fn run(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn setup_args<'a>(out: &'a str, realm: &'a str) -> Vec<&'a str> {
    vec![
        "kerberos",
        "kdc-setup",
        "--realm",
        realm,
        "--out",
        out,
        "--hostname",
        "kdc.example.com",
        "--base-url",
        "https://id.example.com",
    ]
}

fn cert_count(data: &Path) -> usize {
    let (code, out, err) = run(data, &["cert", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

fn realm(data: &Path) -> serde_json::Value {
    let (code, out, err) = run(data, &["kerberos", "show", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["realm"].clone()
}

/// Every entry of `dir` (names, sorted), and the bytes of the regular files.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn split_pem(text: &str, label: &str) -> Vec<String> {
    let end = format!("-----END {label}-----\n");
    text.split_inclusive(&end)
        .filter(|p| p.contains("-----BEGIN"))
        .map(|p| p.trim_start().to_owned())
        .collect()
}

fn initialised() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = run(&data, &["init"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&data, &["cert", "authority", "init"]);
    assert_eq!(code, 0, "{err}");
    (dir, data)
}

#[test]
fn kdc_setup_writes_what_a_kdc_needs_and_records_the_realm() {
    let (dir, data) = initialised();
    assert_eq!(realm(&data), serde_json::Value::Null);
    let (code, out, _) = run(&data, &["kerberos", "show"]);
    assert_eq!(code, 0);
    assert!(out.contains("(none"), "{out}");

    let out_dir = dir.path().join("kdc");
    let out_text = out_dir.to_str().unwrap().to_owned();
    let (code, out, err) = run(&data, &setup_args(&out_text, "EXAMPLE.COM"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("EXAMPLE.COM"), "{out}");
    assert_eq!(realm(&data), "EXAMPLE.COM");
    assert_eq!(cert_count(&data), 1, "the KDC certificate is recorded");

    // Exactly the six files, no temporary file left; the key private.
    let names: Vec<String> = listing(&out_dir).into_iter().map(|(n, _)| n).collect();
    let mut expected: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
    for name in FILES {
        let mode = std::fs::metadata(out_dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        let want = if name == "kdc-key.pem" { 0o600 } else { 0o644 };
        assert_eq!(mode, want, "{name}: {mode:o}");
    }
    let path = |name: &str| out_dir.join(name).display().to_string();

    // The KDC certificate chains to the anchors, for the KDC role.
    let anchors = std::fs::read_to_string(out_dir.join("anchors.pem")).unwrap();
    let chain = split_pem(&anchors, "CERTIFICATE");
    assert_eq!(chain.len(), 2, "issuing CA and root: {anchors}");
    std::fs::write(dir.path().join("issuing.pem"), &chain[0]).unwrap();
    std::fs::write(dir.path().join("root.pem"), &chain[1]).unwrap();
    let (ok, text) = openssl(&["verify", "-CAfile", &path("anchors.pem"), &path("kdc.pem")]);
    assert!(ok, "{text}");
    let (_, text) = openssl(&["x509", "-in", &path("kdc.pem"), "-noout", "-text"]);
    assert!(text.contains("DNS:kdc.example.com"), "{text}");
    let (_, cert_mod) = openssl(&["x509", "-noout", "-modulus", "-in", &path("kdc.pem")]);
    let (_, key_mod) = openssl(&["rsa", "-noout", "-modulus", "-in", &path("kdc-key.pem")]);
    assert_eq!(cert_mod, key_mod);

    // crl.pem: the issuing CA's CRL, then the root's; each verifies with its issuer.
    let crls = split_pem(
        &std::fs::read_to_string(out_dir.join("crl.pem")).unwrap(),
        "X509 CRL",
    );
    assert_eq!(crls.len(), 2, "{crls:?}");
    for (crl, issuer) in crls.iter().zip(["issuing.pem", "root.pem"]) {
        let file = dir.path().join(format!("crl-{issuer}"));
        std::fs::write(&file, crl).unwrap();
        let issuer = dir.path().join(issuer);
        let (ok, text) = openssl(&[
            "crl",
            "-in",
            file.to_str().unwrap(),
            "-noout",
            "-CAfile",
            issuer.to_str().unwrap(),
        ]);
        assert!(ok && text.contains("verify OK"), "{text}");
    }
    // With both CRLs, OpenSSL's whole-chain check accepts the KDC certificate.
    let (ok, text) = openssl(&[
        "verify",
        "-crl_check_all",
        "-CAfile",
        &path("anchors.pem"),
        "-CRLfile",
        &path("crl.pem"),
        &path("kdc.pem"),
    ]);
    assert!(ok, "{text}");

    // The fragments name the files by absolute path.
    let kdc_conf = std::fs::read_to_string(out_dir.join("kdc.conf")).unwrap();
    for line in [
        "EXAMPLE.COM = {".to_owned(),
        format!(
            "pkinit_identity = FILE:{},{}",
            path("kdc.pem"),
            path("kdc-key.pem")
        ),
        format!("pkinit_anchors = FILE:{}", path("anchors.pem")),
        "pkinit_eku_checking = scLogin".to_owned(),
        "pkinit_allow_upn = true".to_owned(),
        format!("pkinit_revoke = FILE:{}", path("crl.pem")),
        "pkinit_require_crl_checking = true".to_owned(),
    ] {
        assert!(
            kdc_conf.contains(&line),
            "kdc.conf lacks {line}:\n{kdc_conf}"
        );
    }
    let krb5_conf = std::fs::read_to_string(out_dir.join("krb5.conf")).unwrap();
    for line in [
        format!("pkinit_anchors = FILE:{}", path("anchors.pem")),
        "pkinit_kdc_hostname = kdc.example.com".to_owned(),
    ] {
        assert!(
            krb5_conf.contains(&line),
            "krb5.conf lacks {line}:\n{krb5_conf}"
        );
    }

    // Again: refused, nothing written or recorded.
    let before = listing(&out_dir);
    let (code, _, err) = run(&data, &setup_args(&out_text, "OTHER.COM"));
    assert_eq!(code, 1);
    assert!(err.contains("LK-KRB-003"), "{err}");
    assert_eq!(listing(&out_dir), before, "nothing written");
    assert_eq!(cert_count(&data), 1, "nothing recorded");
    assert_eq!(realm(&data), "EXAMPLE.COM");

    // --force replaces all six and records the new realm.
    let mut args = setup_args(&out_text, "OTHER.COM");
    args.push("--force");
    let (code, _, err) = run(&data, &args);
    assert_eq!(code, 0, "{err}");
    let after = listing(&out_dir);
    assert_eq!(after.len(), 6);
    assert_ne!(after, before);
    assert_eq!(cert_count(&data), 2);
    assert_eq!(realm(&data), "OTHER.COM");

    // `kerberos crl` rewrites crl.pem in place (a new root CRL each time).
    let crl_before = std::fs::read(out_dir.join("crl.pem")).unwrap();
    let (code, _, err) = run(&data, &["kerberos", "crl", "--out", &path("crl.pem")]);
    assert_eq!(code, 0, "{err}");
    let crl_after = std::fs::read(out_dir.join("crl.pem")).unwrap();
    assert_eq!(
        split_pem(std::str::from_utf8(&crl_after).unwrap(), "X509 CRL").len(),
        2
    );
    assert_eq!(listing(&out_dir).len(), 6, "no temporary file left");
    let _ = crl_before;
}

#[test]
fn kdc_setup_refusals_write_nothing() {
    let (dir, data) = initialised();

    // A bad realm or host name: nothing created.
    let out_dir = dir.path().join("kdc");
    let out_text = out_dir.to_str().unwrap().to_owned();
    for (realm_arg, code_text) in [("BAD/REALM", "LK-KRB-001"), (".EXAMPLE", "LK-KRB-001")] {
        let (code, _, err) = run(&data, &setup_args(&out_text, realm_arg));
        assert_eq!(code, 1);
        assert!(err.contains(code_text), "{err}");
    }
    let mut args = setup_args(&out_text, "EXAMPLE.COM");
    args[7] = "bad_host.example";
    let (code, _, err) = run(&data, &args);
    assert_eq!(code, 1);
    assert!(err.contains("LK-KRB-002"), "{err}");
    assert!(!out_dir.exists(), "no directory created");
    assert_eq!(cert_count(&data), 0);
    assert_eq!(realm(&data), serde_json::Value::Null);

    // One of the six exists: refused, the other five not created.
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("crl.pem"), b"an administrator's file\n").unwrap();
    let (code, _, err) = run(&data, &setup_args(&out_text, "EXAMPLE.COM"));
    assert_eq!(code, 1);
    assert!(
        err.contains("LK-KRB-003") && err.contains("crl.pem"),
        "{err}"
    );
    assert_eq!(
        listing(&out_dir),
        vec![("crl.pem".to_owned(), b"an administrator's file\n".to_vec())]
    );
    assert_eq!(cert_count(&data), 0);
    assert_eq!(realm(&data), serde_json::Value::Null);

    // The directory cannot be made (its parent is a file): LK-KRB-004, nothing recorded.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let blocked = file.join("kdc").display().to_string();
    let (code, _, err) = run(&data, &setup_args(&blocked, "EXAMPLE.COM"));
    assert_eq!(code, 1);
    assert!(err.contains("LK-KRB-004"), "{err}");
    assert_eq!(cert_count(&data), 0);
    assert_eq!(realm(&data), serde_json::Value::Null);
}

#[test]
fn set_principal_checks_the_name_and_the_user() {
    let (_dir, data) = initialised();
    let out = Command::new(BIN)
        .args([
            "user",
            "add",
            "kim@contoso.test",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"pa55word-for-tests\n")?;
            c.wait()
        })
        .unwrap();
    assert!(out.success());
    let audit = |data: &Path| {
        let (code, out, err) = run(data, &["audit", "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    let before = audit(&data);
    for bad in ["kim/admin", "kim@OTHER", "kim smith"] {
        let (code, _, err) = run(
            &data,
            &["kerberos", "set-principal", "kim@contoso.test", bad],
        );
        assert_eq!(code, 1);
        assert!(err.contains("LK-KRB-005"), "{err}");
    }
    let (code, _, err) = run(
        &data,
        &["kerberos", "set-principal", "nobody@contoso.test", "x"],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(audit(&data), before, "nothing written");
    let (code, out, err) = run(
        &data,
        &["kerberos", "set-principal", "kim@contoso.test", "kim.smith"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kim.smith"), "{out}");
    let (code, _, err) = run(
        &data,
        &["kerberos", "set-principal", "kim@contoso.test", "--clear"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(audit(&data), before + 2, "both audited");
}
