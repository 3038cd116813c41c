//! EK certificate verification against a real swtpm EK certificate made by
//! `swtpm_setup --create-ek-cert` with a private local CA (fixtures/tpm/make-fixtures.sh).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use latchkey_attest::tpm::ek::verify_ek_certificate;
use latchkey_attest::tpm::public::tpm2b_contents;
use latchkey_attest::TrustAnchor;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tpm/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).expect(name)
}

fn pem_der(name: &str) -> Vec<u8> {
    let pem = fixture(name);
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
    block.contents
}

fn not_before(der: &[u8]) -> OffsetDateTime {
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der).expect("cert");
    c.validity().not_before.to_datetime()
}

struct Vectors {
    cert: Vec<u8>,
    issuer: Vec<u8>,
    /// The intermediates: the issuing CA.
    chain: Vec<Vec<u8>>,
    root: TrustAnchor,
    ek: Vec<u8>,
}

fn vectors() -> Vectors {
    Vectors {
        cert: fixture("ek-cert.der"),
        issuer: pem_der("localca-issuer.pem"),
        chain: vec![pem_der("localca-issuer.pem")],
        root: TrustAnchor::from_der(pem_der("localca-root.pem")).expect("root"),
        ek: tpm2b_contents(&fixture("ek.tpm2b_public"))
            .expect("TPM2B")
            .to_vec(),
    }
}

#[test]
fn swtpm_ek_certificate_verifies_and_names_the_tpm() {
    let v = vectors();
    let at = not_before(&v.cert) + Duration::days(30);
    let ok = verify_ek_certificate(&v.cert, &v.chain, &v.ek, &[&v.root], at).expect("verifies");
    assert_eq!(ok.tpm.manufacturer, "id:00001014");
    assert_eq!(ok.tpm.model, "swtpm");
    assert_eq!(ok.tpm.version, "id:20191023");
    let spec = ok.specification.expect("swtpm states its specification");
    assert_eq!(spec.family, "2.0");
    assert_eq!(ok.anchor_subject, "CN=swtpm-localca-rootca");
    // The issuing CA itself as the anchor also works (it is what the chain names).
    let issuer = TrustAnchor::from_der(v.issuer.clone()).expect("issuer");
    assert!(verify_ek_certificate(&v.cert, &[], &v.ek, &[&issuer], at).is_ok());
}

fn day30(v: &Vectors) -> OffsetDateTime {
    not_before(&v.cert) + Duration::days(30)
}

#[test]
fn wrong_root_is_refused() {
    let v = vectors();
    let other = TrustAnchor::from_der(pem_der("other-root.pem")).expect("anchor");
    // Same name as the real root, other key: the issuing certificate's signature fails.
    let err = verify_ek_certificate(&v.cert, &v.chain, &v.ek, &[&other], day30(&v)).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-023", "{err}");
    let err = verify_ek_certificate(&v.cert, &v.chain, &v.ek, &[], day30(&v)).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-023", "{err}");
    // Without the issuing certificate the chain does not reach the root.
    let err = verify_ek_certificate(&v.cert, &[], &v.ek, &[&v.root], day30(&v)).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-023", "{err}");
}

#[test]
fn not_yet_valid_and_expired_are_refused() {
    let v = vectors();
    let before = not_before(&v.cert) - Duration::days(1);
    let err = verify_ek_certificate(&v.cert, &v.chain, &v.ek, &[&v.root], before).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-022", "{err}");
    let short = fixture("ek-cert-1day.der");
    let t0 = not_before(&short);
    let ok = verify_ek_certificate(&short, &v.chain, &v.ek, &[&v.root], t0 + Duration::hours(1))
        .expect("valid within its day");
    assert_eq!(ok.specification, None);
    let err = verify_ek_certificate(&short, &v.chain, &v.ek, &[&v.root], t0 + Duration::days(2))
        .unwrap_err();
    assert_eq!(err.code(), "LK-ATT-022", "{err}");
}

#[test]
fn ek_public_of_another_key_is_refused() {
    let v = vectors();
    // Same EK template, another modulus.
    let other = tpm2b_contents(&fixture("kat-ek.tpm2b_public"))
        .expect("TPM2B")
        .to_vec();
    let err = verify_ek_certificate(&v.cert, &v.chain, &other, &[&v.root], day30(&v)).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-047", "{err}");
    // An AIK public area of the same TPM is not the EK either.
    let ak = tpm2b_contents(&fixture("ak-rsassa.tpm2b_public"))
        .expect("TPM2B")
        .to_vec();
    let err = verify_ek_certificate(&v.cert, &v.chain, &ak, &[&v.root], day30(&v)).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-047", "{err}");
    let err = verify_ek_certificate(
        &v.cert,
        &v.chain,
        &v.ek[..v.ek.len() - 1],
        &[&v.root],
        day30(&v),
    )
    .unwrap_err();
    assert_eq!(err.code(), "LK-ATT-028", "{err}");
}

#[test]
fn malformed_certificates_are_refused() {
    let v = vectors();
    let at = day30(&v);
    let mut trailing = v.cert.clone();
    trailing.push(0);
    for bad in [
        &v.cert[..v.cert.len() - 1],
        &v.cert[..10],
        &[][..],
        &trailing[..],
    ] {
        let err = verify_ek_certificate(bad, &v.chain, &v.ek, &[&v.root], at).unwrap_err();
        assert_eq!(err.code(), "LK-ATT-019", "{err}");
    }
    let err = verify_ek_certificate(&v.cert, &[v.issuer[..50].to_vec()], &v.ek, &[&v.root], at)
        .unwrap_err();
    assert_eq!(err.code(), "LK-ATT-019", "{err}");
    // A flipped byte in the signature: the chain does not verify.
    let mut sig = v.cert.clone();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let err = verify_ek_certificate(&sig, &v.chain, &v.ek, &[&v.root], at).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-024", "{err}");
}

#[test]
fn certificate_without_tpm_attributes_is_refused() {
    let v = vectors();
    let nosan = fixture("ek-cert-nosan.der");
    let at = not_before(&nosan) + Duration::days(1);
    let err = verify_ek_certificate(&nosan, &v.chain, &v.ek, &[&v.root], at).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-048", "{err}");
}

#[test]
fn ecc_ek_certificate_verifies_and_must_match_its_ek() {
    let v = vectors();
    let cert = fixture("ek-ecc-cert.der");
    let ecc = tpm2b_contents(&fixture("ek-ecc.tpm2b_public"))
        .expect("TPM2B")
        .to_vec();
    let at = not_before(&cert) + Duration::days(1);
    let ok = verify_ek_certificate(&cert, &v.chain, &ecc, &[&v.root], at).expect("verifies");
    assert_eq!(ok.tpm.model, "swtpm");
    // The RSA EK against the ECC certificate, and the ECC EK against the RSA one.
    let err = verify_ek_certificate(&cert, &v.chain, &v.ek, &[&v.root], at).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-047", "{err}");
    let err = verify_ek_certificate(&v.cert, &v.chain, &ecc, &[&v.root], day30(&v)).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-047", "{err}");
}
