//! `latchkeyd tpm-roots add|list|remove` and the attestation columns of `key list`, with
//! the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::run;

#[test]
fn tpm_roots_add_list_remove_and_key_list_columns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::init(&data);
    let (code, out, err) = run(&data, &["tpm-roots", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([])
    );

    // The tenant CA stands in for a manufacturer root (any CA certificate).
    let ca = data.join("ca.pem");
    let (code, out, err) = run(&data, &["tpm-roots", "add", ca.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("added TPM root "), "{out}");
    let (code, out, _) = run(&data, &["tpm-roots", "list", "--json"]);
    assert_eq!(code, 0);
    let roots: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(roots.as_array().unwrap().len(), 1);
    assert_eq!(roots[0]["intermediate"], false);
    let fingerprint = roots[0]["fingerprint"].as_str().unwrap().to_owned();
    // The same again is a conflict; a file that is no certificate is refused.
    let (code, _, err) = run(&data, &["tpm-roots", "add", ca.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("LK-REQ-003"), "{err}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, b"not a certificate").unwrap();
    let (code, _, err) = run(&data, &["tpm-roots", "add", junk.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-REQ-003"), "{err}");

    let (code, out, err) = run(&data, &["tpm-roots", "remove", &fingerprint, "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&fingerprint));
    let (code, _, err) = run(&data, &["tpm-roots", "remove", &fingerprint, "--yes"]);
    assert_eq!(code, 1);
    assert!(err.contains("LK-HWK-015"), "{err}");

    let (code, out, err) = run(&data, &["key", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ATTESTATION") && out.contains("POLICY"),
        "{out}"
    );
}
