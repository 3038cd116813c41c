//! The Hello certificate hierarchy checked by OpenSSL: requests, the chain root → issuing
//! CA → user certificate, the CRL, OCSP and the KDC certificate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use latchkey_pki::{
    build_request, CaAlgorithm, CertStatus, CertificateProfile, IssuingCa, RegistrationAuthority,
    RevocationReason, RevokedEntry, Template, TenantCa, UserCertificate,
};
use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use time::{Duration, OffsetDateTime};

const UPN: &str = "alice@contoso.test";

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, text) = run(dir, args);
    assert!(success, "openssl {args:?} failed: {text}");
    text
}

/// A Hello-like RSA-2048 key from the `rsa` crate, signing PKCS#1 v1.5 SHA-256.
struct HelloKey {
    signer: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    spki: Vec<u8>,
}

fn hello_key() -> &'static HelloKey {
    static KEY: OnceLock<HelloKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec();
        HelloKey {
            signer: rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key),
            spki,
        }
    })
}

fn rsa_request(cn: &str) -> Vec<u8> {
    let key = hello_key();
    build_request(&key.spki, cn, &mut |m| Ok(key.signer.sign(m).to_vec())).unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    now: OffsetDateTime,
    root: TenantCa,
    ca: IssuingCa,
    user: UserCertificate,
}

impl Setup {
    fn new(alg: CaAlgorithm) -> Setup {
        let now = OffsetDateTime::now_utc();
        let root = TenantCa::create("Contoso", now).unwrap();
        let ca = IssuingCa::create(&root, "Contoso", alg, now).unwrap();
        let ra = RegistrationAuthority::create(&root, "Contoso", now).unwrap();
        let template = Template {
            kerberos_realm: Some("CONTOSO.TEST".into()),
            ..Template::hello_default()
        };
        let profile = CertificateProfile::for_user(
            &template,
            UPN,
            &hello_key().spki,
            now,
            Some("http://pki.contoso.test/crl"),
            Some("http://pki.contoso.test/ca.crt"),
            Some("http://pki.contoso.test/ocsp"),
        )
        .unwrap();
        let cs = ra.countersign(&rsa_request(UPN), &profile, now).unwrap();
        let user = ca.issue(&cs, root.cert_der(), now).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), root.cert_pem()).unwrap();
        std::fs::write(dir.path().join("issuing.pem"), ca.cert_pem()).unwrap();
        std::fs::write(
            dir.path().join("chain.pem"),
            format!("{}{}", root.cert_pem(), ca.cert_pem()),
        )
        .unwrap();
        std::fs::write(dir.path().join("user.pem"), &user.certificate.pem).unwrap();
        Setup {
            dir,
            now,
            root,
            ca,
            user,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(self.dir.path(), args)
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        run(self.dir.path(), args)
    }

    fn user_serial(&self) -> Vec<u8> {
        hex_decode(&self.user.serial_hex)
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const ALGS: [CaAlgorithm; 2] = [CaAlgorithm::EcdsaP256, CaAlgorithm::Rsa3072];

#[test]
fn openssl_verifies_the_chain_and_shows_the_profile() {
    for alg in ALGS {
        let s = Setup::new(alg);
        let out = s.ok(&[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "user.pem",
        ]);
        assert!(out.contains("user.pem: OK"), "{alg}: {out}");
        // Without the issuing CA there is no chain to the root.
        let (success, _) = s.run(&["verify", "-CAfile", "root.pem", "user.pem"]);
        assert!(!success);
        // It is no server certificate.
        let (success, _) = s.run(&[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            "chain.pem",
            "user.pem",
        ]);
        assert!(!success);

        let text = s.ok(&["x509", "-in", "user.pem", "-noout", "-text"]);
        assert!(text.contains("TLS Web Client Authentication"), "{text}");
        assert!(
            text.contains("Microsoft Smartcard Login") || text.contains("1.3.6.1.4.1.311.20.2.2"),
            "{text}"
        );
        assert!(
            text.contains("othername: UPN::alice@contoso.test"),
            "{text}"
        );
        assert!(text.contains("email:alice@contoso.test"), "{text}");
        assert!(text.contains("CA:FALSE"), "{text}");
        assert!(text.contains("Digital Signature"), "{text}");
        assert!(!text.contains("Key Encipherment"), "{text}");
        assert!(text.contains("URI:http://pki.contoso.test/crl"), "{text}");
        assert!(
            text.contains("OCSP - URI:http://pki.contoso.test/ocsp"),
            "{text}"
        );
        assert!(
            text.contains("CA Issuers - URI:http://pki.contoso.test/ca.crt"),
            "{text}"
        );
        assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
        assert!(text.contains(&format!("Subject: CN = {UPN}")), "{text}");

        let ca_text = s.ok(&["x509", "-in", "issuing.pem", "-noout", "-text"]);
        assert!(ca_text.contains("CA:TRUE, pathlen:0"), "{ca_text}");
        assert!(ca_text.contains("Certificate Sign, CRL Sign"), "{ca_text}");
        let expect_key = match alg {
            CaAlgorithm::EcdsaP256 => "ecdsa-with-SHA256",
            CaAlgorithm::Rsa3072 => "Public-Key: (3072 bit)",
        };
        assert!(
            ca_text.contains(expect_key) || text.contains(expect_key),
            "{alg}: {ca_text}"
        );
        let _ = (&s.root, s.now);
    }
}

#[test]
fn openssl_accepts_requests_from_build_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rsa.der"), rsa_request(UPN)).unwrap();
    let out = ok(
        dir.path(),
        &[
            "req", "-in", "rsa.der", "-inform", "DER", "-verify", "-noout", "-subject",
        ],
    );
    assert!(
        out.contains("verify OK") || out.contains("Certificate request self-signature verify OK"),
        "{out}"
    );
    assert!(out.contains(UPN), "{out}");

    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;
    let key = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let spki = key.verifying_key().to_public_key_der().unwrap();
    let der = build_request(spki.as_bytes(), "bob@contoso.test", &mut |m| {
        let sig: p256::ecdsa::Signature = key.sign(m);
        Ok(sig.to_bytes().to_vec())
    })
    .unwrap();
    std::fs::write(dir.path().join("p256.der"), &der).unwrap();
    let out = ok(
        dir.path(),
        &[
            "req", "-in", "p256.der", "-inform", "DER", "-verify", "-noout", "-text",
        ],
    );
    assert!(out.contains("verify OK"), "{out}");
    assert!(out.contains("ecdsa-with-SHA256"), "{out}");
    // A flipped signature byte: OpenSSL refuses it as we do.
    let mut bad = der.clone();
    let last = bad.len() - 3;
    bad[last] ^= 1;
    std::fs::write(dir.path().join("bad.der"), &bad).unwrap();
    let (success, out) = run(
        dir.path(),
        &[
            "req", "-in", "bad.der", "-inform", "DER", "-verify", "-noout",
        ],
    );
    assert!(!success || out.contains("verify failure"), "{out}");
    assert!(latchkey_pki::verify_request(&bad).is_err());
}

fn write_crl(s: &Setup, entries: &[RevokedEntry], number: u64) {
    let der =
        s.ca.crl(entries, number, s.now, s.now + Duration::days(1))
            .unwrap();
    std::fs::write(s.path("crl.der"), der).unwrap();
    s.ok(&["crl", "-in", "crl.der", "-inform", "DER", "-out", "crl.pem"]);
}

#[test]
fn openssl_checks_the_crl() {
    for alg in ALGS {
        let s = Setup::new(alg);
        let other = RevokedEntry {
            serial: vec![0x41, 0x22, 0x33],
            revoked_at: s.now - Duration::hours(1),
            reason: RevocationReason::Superseded,
        };
        write_crl(&s, std::slice::from_ref(&other), 1);
        let out = s.ok(&[
            "crl",
            "-in",
            "crl.pem",
            "-CAfile",
            "chain.pem",
            "-noout",
            "-text",
        ]);
        assert!(out.contains("verify OK"), "{alg}: {out}");
        assert!(
            out.contains("X509v3 CRL Number") && out.contains("Superseded"),
            "{out}"
        );
        let verify = [
            "verify",
            "-crl_check",
            "-purpose",
            "sslclient",
            "-CAfile",
            "chain.pem",
            "-CRLfile",
            "crl.pem",
            "user.pem",
        ];
        let out = s.ok(&verify);
        assert!(
            out.contains("user.pem: OK"),
            "another serial revoked: {out}"
        );

        let revoked = RevokedEntry {
            serial: s.user_serial(),
            revoked_at: s.now,
            reason: RevocationReason::KeyCompromise,
        };
        write_crl(&s, &[other, revoked], 2);
        let out = s.ok(&[
            "crl",
            "-in",
            "crl.pem",
            "-CAfile",
            "chain.pem",
            "-noout",
            "-text",
        ]);
        assert!(
            out.contains("verify OK") && out.contains("Key Compromise"),
            "{out}"
        );
        let (success, out) = s.run(&verify);
        assert!(!success, "{out}");
        assert!(out.contains("certificate revoked"), "{out}");

        // A CRL signed by another CA is refused by openssl.
        let stranger = IssuingCa::create(&s.root, "Other", CaAlgorithm::EcdsaP256, s.now).unwrap();
        let der = stranger
            .crl(&[], 1, s.now, s.now + Duration::days(1))
            .unwrap();
        std::fs::write(s.path("crl.der"), der).unwrap();
        let (success, out) = s.run(&[
            "crl",
            "-in",
            "crl.der",
            "-inform",
            "DER",
            "-CAfile",
            "chain.pem",
            "-noout",
        ]);
        assert!(!success || out.contains("verify failure"), "{out}");
    }
}

fn ocsp_status(s: &Setup, status: CertStatus) -> String {
    s.ok(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "user.pem",
        "-reqout",
        "req.der",
    ]);
    let request = std::fs::read(s.path("req.der")).unwrap();
    let serial = s.user_serial();
    let mut asked = false;
    let response = s.ca.ocsp_response(
        &request,
        &mut |sn| {
            assert_eq!(sn, serial.as_slice());
            asked = true;
            status
        },
        s.now,
        s.now + Duration::hours(1),
    );
    assert!(asked);
    std::fs::write(s.path("resp.der"), response).unwrap();

    // The request's own nonce is checked against the response's echo.
    let with_nonce = s.ok(&[
        "ocsp",
        "-reqin",
        "req.der",
        "-respin",
        "resp.der",
        "-VAfile",
        "issuing.pem",
        "-resp_text",
    ]);
    assert!(with_nonce.contains("Response verify OK"), "{with_nonce}");
    assert!(with_nonce.contains("OCSP Nonce"), "{with_nonce}");
    // The status per certificate (openssl builds its own request here, hence -no_nonce).
    let per_cert = s.ok(&[
        "ocsp",
        "-respin",
        "resp.der",
        "-issuer",
        "issuing.pem",
        "-cert",
        "user.pem",
        "-VAfile",
        "issuing.pem",
        "-no_nonce",
    ]);
    format!("{with_nonce}{per_cert}")
}

#[test]
fn openssl_reads_the_ocsp_answers() {
    for alg in ALGS {
        let s = Setup::new(alg);
        let out = ocsp_status(&s, CertStatus::Good);
        assert!(out.contains("Response verify OK"), "{alg}: {out}");
        assert!(out.contains("user.pem: good"), "{out}");
        let out = ocsp_status(
            &s,
            CertStatus::Revoked {
                at: s.now - Duration::minutes(1),
                reason: RevocationReason::KeyCompromise,
            },
        );
        assert!(out.contains("Response verify OK"), "{out}");
        assert!(out.contains("user.pem: revoked"), "{out}");
        assert!(
            out.contains("Key Compromise") || out.contains("keyCompromise"),
            "{out}"
        );
        // With the chain as trust anchors instead of the VA file.
        let out = s.ok(&[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "user.pem",
            "-CAfile",
            "chain.pem",
            "-verify_other",
            "issuing.pem",
            "-no_nonce",
        ]);
        assert!(
            out.contains("Response verify OK") && out.contains("revoked"),
            "{out}"
        );
    }
}

#[test]
fn openssl_shows_the_kdc_certificate() {
    for alg in ALGS {
        let s = Setup::new(alg);
        let kdc =
            s.ca.issue_kdc_certificate("CONTOSO.TEST", "kdc.contoso.test", s.now, 365, None)
                .unwrap();
        std::fs::write(s.path("kdc.pem"), &kdc.certificate.pem).unwrap();
        let text = s.ok(&["x509", "-in", "kdc.pem", "-noout", "-text"]);
        assert!(
            text.contains("Signing KDC Response") || text.contains("1.3.6.1.5.2.3.5"),
            "{text}"
        );
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        assert!(text.contains("1.3.6.1.5.2.2"), "{text}");
        assert!(text.contains("DNS:kdc.contoso.test"), "{text}");
        assert!(
            text.contains("Digital Signature, Key Encipherment"),
            "{text}"
        );
        assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
        let out = s.ok(&["verify", "-CAfile", "chain.pem", "kdc.pem"]);
        assert!(out.contains("kdc.pem: OK"), "{out}");
        // The key file is the certificate's key.
        std::fs::write(s.path("kdc.key.der"), kdc.key_pkcs8_der.as_slice()).unwrap();
        let key_pub = s.ok(&["pkey", "-in", "kdc.key.der", "-inform", "DER", "-pubout"]);
        let cert_pub = s.ok(&["x509", "-in", "kdc.pem", "-noout", "-pubkey"]);
        assert_eq!(key_pub, cert_pub);
    }
}
