//! Certificate enrolment over HTTP with a real RSA-2048 Hello key, checked by the real
//! OpenSSL: the chain verifies for client authentication, the certificate carries both
//! EKUs and the UPN otherName, the CRL verifies; every way of revoking (the admin command,
//! deleting the key, disabling the device, disabling the user) makes `openssl verify
//! -crl_check` fail with "certificate revoked" and OCSP answer revoked (good before).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::{enrolled_with_cert, fetch_crl, ocsp_status, openssl, verify_with_crl, Pems};
use common::{rsa_key, Harness};
use serde_json::Value;

/// Before: the chain verifies with the CRL and OCSP says good. After `revoke`: the CRL
/// names the certificate ("certificate revoked") and OCSP says revoked.
async fn good_then_revoked(h: &Harness, pems: &Pems) {
    let (ok, text) = verify_with_crl(h, pems).await;
    assert!(ok, "before revocation: {text}");
    let status = ocsp_status(h, pems).await;
    assert!(status.contains(": good"), "{status}");
}

async fn assert_revoked(h: &Harness, pems: &Pems, reason: &str) {
    let (ok, text) = verify_with_crl(h, pems).await;
    assert!(!ok, "a revoked certificate verified: {text}");
    assert!(text.contains("certificate revoked"), "{text}");
    let status = ocsp_status(h, pems).await;
    assert!(status.contains(": revoked"), "{status}");
    // The reason, as the CRL names it (OpenSSL's OCSP printer knows only codes 0 to 8).
    let crl = fetch_crl(h).await;
    let (ok, text) = openssl(&["crl", "-noout", "-text", "-in", crl.to_str().unwrap()]);
    assert!(ok);
    let flat = text.to_lowercase().replace(' ', "");
    assert!(flat.contains(reason), "{text}");
}

#[tokio::test]
async fn an_enrolled_certificate_verifies_in_openssl_and_names_the_user() {
    let h = Harness::start().await;
    let before = h.counts().await;
    let (e, answer, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    assert_eq!(h.counts().await.certificates, before.certificates + 1);
    assert_eq!(answer["template"], "Hello authentication");
    assert_eq!(answer["chain"].as_array().unwrap().len(), 2);

    let (ok, text) = openssl(&[
        "verify",
        "-attime",
        &common::cert::attime(&h),
        "-CAfile",
        pems.root.to_str().unwrap(),
        "-untrusted",
        pems.issuing.to_str().unwrap(),
        "-purpose",
        "sslclient",
        pems.leaf.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");

    let (ok, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        pems.leaf.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(
        text.contains("Microsoft Smartcard Login") || text.contains("1.3.6.1.4.1.311.20.2.2"),
        "{text}"
    );
    assert!(
        text.contains("othername: UPN:alice@example.com")
            || text.contains("othername:UPN:alice@example.com")
            || text.contains("alice@example.com"),
        "{text}"
    );
    assert!(text.contains("Subject: CN = alice@example.com"), "{text}");
    assert!(text.contains("/pki/issuing-ca.crl"), "{text}");
    assert!(text.contains("OCSP - URI:"), "{text}");
    assert!(!text.contains("CA:TRUE"), "{text}");
    // The public key is the Hello key's.
    let leaf_key = rsa::pkcs8::EncodePublicKey::to_public_key_der(
        &common::cert::rsa_of(&e.key).to_public_key(),
    )
    .unwrap();
    let (ok, pubkey) = openssl(&[
        "x509",
        "-noout",
        "-pubkey",
        "-in",
        pems.leaf.to_str().unwrap(),
    ]);
    assert!(ok);
    let pem_body: String = pubkey.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let served = base64::engine::general_purpose::STANDARD
        .decode(pem_body)
        .unwrap();
    assert_eq!(served, leaf_key.as_bytes());

    // The CRL verifies against the issuing CA.
    let crl = fetch_crl(&h).await;
    let (ok, text) = openssl(&[
        "crl",
        "-noout",
        "-in",
        crl.to_str().unwrap(),
        "-CAfile",
        pems.issuing.to_str().unwrap(),
    ]);
    assert!(ok && text.contains("verify OK"), "{text}");

    // The AIA URLs serve the CA certificates (DER).
    for (path, expected) in [
        ("/pki/issuing-ca.crt", &pems.issuing),
        ("/pki/root-ca.crt", &pems.root),
    ] {
        let resp = h
            .client
            .get(format!("{}{path}", h.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["content-type"], "application/pkix-cert");
        let der = resp.bytes().await.unwrap();
        let file = h.dir.path().join("aia.der");
        std::fs::write(&file, &der).unwrap();
        let (_, fp_served) = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            file.to_str().unwrap(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ]);
        let (_, fp_expected) = openssl(&[
            "x509",
            "-in",
            expected.to_str().unwrap(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ]);
        assert_eq!(fp_served, fp_expected, "{path}");
    }

    // `cert show`'s decoded fields.
    let shown = h
        .admin
        .certificate(answer["serial"].as_str().unwrap())
        .await
        .unwrap();
    let fields = shown.fields.unwrap();
    assert!(fields
        .subject_alt_names
        .contains(&"upn:alice@example.com".to_owned()));
    assert!(fields
        .subject_alt_names
        .contains(&"email:alice@example.com".to_owned()));
    assert_eq!(
        fields.extended_key_usages,
        ["clientAuth".to_owned(), "smartcardLogon".to_owned()]
    );
    assert_eq!(fields.key_usage, ["digitalSignature".to_owned()]);
    assert!(!fields.is_ca);
    assert_eq!(shown.record.state, "valid");
    assert_eq!(shown.record.upn.as_deref(), Some("alice@example.com"));

    // The audit trail records the request and the issue.
    let audit = h.audit().await;
    let serial = answer["serial"].as_str().unwrap();
    assert!(audit
        .iter()
        .any(|l| l.event == "cert_request" && l.outcome == "success"));
    assert!(audit.iter().any(
        |l| l.event == "cert_issue" && l.reason.as_deref().is_some_and(|r| r.contains(serial))
    ));
}

#[tokio::test]
async fn the_admin_revocation_is_seen_by_the_crl_and_ocsp() {
    let h = Harness::start().await;
    let (_, answer, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    good_then_revoked(&h, &pems).await;
    let serial = answer["serial"].as_str().unwrap();
    let revoked = h
        .admin
        .revoke_certificate(serial, "key-compromise")
        .await
        .unwrap();
    assert_eq!(revoked.state, "revoked");
    assert_eq!(revoked.reason.as_deref(), Some("keyCompromise"));
    assert_revoked(&h, &pems, "keycompromise").await;
    // Revoking again: LK-CERT-015, nothing changed.
    let err = h
        .admin
        .revoke_certificate(serial, "superseded")
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "LK-CERT-015");
    let err = h
        .admin
        .revoke_certificate("abcdef", "superseded")
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "LK-CERT-006");
    let audit = h.audit().await;
    assert_eq!(
        audit.iter().filter(|l| l.event == "cert_revoke").count(),
        1,
        "one revocation, one line"
    );
}

#[tokio::test]
async fn deleting_the_key_revokes_its_certificate() {
    let h = Harness::start().await;
    let (e, _, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    good_then_revoked(&h, &pems).await;
    h.admin.delete_key(&e.key.key_id()).await.unwrap();
    assert_revoked(&h, &pems, "cessationofoperation").await;
}

#[tokio::test]
async fn disabling_the_device_revokes_its_certificates() {
    let h = Harness::start().await;
    let (e, _, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    good_then_revoked(&h, &pems).await;
    h.admin.disable_device(&e.device.id).await.unwrap();
    assert_revoked(&h, &pems, "cessationofoperation").await;
}

#[tokio::test]
async fn disabling_the_user_revokes_their_certificates_and_no_one_elses() {
    let h = Harness::start().await;
    let (_, _, alice) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    let (_, _, bob) = enrolled_with_cert(&h, "bob@example.com", 1).await;
    good_then_revoked(&h, &alice).await;
    h.admin.disable_user("alice@example.com").await.unwrap();
    assert_revoked(&h, &alice, "privilegewithdrawn").await;
    let (ok, text) = verify_with_crl(&h, &bob).await;
    assert!(ok, "bob's certificate was revoked too: {text}");
    assert!(ocsp_status(&h, &bob).await.contains(": good"));
}

#[tokio::test]
async fn the_crl_is_signed_again_before_half_its_validity_passes() {
    let h = Harness::start().await;
    let first = fetch_crl(&h).await;
    let (_, text1) = openssl(&[
        "crl",
        "-noout",
        "-crlnumber",
        "-in",
        first.to_str().unwrap(),
    ]);
    // Served again within half its validity: the same CRL.
    h.clock.advance(time::Duration::days(3));
    let again = fetch_crl(&h).await;
    let (_, text2) = openssl(&[
        "crl",
        "-noout",
        "-crlnumber",
        "-in",
        again.to_str().unwrap(),
    ]);
    assert_eq!(text1, text2);
    // Past half of the seven days: a new number, a later nextUpdate.
    h.clock.advance(time::Duration::hours(13));
    let fresh = fetch_crl(&h).await;
    let (_, text3) = openssl(&[
        "crl",
        "-noout",
        "-crlnumber",
        "-in",
        fresh.to_str().unwrap(),
    ]);
    assert_ne!(text1, text3);
    assert!(
        text1.trim() == "crlNumber=0x01" && text3.trim() == "crlNumber=0x02",
        "{text1} {text3}"
    );
}

#[tokio::test]
async fn the_ocsp_responder_takes_get_and_bounds_its_input() {
    let h = Harness::start().await;
    let (_, _, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    let req = h.dir.path().join("get-req.der");
    let (ok, text) = openssl(&[
        "ocsp",
        "-issuer",
        pems.issuing.to_str().unwrap(),
        "-cert",
        pems.leaf.to_str().unwrap(),
        "-reqout",
        req.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    use base64::Engine as _;
    let encoded =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(std::fs::read(&req).unwrap());
    let resp = h
        .client
        .get(format!("{}/pki/ocsp/{encoded}", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/ocsp-response");
    let der = resp.bytes().await.unwrap();
    let file = h.dir.path().join("get-resp.der");
    std::fs::write(&file, &der).unwrap();
    let (ok, text) = openssl(&[
        "ocsp",
        "-respin",
        file.to_str().unwrap(),
        "-issuer",
        pems.issuing.to_str().unwrap(),
        "-cert",
        pems.leaf.to_str().unwrap(),
        "-CAfile",
        pems.root.to_str().unwrap(),
        "-VAfile",
        pems.issuing.to_str().unwrap(),
        "-no_nonce",
        "-attime",
        &common::cert::attime(&h),
    ]);
    assert!(ok && text.contains(": good"), "{text}");

    let post = |body: Vec<u8>, media: &'static str| {
        h.client
            .post(format!("{}/pki/ocsp", h.url))
            .header("content-type", media)
            .body(body)
            .send()
    };
    // Too large: LK-REQ-002; not an OCSP request's media type: LK-REQ-005.
    let resp = post(vec![0x30; 5000], "application/ocsp-request")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "LK-REQ-002");
    let resp = post(std::fs::read(&req).unwrap(), "application/json")
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "LK-REQ-005");
    // Garbage: a DER OCSPResponse saying malformedRequest (status 1).
    let resp = post(b"not der".to_vec(), "application/ocsp-request")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let der = resp.bytes().await.unwrap();
    assert_eq!(&der[..], &[0x30, 0x03, 0x0a, 0x01, 0x01]);
}

#[tokio::test]
async fn an_rsa_3072_issuing_ca_when_configured() {
    let h = Harness::start_with(|c| {
        c.issuing_ca_algorithm = latchkey_pki::CaAlgorithm::Rsa3072;
    })
    .await;
    assert_eq!(h.admin.cert_authority().await.unwrap().algorithm, "rsa3072");
    let (_, _, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    let (ok, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        pems.issuing.to_str().unwrap(),
    ]);
    assert!(ok && text.contains("Public-Key: (3072 bit)"), "{text}");
    good_then_revoked(&h, &pems).await;
}

#[tokio::test]
async fn replacing_the_hello_key_revokes_the_old_keys_certificate() {
    let h = Harness::start().await;
    let (e, answer, pems) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    good_then_revoked(&h, &pems).await;
    let mfa = h.mfa_token(&e.upn, &e.secret).await;
    let (status, body) = h.register(&e.device, &e.upn, &rsa_key(1), Some(&mfa)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replaced_key_id"], e.key.key_id());
    assert_revoked(&h, &pems, "superseded").await;
    let record = h
        .admin
        .certificate(answer["serial"].as_str().unwrap())
        .await
        .unwrap()
        .record;
    assert_eq!(record.reason.as_deref(), Some("superseded"));
}
