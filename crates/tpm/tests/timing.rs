//! Timings on swtpm, for the report and docs/PERFORMANCE.md (not a timed test: run with
//! `cargo test -p latchkey-tpm --features swtpm --release --test timing -- --ignored --nocapture`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::Instant;

#[test]
#[ignore = "a measurement, not a test"]
fn time_hello_key_creation_and_signing() {
    let fx = common::swtpm();
    let mut tpm = fx.open();
    let start = Instant::now();
    tpm.srk_source().unwrap();
    println!("SRK recreated from the template: {:?}", start.elapsed());
    const N: u32 = 20;
    let start = Instant::now();
    let mut keys = Vec::new();
    for _ in 0..N {
        keys.push(tpm.create_hello_key(b"123456").unwrap());
    }
    println!(
        "Hello key creation: {:?} per key (mean of {N})",
        start.elapsed() / N
    );
    let start = Instant::now();
    for key in &keys {
        tpm.sign_message(key, b"123456", b"proof").unwrap();
    }
    println!(
        "sign (load + sign + flush): {:?} per signature (mean of {N})",
        start.elapsed() / N
    );
    let start = Instant::now();
    let changed = tpm.change_auth(&keys[0], b"123456", b"654321").unwrap();
    println!("change_auth: {:?}", start.elapsed());
    let start = Instant::now();
    let aik = tpm.create_aik().unwrap();
    println!("AIK creation (EK recreated): {:?}", start.elapsed());
    let start = Instant::now();
    tpm.certify(&changed, b"654321", &aik, b"nonce").unwrap();
    println!("certify: {:?}", start.elapsed());
}
