//! EK, AIK, certify and credential activation on a real swtpm, checked by the service's
//! parser (latchkey-attest), x509-parser, ring, openssl and tpm2-tools.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::process::Command;

use common::{ring_verify, swtpm};
use latchkey_attest::tpm::attest::{
    Attested, TpmsAttest, TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY,
};
use latchkey_attest::tpm::{object_name, verify_certify, ALG_SHA256};
use x509_parser::prelude::*;

#[test]
fn the_ek_certificate_certifies_the_ek_and_chains_to_the_local_ca() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let ek = tpm.endorsement().unwrap();
    let (rest, cert) = X509Certificate::from_der(&ek.certificate).unwrap();
    assert!(rest.is_empty());
    let x509_parser::public_key::PublicKey::RSA(rsa) = cert.public_key().parsed().unwrap() else {
        panic!("EK certificate key is not RSA");
    };
    let strip = |b: &[u8]| {
        b.iter()
            .skip_while(|x| **x == 0)
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(rsa.modulus), ek.rsa.modulus);
    assert_eq!(strip(rsa.exponent), ek.rsa.exponent);
    // The EK's public area is the TCG default template: restricted decrypt, fixedTPM.
    let area = latchkey_attest::tpm::public::TpmtPublic::parse(&ek.public_area).unwrap();
    assert!(area.attributes.fixed_tpm() && area.attributes.restricted());
    assert!(
        !area.attributes.user_with_auth(),
        "the EK is used through its policy"
    );

    // openssl verifies the chain to the manufacturer root the harness exposes.
    let pem = fx.dir.path().join("ek.der");
    std::fs::write(&pem, &ek.certificate).unwrap();
    let converted = fx.dir.path().join("ek.pem");
    let ok = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&converted)
        .status()
        .unwrap();
    assert!(ok.success());
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(fx.swtpm.manufacturer_root())
        .arg("-untrusted")
        .arg(fx.swtpm.manufacturer_intermediate())
        .arg(&converted)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn certify_output_parses_in_the_service_verifier_and_names_the_key() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let aik = tpm.create_aik().unwrap();
    let key = tpm.create_hello_key(b"").unwrap();
    let nonce = b"registration nonce 0123456789abc";
    let cert = tpm.certify(&key, b"", &aik, nonce).unwrap();

    let attest = TpmsAttest::parse(&cert.attest).unwrap();
    assert_eq!(attest.magic, TPM_GENERATED_VALUE);
    assert_eq!(attest.attest_type, TPM_ST_ATTEST_CERTIFY);
    assert_eq!(attest.extra_data, nonce);
    let key_area = key.public_area().unwrap();
    let Attested::Certify { name, .. } = &attest.attested else {
        panic!("not a certify");
    };
    assert_eq!(*name, object_name(ALG_SHA256, &key_area).unwrap());
    assert_eq!(*name, key.name().unwrap());
    verify_certify(&attest, &key_area, nonce).unwrap();
    // Another key's public area or another nonce does not pass.
    let other = tpm.create_hello_key(b"").unwrap();
    assert!(verify_certify(&attest, &other.public_area().unwrap(), nonce).is_err());
    assert!(verify_certify(&attest, &key_area, b"another nonce").is_err());

    // TPMT_SIGNATURE: sigAlg RSASSA (0x0014), hash SHA-256 (0x000b), TPM2B signature; the
    // AIK's signature over exactly the TPMS_ATTEST bytes, checked with ring.
    assert_eq!(&cert.signature[..4], &[0x00, 0x14, 0x00, 0x0b]);
    assert_eq!(&cert.signature[4..6], &[0x01, 0x00]);
    assert_eq!(cert.signature.len(), 6 + 256);
    let aik_public = aik.rsa_public().unwrap();
    assert!(ring_verify(&aik_public, &cert.attest, &cert.signature[6..]));

    // The AIK is restricted (the service requires it).
    let aik_area =
        latchkey_attest::tpm::public::TpmtPublic::parse(&aik.public_area().unwrap()).unwrap();
    assert!(aik_area.attributes.restricted() && aik_area.attributes.sign());

    // The key's PIN guards certify too: a wrong one is refused and counted.
    let pinned = tpm.create_hello_key(b"1234").unwrap();
    assert_eq!(
        tpm.certify(&pinned, b"0000", &aik, nonce)
            .unwrap_err()
            .code(),
        "LK-TPM-003"
    );
    assert_eq!(tpm.dictionary_attack_state().unwrap().counter, 1);
}

/// Parse tpm2_makecredential's output file: magic 0xBADCC0DE, version 1, then
/// TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET.
fn split_credential_file(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(&bytes[..8], &[0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1]);
    let rest = &bytes[8..];
    let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    let (id, rest) = rest.split_at(2 + n);
    let m = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    assert_eq!(rest.len(), 2 + m);
    (id.to_vec(), rest.to_vec())
}

fn make_credential(
    dir: &std::path::Path,
    ek_tpm2b: &[u8],
    name: &[u8],
    secret: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let ek_path = dir.join("ek.pub");
    let secret_path = dir.join("secret.bin");
    let out_path = dir.join("cred.out");
    std::fs::write(&ek_path, ek_tpm2b).unwrap();
    std::fs::write(&secret_path, secret).unwrap();
    let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("tpm2_makecredential")
        .args(["--tcti", "none", "-u"])
        .arg(&ek_path)
        .arg("-s")
        .arg(&secret_path)
        .arg("-n")
        .arg(hex)
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    split_credential_file(&std::fs::read(&out_path).unwrap())
}

#[test]
fn activate_credential_recovers_a_secret_made_by_tpm2_makecredential() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let ek = tpm.endorsement().unwrap();
    let aik = tpm.create_aik().unwrap();
    let secret = b"the service's activation secret!";
    let (id, enc) = make_credential(
        fx.dir.path(),
        &ek.public_tpm2b,
        &aik.name().unwrap(),
        secret,
    );
    assert_eq!(tpm.activate_credential(&aik, &id, &enc).unwrap(), secret);

    // A credential for another key's name does not activate with this AIK.
    let other = tpm.create_aik().unwrap();
    let (id2, enc2) = make_credential(
        fx.dir.path(),
        &ek.public_tpm2b,
        &other.name().unwrap(),
        secret,
    );
    let err = tpm.activate_credential(&aik, &id2, &enc2).unwrap_err();
    assert_eq!(err.code(), "LK-TPM-008", "{err}");
    // The other AIK does get it.
    assert_eq!(
        tpm.activate_credential(&other, &id2, &enc2).unwrap(),
        secret
    );

    // Malformed TPM2B sizes are refused before the TPM.
    let mut bad = id.clone();
    bad.push(0);
    assert_eq!(
        tpm.activate_credential(&aik, &bad, &enc)
            .unwrap_err()
            .code(),
        "LK-TPM-006"
    );
}

#[test]
fn a_credential_for_another_tpms_ek_does_not_activate() {
    let a = swtpm();
    let b = swtpm();
    let ek_b = b.open().endorsement().unwrap();
    let mut tpm_a = a.open();
    let aik = tpm_a.create_aik().unwrap();
    let (id, enc) = make_credential(a.dir.path(), &ek_b.public_tpm2b, &aik.name().unwrap(), b"s");
    let err = tpm_a.activate_credential(&aik, &id, &enc).unwrap_err();
    assert_eq!(err.code(), "LK-TPM-008", "{err}");
}
