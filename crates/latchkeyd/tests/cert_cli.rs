//! `latchkeyd cert ...` with the real binary: the issuing CA, templates, a KDC certificate
//! checked by the real OpenSSL, revocation and the CRL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

mod common;

use common::run;

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn authority_templates_kdc_certificate_revocation_and_crl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::init(&data);
    // Before the first start (or `authority init`) there is no issuing CA.
    let (code, _, err) = run(&data, &["cert", "authority", "show"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("LK-REQ-003") && err.contains("authority init"),
        "{err}"
    );
    let (code, _, err) = run(&data, &["cert", "authority", "init", "--algorithm", "dsa"]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-REQ-003"), "{err}");
    let (code, out, err) = run(&data, &["cert", "authority", "init"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p256"), "{out}");
    let (code, _, err) = run(
        &data,
        &["cert", "authority", "init", "--algorithm", "rsa3072"],
    );
    assert_eq!(code, 1, "a second init was accepted");
    assert!(err.contains("exists already"), "{err}");

    // Templates.
    let (code, out, err) = run(&data, &["cert", "template", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let templates: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(templates[0]["name"], "Hello authentication");
    assert_eq!(templates[0]["validity_days"], 365);
    let (code, _, err) = run(
        &data,
        &[
            "cert",
            "template",
            "set",
            "Hello authentication",
            "--validity-days",
            "0",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("LK-CERT-012"), "{err}");
    let (code, _, err) = run(
        &data,
        &[
            "cert",
            "template",
            "set",
            "Hello authentication",
            "--group",
            "Pilots",
            "--kerberos-realm",
            "EXAMPLE.COM",
            "--auto-enroll",
            "true",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(
        &data,
        &["cert", "template", "show", "Hello authentication", "--json"],
    );
    assert_eq!(code, 0);
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["enroll_group"], "pilots");
    assert_eq!(t["kerberos_realm"], "EXAMPLE.COM");
    assert_eq!(t["auto_enroll"], true);
    assert_eq!(t["validity_days"], 365, "the refused change left nothing");
    let (code, _, err) = run(&data, &["cert", "template", "show", "VPN"]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-CERT-004"), "{err}");

    // A KDC certificate.
    let out_dir = dir.path().join("kdc");
    let args = [
        "cert",
        "issue-kdc",
        "--realm",
        "EXAMPLE.COM",
        "--hostname",
        "kdc.example.com",
        "--out",
        out_dir.to_str().unwrap(),
        "--base-url",
        "https://id.example.com",
    ];
    let (code, out, err) = run(&data, &args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("issued KDC certificate"), "{out}");
    let mode = std::fs::metadata(out_dir.join("kdc-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let chain = std::fs::read_to_string(out_dir.join("ca-chain.pem")).unwrap();
    let issuing = dir.path().join("issuing.pem");
    let first_end = chain.find("-----END CERTIFICATE-----").unwrap() + 26;
    std::fs::write(&issuing, &chain[..first_end]).unwrap();
    let (ok, text) = openssl(&[
        "verify",
        "-CAfile",
        data.join("ca.pem").to_str().unwrap(),
        "-untrusted",
        issuing.to_str().unwrap(),
        "-purpose",
        "sslserver",
        out_dir.join("kdc.pem").to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        out_dir.join("kdc.pem").to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(
        text.contains("Signing KDC Response") || text.contains("1.3.6.1.5.2.3.5"),
        "{text}"
    );
    assert!(
        text.contains("https://id.example.com/pki/issuing-ca.crl"),
        "{text}"
    );
    assert!(text.contains("DNS:kdc.example.com"), "{text}");
    // The key matches the certificate.
    let (_, cert_mod) = openssl(&[
        "x509",
        "-noout",
        "-modulus",
        "-in",
        out_dir.join("kdc.pem").to_str().unwrap(),
    ]);
    let (_, key_mod) = openssl(&[
        "rsa",
        "-noout",
        "-modulus",
        "-in",
        out_dir.join("kdc-key.pem").to_str().unwrap(),
    ]);
    assert_eq!(cert_mod, key_mod);
    // Never overwritten.
    let before = std::fs::read(out_dir.join("kdc.pem")).unwrap();
    let (code, _, err) = run(&data, &args);
    assert_eq!(code, 1);
    assert!(err.contains("not overwritten"), "{err}");
    assert_eq!(std::fs::read(out_dir.join("kdc.pem")).unwrap(), before);

    // Listed, shown, revoked, on the CRL.
    let (code, out, _) = run(&data, &["cert", "list", "--json"]);
    assert_eq!(code, 0);
    let certs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(certs.as_array().unwrap().len(), 1);
    let serial = certs[0]["serial"].as_str().unwrap().to_owned();
    assert_eq!(certs[0]["kind"], "kdc");
    let (code, out, _) = run(&data, &["cert", "show", &serial]);
    assert_eq!(code, 0);
    assert!(out.contains("krb5:krbtgt/EXAMPLE.COM@EXAMPLE.COM"), "{out}");
    assert!(out.contains("pkinitKDC"), "{out}");
    let (code, out, _) = run(&data, &["cert", "show", &serial, "--pem", "--chain"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("BEGIN CERTIFICATE").count(), 3);
    let (code, _, err) = run(
        &data,
        &["cert", "revoke", &serial, "--reason", "bogus", "--yes"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("LK-REQ-003"), "{err}");
    let (code, _, err) = run(
        &data,
        &[
            "cert",
            "revoke",
            &serial,
            "--reason",
            "key-compromise",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        &data,
        &[
            "cert",
            "revoke",
            &serial,
            "--reason",
            "key-compromise",
            "--yes",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("LK-CERT-015"), "{err}");
    let (code, _, err) = run(&data, &["cert", "show", "00ff00ff"]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-CERT-006"), "{err}");
    let crl = dir.path().join("crl.der");
    let (code, _, err) = run(&data, &["cert", "crl", "--out", crl.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (ok, text) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        crl.to_str().unwrap(),
        "-noout",
        "-text",
        "-CAfile",
        issuing.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("verify OK"), "{text}");
    assert!(
        text.to_lowercase().contains(&serial.to_lowercase()),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
}
