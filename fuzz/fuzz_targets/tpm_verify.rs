//! The service's TPM verification: TPMT_SIGNATURE (`TpmtSignature::parse`), AIK
//! acceptance (`check_aik_public`), TPM2_MakeCredential over an EK public area
//! (`make_credential`), the Hello key attestation check (`verify_key_attestation`, against
//! a real swtpm AIK) and the EK certificate check (`verify_ek_certificate`, against the real
//! swtpm local CA).
//!
//! Input: `[which: u8][body]`, `which % 5`: 0 signature, 1 AIK public area, 2 EK public
//! area, 3 `[len u16 BE][TPMS_ATTEST][len u16 BE][TPMT_SIGNATURE][key TPMT_PUBLIC]`,
//! 4 EK certificate (DER).
#![no_main]

use std::sync::OnceLock;

use latchkey_attest::chain::TrustAnchor;
use latchkey_attest::tpm::ek::verify_ek_certificate;
use latchkey_attest::tpm::key_attestation::{check_aik_public, verify_key_attestation, AikPublic};
use latchkey_attest::tpm::make_credential::make_credential;
use latchkey_attest::tpm::public::tpm2b_contents;
use latchkey_attest::tpm::signature::TpmtSignature;
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use time::OffsetDateTime;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/attest/tests/fixtures/tpm/"
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).expect("fixture")
}

struct Fixed {
    aik: AikPublic,
    qualifying: Vec<u8>,
    modulus: Vec<u8>,
    ek_public: Vec<u8>,
    anchor: TrustAnchor,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let aik = fixture("ak-rsassa.tpm2b_public");
        let ek = fixture("ek.tpm2b_public");
        let pem = String::from_utf8(fixture("localca-issuer.pem")).expect("PEM");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
            .expect("base64");
        let hex = String::from_utf8(fixture("key-hello.modulus.hex")).expect("hex");
        let hex = hex.trim();
        let modulus = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digit"))
            .collect();
        Fixed {
            aik: check_aik_public(tpm2b_contents(&aik).expect("TPM2B")).expect("AIK"),
            qualifying: fixture("qualifying.bin"),
            modulus,
            ek_public: tpm2b_contents(&ek).expect("TPM2B").to_vec(),
            anchor: TrustAnchor::from_der(der).expect("anchor"),
        }
    })
}

/// `[len u16 BE][bytes]` off the front of `data`.
fn take(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

fuzz_target!(|data: &[u8]| {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    let f = fixed();
    match which % 5 {
        0 => {
            if let Ok(sig) = TpmtSignature::parse(body) {
                let _ = sig.scheme();
                let _ = sig.verify(f.aik.key(), b"message");
            }
        }
        1 => {
            if let Ok(aik) = check_aik_public(body) {
                assert!(aik.name().len() >= 34, "a name of SHA-256 or longer");
            }
        }
        2 => {
            let mut rng = StdRng::seed_from_u64(7);
            let name = f.aik.name().to_vec();
            let _ = make_credential(body, &name, b"0123456789abcdef", &mut rng);
        }
        3 => {
            let Some((attest, rest)) = take(body) else {
                return;
            };
            let Some((sig, key_public)) = take(rest) else {
                return;
            };
            let _ = verify_key_attestation(
                &f.aik,
                attest,
                sig,
                key_public,
                &f.qualifying,
                &f.modulus,
                &[1, 0, 1],
            );
        }
        _ => {
            let at = OffsetDateTime::from_unix_timestamp(1_796_000_000).expect("fixed time");
            let _ = verify_ek_certificate(body, &[], &f.ek_public, &[&f.anchor], at);
        }
    }
});
