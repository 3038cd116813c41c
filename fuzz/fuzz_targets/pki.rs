//! The certificate-trust parsers of `latchkey-pki`, from arbitrary bytes: a PKCS#10
//! request (`verify_request`, what a device sends), a countersigned request as the issuing
//! CA reads it (`IssuingCa::issue`: CMS SignedData, the RA certificate, the profile, the
//! embedded request), and an OCSP request (`IssuingCa::ocsp_response`, what anyone may
//! send the public responder). The first byte picks the parser; the rest is the input.
//!
//! Properties: no panic; a request that verifies names a key the parser can read back;
//! the responder answers every input with an OCSPResponse (a DER SEQUENCE).
#![no_main]

use std::sync::OnceLock;

use latchkey_pki::{verify_request, CaAlgorithm, CertStatus, IssuingCa, TenantCa};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

struct Authorities {
    root: TenantCa,
    issuing: IssuingCa,
    now: OffsetDateTime,
}

fn authorities() -> &'static Authorities {
    static CELL: OnceLock<Authorities> = OnceLock::new();
    CELL.get_or_init(|| {
        let now = OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("a fixed time");
        let root = TenantCa::create("Fuzz", now).expect("root");
        let issuing = IssuingCa::create(&root, "Fuzz", CaAlgorithm::EcdsaP256, now).expect("CA");
        Authorities { root, issuing, now }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((which, input)) = data.split_first() else {
        return;
    };
    let a = authorities();
    match which % 3 {
        0 => {
            if let Ok(request) = verify_request(input) {
                assert!(!request.spki_der.is_empty());
            }
        }
        1 => {
            let _ = a.issuing.issue(input, a.root.cert_der(), a.now);
        }
        _ => {
            let mut status = |serial: &[u8]| {
                if serial.first().is_some_and(|b| b % 2 == 0) {
                    CertStatus::Good
                } else {
                    CertStatus::Unknown
                }
            };
            let answer = a.issuing.ocsp_response(input, &mut status, a.now, a.now);
            assert_eq!(answer.first(), Some(&0x30), "an OCSPResponse is a SEQUENCE");
        }
    }
});
