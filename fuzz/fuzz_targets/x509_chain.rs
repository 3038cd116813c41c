//! X.509 chain validation (`chain::validate_chain`) over arbitrary DER certificates against
//! fixed anchors (the real roots in the attest fixtures) at a fixed time.
//!
//! Input: a sequence of `[len: u16 BE][DER]` certificates, leaf first (at most 8 are read).
#![no_main]

use std::sync::OnceLock;

use latchkey_attest::chain::validate_chain;
use latchkey_attest::TrustAnchor;
use latchkey_fuzz::{fixtures, take_prefixed};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn anchors() -> &'static [TrustAnchor] {
    static ANCHORS: OnceLock<Vec<TrustAnchor>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(fixtures().join("roots")).expect("roots dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "pem") {
                let pem = std::fs::read(&path).expect("root file");
                out.push(TrustAnchor::from_pem(&pem).expect("root parses"));
            }
        }
        out.sort_by(|a, b| a.subject().cmp(b.subject()));
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let mut x5c = Vec::new();
    while !data.is_empty() && x5c.len() < 8 {
        x5c.push(take_prefixed(&mut data).to_vec());
    }
    let all: Vec<&TrustAnchor> = anchors().iter().collect();
    // 2024-01-01: inside the validity of the vectors' chains.
    let at = OffsetDateTime::from_unix_timestamp(1_704_067_200).expect("fixed time");
    let _ = validate_chain(&x5c, &all, at);
    // Also the anchor's own DER as an anchor input.
    for cert in &x5c {
        let _ = TrustAnchor::from_der(cert.clone());
    }
});
