//! Issued certificates checked by a verifier no one here wrote: `openssl verify`. The
//! service's TLS and device certificates come from the issuing CA, under the tenant root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

use latchkey_pki::{CaAlgorithm, IssuingCa, TenantCa};
use rcgen::{KeyPair, PublicKeyData, PKCS_ECDSA_P256_SHA256};
use time::OffsetDateTime;

/// A root and its issuing CA.
fn hierarchy(name: &str, now: OffsetDateTime) -> (TenantCa, IssuingCa) {
    let root = TenantCa::create(name, now).unwrap();
    let issuing = IssuingCa::create(&root, name, CaAlgorithm::EcdsaP256, now).unwrap();
    (root, issuing)
}

/// `openssl verify` of `leaf_pem` for `purpose` against the root `ca_pem`, with the
/// issuing CA `issuing_pem` as the untrusted intermediate.
fn openssl_verify(
    (ca_pem, issuing_pem): (&str, &str),
    leaf_pem: &str,
    purpose: &str,
) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let issuing = dir.path().join("issuing.pem");
    let leaf = dir.path().join("leaf.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    std::fs::write(&issuing, issuing_pem).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-purpose", purpose, "-CAfile"])
        .arg(&ca)
        .arg("-untrusted")
        .arg(&issuing)
        .arg(&leaf)
        .output()
        .expect("openssl is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn openssl_accepts_server_and_device_certificates() {
    let now = OffsetDateTime::now_utc();
    let (root, ca) = hierarchy("Fabrikam", now);
    let pems = (root.cert_pem(), ca.cert_pem());
    let reloaded = IssuingCa::from_pem(ca.cert_pem(), ca.key_pkcs8_pem()).unwrap();

    let server = reloaded.issue_server_certificate("127.0.0.1", now).unwrap();
    let (ok, text) = openssl_verify(pems, &server.certificate.pem, "sslserver");
    assert!(ok, "server certificate: {text}");

    let device_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let device = ca
        .issue_device_certificate(&device_key.subject_public_key_info(), "5e0c", now)
        .unwrap();
    let (ok, text) = openssl_verify(pems, &device.pem, "sslclient");
    assert!(ok, "device certificate: {text}");
    // A device certificate is not a server certificate.
    let (ok, _) = openssl_verify(pems, &device.pem, "sslserver");
    assert!(!ok);
}

/// An RSA-2048 device key made by OpenSSL (the kind `latchkey join` makes): its public key
/// as SubjectPublicKeyInfo DER.
fn openssl_rsa_spki(dir: &std::path::Path) -> Vec<u8> {
    let key = dir.join("device.key");
    let spki = dir.join("device.spki");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        spki.to_str().unwrap(),
    ]);
    std::fs::read(spki).unwrap()
}

#[test]
fn openssl_accepts_a_device_certificate_for_an_rsa_device_key() {
    let now = OffsetDateTime::now_utc();
    let (root, ca) = hierarchy("Fabrikam", now);
    let dir = tempfile::tempdir().unwrap();
    let spki = openssl_rsa_spki(dir.path());
    let device = ca.issue_device_certificate(&spki, "5e0c", now).unwrap();
    let (ok, text) = openssl_verify((root.cert_pem(), ca.cert_pem()), &device.pem, "sslclient");
    assert!(ok, "device certificate: {text}");
    let summary = latchkey_pki::inspect_certificate(&device.der).unwrap();
    assert_eq!(
        summary.spki_der, spki,
        "the certificate carries the device's own key"
    );
}

#[test]
fn openssl_refuses_a_certificate_from_another_ca() {
    let now = OffsetDateTime::now_utc();
    let (root, _) = hierarchy("A", now);
    let (_, other) = hierarchy("B", now);
    let server = other.issue_server_certificate("localhost", now).unwrap();
    let (ok, _) = openssl_verify(
        (root.cert_pem(), other.cert_pem()),
        &server.certificate.pem,
        "sslserver",
    );
    assert!(!ok, "B's issuing CA does not chain to A's root");
}

#[test]
fn openssl_reports_the_same_fingerprint() {
    let ca = TenantCa::create("A", OffsetDateTime::now_utc()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca.cert_pem()).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&ca.fingerprint_sha256()), "{text}");
}
