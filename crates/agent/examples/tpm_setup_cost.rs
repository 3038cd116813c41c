//! What `hello setup` waits for after the PIN prompt with the TPM provider, with and
//! without a pool key, and what a device-side TPM signature costs, on a private swtpm.
//!
//! `cargo run --release -p latchkey-agent --example tpm_setup_cost [RUNS]`
//!
//! Each measurement opens the TPM as the agent does (one connection per operation, the
//! storage primary key recreated or found), so the numbers are what a command waits for:
//!
//! - `create`: a new Hello key made in the TPM (TPM2_Create, RSA-2048): setup without a pool
//!   key.
//! - `pool`: a pool key re-authorised to the PIN (TPM2_ObjectChangeAuth): setup with one.
//! - `device proof`: one device-key signature ([`DeviceKey::prove`], TPM2_Sign).
//! - `hello proof`: one Hello-key signature (TPM2_Sign with the PIN's value); a sign-in
//!   makes two (the PIN check and the proof) plus one device proof.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use latchkey_agent::device_key::DeviceKey;
use latchkey_agent::tpm::swtpm::SwTpm;
use latchkey_agent::tpm::Tpm;
use latchkey_proto::proof::Purpose;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(9);
    let dir = tempfile::tempdir().unwrap();
    let swtpm = SwTpm::start(dir.path()).unwrap();
    let tcti = swtpm.tcti().unwrap();
    let (old, new) = ([7u8; 32], [9u8; 32]);

    let mut create = Vec::new();
    let mut pool = Vec::new();
    let mut hello = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let blob = Tpm::open(&tcti).unwrap().create_hello_key(&new).unwrap();
        create.push(t.elapsed());
        drop(blob);

        // The pool key is made ahead of time (not timed).
        let pooled = Tpm::open(&tcti).unwrap().create_hello_key(&old).unwrap();
        let t = Instant::now();
        let changed = Tpm::open(&tcti)
            .unwrap()
            .change_auth(&pooled, &old, &new)
            .unwrap();
        pool.push(t.elapsed());

        let t = Instant::now();
        Tpm::open(&tcti)
            .unwrap()
            .sign_message(&changed, &new, b"proof message")
            .unwrap();
        hello.push(t.elapsed());
    }
    let device = DeviceKey::create_in_tpm(&tcti).unwrap();
    let mut proofs = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        device
            .prove(Purpose::SignIn, "nonce", &["tenant", "device", "user"])
            .unwrap();
        proofs.push(t.elapsed());
    }
    println!("swtpm, {runs} runs each, medians:");
    println!(
        "  hello setup after the PIN, no pool key (TPM2_Create RSA-2048): {}",
        ms(median(create))
    );
    println!(
        "  hello setup after the PIN, pool key (TPM2_ObjectChangeAuth):  {}",
        ms(median(pool))
    );
    println!(
        "  device proof (TPM2_Sign, device key):                         {}",
        ms(median(proofs))
    );
    println!(
        "  Hello proof (TPM2_Sign, PIN-authorised key):                  {}",
        ms(median(hello))
    );
}
