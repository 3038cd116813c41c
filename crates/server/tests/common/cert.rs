//! Certificate trust helpers: PKCS#10 requests built with `latchkey_pki::build_request`
//! (or the real `openssl req` for requests asking for more than a template gives),
//! enrolment and renewal bodies, and the real `openssl` CLI as the checker.

use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey_proto::api::cert::csr_binding;
use latchkey_proto::b64;
use latchkey_proto::proof::{proof_message, Purpose};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};

use super::{assert_error, enrolled, rsa_key, Enrolled, Harness, HelloKey};
use latchkey_server::storage::Counts;

/// The RSA private key of a Hello key.
pub fn rsa_of(key: &HelloKey) -> rsa::RsaPrivateKey {
    match key {
        HelloKey::Rsa(k) => (**k).clone(),
        HelloKey::P256(_) => panic!("an RSA key was expected"),
    }
}

/// A PKCS#10 request for `key` (subject CN=`cn`) signed by `signer` (the key itself for
/// a well-formed request).
pub fn csr(key: &HelloKey, signer: &HelloKey, cn: &str) -> Vec<u8> {
    let spki = rsa_of(key)
        .to_public_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let signing = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_of(signer));
    let mut sign = |msg: &[u8]| -> Result<Vec<u8>, String> { Ok(signing.sign(msg).to_vec()) };
    match latchkey_pki::build_request(&spki, cn, &mut sign) {
        Ok(der) => der,
        // build_request verifies what it built: a request signed by another key is caught
        // there, so such a request is assembled by the real OpenSSL instead.
        Err(_) => forged_csr(key, signer, cn),
    }
}

/// A request for `key` whose signature is by `signer`: OpenSSL signs a request for
/// `signer`, and its public key is swapped for `key`'s (the signature no longer matches).
fn forged_csr(key: &HelloKey, signer: &HelloKey, cn: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let signed = openssl_csr(dir.path(), signer, cn, &[]);
    let signer_spki = rsa_of(signer).to_public_key().to_public_key_der().unwrap();
    let key_spki = rsa_of(key).to_public_key().to_public_key_der().unwrap();
    let (a, b) = (signer_spki.as_bytes(), key_spki.as_bytes());
    assert_eq!(a.len(), b.len());
    let at = signed.windows(a.len()).position(|w| w == a).unwrap();
    let mut forged = signed.clone();
    forged[at..at + a.len()].copy_from_slice(b);
    forged
}

/// A request for `key` made by `openssl req`, with extra `-addext` lines.
pub fn openssl_csr(dir: &Path, key: &HelloKey, cn: &str, addext: &[&str]) -> Vec<u8> {
    let key_file = dir.join("req-key.pem");
    std::fs::write(
        &key_file,
        rsa_of(key).to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let out = dir.join("req.der");
    let mut args: Vec<String> = vec![
        "req".into(),
        "-new".into(),
        "-key".into(),
        key_file.display().to_string(),
        "-subj".into(),
        format!("/CN={cn}"),
        "-outform".into(),
        "DER".into(),
        "-out".into(),
        out.display().to_string(),
    ];
    for ext in addext {
        args.push("-addext".into());
        args.push((*ext).to_owned());
    }
    let (ok, text) = openssl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "openssl req: {text}");
    std::fs::read(out).unwrap()
}

/// Runs `openssl ARGS`; (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The body of an enrolment of `e`'s key with `csr` (a fresh nonce, the device's proof).
pub async fn enroll_body(
    h: &Harness,
    e: &Enrolled,
    key_id: &str,
    csr: &[u8],
    template: Option<&str>,
) -> Value {
    let nonce = h.nonce(Purpose::CertEnroll).await;
    let binding = csr_binding(csr);
    let msg = proof_message(
        Purpose::CertEnroll,
        &nonce,
        &[
            &h.tenant_id,
            &e.device.id,
            &e.upn,
            key_id,
            &binding,
            template.unwrap_or(""),
        ],
    );
    let mut body = json!({
        "device_id": e.device.id,
        "upn": e.upn,
        "key_id": key_id,
        "nonce": nonce,
        "csr": b64::encode(csr),
        "device_signature": e.device.sign(&msg),
    });
    if let Some(t) = template {
        body["template"] = json!(t);
    }
    body
}

/// Enrols `e`'s key with a well-formed request and a fresh MFA token.
pub async fn enroll(h: &Harness, e: &Enrolled) -> (u16, Value) {
    let token = h.mfa_token(&e.upn, &e.secret).await;
    let request = csr(&e.key, &e.key, &e.upn);
    let body = enroll_body(h, e, &e.key.key_id(), &request, None).await;
    h.post("/v1/certificates/enroll", &body, Some(&token)).await
}

/// The body of a renewal of `serial`, the key proof signed by `key_signer`.
pub async fn renew_body(h: &Harness, e: &Enrolled, serial: &str, key_signer: &HelloKey) -> Value {
    let nonce = h.nonce(Purpose::CertRenew).await;
    let request = csr(&e.key, &e.key, &e.upn);
    let binding = csr_binding(&request);
    let key_id = e.key.key_id();
    let msg = proof_message(
        Purpose::CertRenew,
        &nonce,
        &[
            &h.tenant_id,
            &e.device.id,
            &e.upn,
            &key_id,
            serial,
            &binding,
        ],
    );
    json!({
        "device_id": e.device.id,
        "upn": e.upn,
        "key_id": key_id,
        "serial": serial,
        "nonce": nonce,
        "csr": b64::encode(&request),
        "device_signature": e.device.sign(&msg),
        "key_signature": key_signer.sign(&msg),
    })
}

/// Files for OpenSSL: the root, the issuing CA and the leaf of an enrolment answer.
pub struct Pems {
    pub root: PathBuf,
    pub issuing: PathBuf,
    pub leaf: PathBuf,
}

pub fn write_pems(h: &Harness, answer: &Value, name: &str) -> Pems {
    let dir = h.dir.path();
    let pems = Pems {
        root: dir.join("root.pem"),
        issuing: dir.join("issuing.pem"),
        leaf: dir.join(format!("{name}.pem")),
    };
    std::fs::copy(h.data_dir().join("ca.pem"), &pems.root).unwrap();
    std::fs::write(&pems.issuing, answer["chain"][0].as_str().unwrap()).unwrap();
    std::fs::write(&pems.leaf, answer["certificate"].as_str().unwrap()).unwrap();
    pems
}

/// The service clock as `-attime` for OpenSSL.
pub fn attime(h: &Harness) -> String {
    use latchkey_server::clock::Clock;
    (h.clock.now().unix_timestamp() + 1).to_string()
}

/// Fetches the CRL over HTTP (DER) and writes it as PEM to `crl.pem`; returns its path.
pub async fn fetch_crl(h: &Harness) -> PathBuf {
    let resp = h
        .client
        .get(format!("{}/pki/issuing-ca.crl", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/pkix-crl"
    );
    let der = resp.bytes().await.unwrap();
    let path = h.dir.path().join("crl.der");
    std::fs::write(&path, &der).unwrap();
    let pem = h.dir.path().join("crl.pem");
    let (ok, text) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path.to_str().unwrap(),
        "-out",
        pem.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    pem
}

/// `openssl verify -crl_check` of `pems.leaf` with a freshly fetched CRL.
pub async fn verify_with_crl(h: &Harness, pems: &Pems) -> (bool, String) {
    let crl = fetch_crl(h).await;
    openssl(&[
        "verify",
        "-attime",
        &attime(h),
        "-crl_check",
        "-CAfile",
        pems.root.to_str().unwrap(),
        "-untrusted",
        pems.issuing.to_str().unwrap(),
        "-CRLfile",
        crl.to_str().unwrap(),
        "-purpose",
        "sslclient",
        pems.leaf.to_str().unwrap(),
    ])
}

/// What OpenSSL's OCSP client makes of the responder's answer for `pems.leaf`: the
/// request is built by `openssl ocsp -reqout`, POSTed over HTTPS, and the response read
/// by `openssl ocsp -respin` (signature checked with the issuing CA as the responder).
pub async fn ocsp_status(h: &Harness, pems: &Pems) -> String {
    let dir = h.dir.path();
    let req = dir.join("ocsp-req.der");
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
    let resp = h
        .client
        .post(format!("{}/pki/ocsp", h.url))
        .header("content-type", "application/ocsp-request")
        .body(std::fs::read(&req).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let der = resp.bytes().await.unwrap();
    let resp_file = dir.join("ocsp-resp.der");
    std::fs::write(&resp_file, &der).unwrap();
    let (ok, text) = openssl(&[
        "ocsp",
        "-respin",
        resp_file.to_str().unwrap(),
        "-issuer",
        pems.issuing.to_str().unwrap(),
        "-cert",
        pems.leaf.to_str().unwrap(),
        "-CAfile",
        pems.root.to_str().unwrap(),
        "-VAfile",
        pems.issuing.to_str().unwrap(),
        "-attime",
        &attime(h),
        "-no_nonce",
    ]);
    assert!(ok, "openssl ocsp -respin: {text}");
    text
}

/// Asserts `response` is refused with `code` and that the only row written since `before`
/// is its audit line: a failure of `event` with `code` as its reason.
pub async fn refused_with_its_audit_line_only(
    h: &Harness,
    before: Counts,
    response: (u16, Value),
    code: &str,
    event: &str,
) {
    assert_error(&response, code);
    assert_eq!(
        h.counts().await,
        Counts {
            audit: before.audit + 1,
            ..before
        },
        "a refusal ({code}) wrote more than its audit line"
    );
    let last = h.audit().await.pop().unwrap();
    assert_eq!(last.event, event);
    assert_eq!(last.outcome, "failure");
    assert_eq!(last.reason.as_deref(), Some(code));
}

/// A user enrolled with Hello key `rsa_key(key)` and a certificate for it: the enrolment
/// answer and the PEM files written.
pub async fn enrolled_with_cert(h: &Harness, upn: &str, key: usize) -> (Enrolled, Value, Pems) {
    let e = enrolled(h, upn, rsa_key(key)).await;
    let (status, answer) = enroll(h, &e).await;
    assert_eq!(status, 200, "{answer}");
    let pems = write_pems(h, &answer, &format!("leaf-{key}"));
    (e, answer, pems)
}
