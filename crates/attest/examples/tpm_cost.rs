//! What the service's TPM checks cost, one at a time on one core, against a cost line: one
//! RSA-2048 PKCS#1 v1.5 signature verification by `ring` (what a Hello sign-in's assertion
//! check costs). Inputs are the real swtpm fixtures in `tests/fixtures/tpm/`.
//!
//! `cargo run --release -p latchkey-attest --example tpm_cost [-- N]` (N runs each, 2000
//! by default), in nine interleaved rounds. Prints a Markdown table: operation | median µs
//! each | median ratio to the cost line within a round.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::Instant;

use latchkey_attest::chain::TrustAnchor;
use latchkey_attest::tpm::ek::verify_ek_certificate;
use latchkey_attest::tpm::key_attestation::{check_aik_public, verify_key_attestation};
use latchkey_attest::tpm::make_credential::make_credential;
use latchkey_attest::tpm::public::tpm2b_contents;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use time::OffsetDateTime;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/tpm/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect(name)
}

fn der_of_pem(pem: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(pem.to_vec()).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap()
}

fn hex(text: &[u8]) -> Vec<u8> {
    let t = String::from_utf8(text.to_vec()).unwrap();
    let t = t.trim();
    (0..t.len() / 2)
        .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Microseconds per run of `f` over `n` runs (after `n / 10` warm-up runs).
fn per_run(n: u32, mut f: impl FnMut() -> bool) -> f64 {
    for _ in 0..n / 10 {
        assert!(f());
    }
    let start = Instant::now();
    for _ in 0..n {
        assert!(f(), "a timed operation failed");
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let aik_area = tpm2b_contents(&fixture("ak-rsassa.tpm2b_public"))
        .unwrap()
        .to_vec();
    let aik = check_aik_public(&aik_area).unwrap();
    let attest = fixture("certify-hello-rsassa.attest");
    let sig = fixture("certify-hello-rsassa.sig");
    let key_area = tpm2b_contents(&fixture("key-hello.tpm2b_public"))
        .unwrap()
        .to_vec();
    let qualifying = fixture("qualifying.bin");
    let modulus = hex(&fixture("key-hello.modulus.hex"));
    let ek_area = tpm2b_contents(&fixture("ek.tpm2b_public"))
        .unwrap()
        .to_vec();
    let ek_cert = fixture("ek-cert.der");
    let issuer = der_of_pem(&fixture("localca-issuer.pem"));
    let root = TrustAnchor::from_der(der_of_pem(&fixture("localca-root.pem"))).unwrap();
    let at = OffsetDateTime::now_utc();

    // The cost line: ring verifying an RSA-2048 signature; the certify's own signature by
    // the (RSA-2048, RSASSA SHA-256) AIK is one such verification.
    let aik_modulus = match &aik.public().key {
        latchkey_attest::tpm::public::TpmKey::Rsa { modulus, .. } => modulus.clone(),
        _ => unreachable!("RSA AIK fixture"),
    };
    let sig_parsed = latchkey_attest::tpm::signature::TpmtSignature::parse(&sig).unwrap();
    let raw_sig = match &sig_parsed {
        latchkey_attest::tpm::signature::TpmtSignature::RsaSsa { sig, .. } => sig.clone(),
        _ => unreachable!("RSASSA certify fixture"),
    };
    let components = RsaPublicKeyComponents {
        n: aik_modulus,
        e: vec![1, 0, 1],
    };
    // Interleaved rounds (this machine's speed varies from one second to the next): each
    // round times every operation for n / ROUNDS runs; the table shows the medians.
    const ROUNDS: usize = 9;
    let per = (n / ROUNDS as u32).max(10);
    let mut rng = rand::rngs::OsRng;
    let mut samples: Vec<[f64; 5]> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let cost_line = per_run(per, || {
            components
                .verify(&RSA_PKCS1_2048_8192_SHA256, &attest, &raw_sig)
                .is_ok()
        });
        let certify = per_run(per, || {
            verify_key_attestation(
                &aik,
                &attest,
                &sig,
                &key_area,
                &qualifying,
                &modulus,
                &[1, 0, 1],
            )
            .is_ok()
        });
        let aik_check = per_run(per, || check_aik_public(&aik_area).is_ok());
        let ek = per_run(per, || {
            verify_ek_certificate(
                &ek_cert,
                std::slice::from_ref(&issuer),
                &ek_area,
                &[&root],
                at,
            )
            .is_ok()
        });
        let made = per_run(per, || {
            make_credential(
                &ek_area,
                aik.name(),
                b"0123456789abcdef0123456789abcdef",
                &mut rng,
            )
            .is_ok()
        });
        samples.push([cost_line, certify, aik_check, ek, made]);
    }
    let median = |i: usize| {
        let mut v: Vec<f64> = samples.iter().map(|s| s[i]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = |i: usize| {
        let mut v: Vec<f64> = samples.iter().map(|s| s[i] / s[0]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let cost_line = median(0);
    println!("| operation | median µs each | median ratio to the cost line |");
    println!("|---|---|---|");
    let row = |what: &str, i: usize| println!("| {what} | {:.1} | {:.2} |", median(i), ratio(i));
    println!("| cost line: RSA-2048 PKCS#1 v1.5 verify (ring) | {cost_line:.1} | 1.00 |");
    row(
        "registration: Hello key certify check (`verify_key_attestation`)",
        1,
    );
    row("activation begin: AIK acceptance (`check_aik_public`)", 2);
    row(
        "activation begin: EK certificate chain (`verify_ek_certificate`)",
        3,
    );
    row(
        "activation begin: MakeCredential, RSA-2048 EK (`make_credential`)",
        4,
    );
}
