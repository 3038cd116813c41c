//! `verify_registration` over an arbitrary clientDataJSON and attestationObject, with the
//! fixed options (RP ID, origin, challenge, trust anchors, time) of one real vector.
//!
//! Input: `[case: u8][len: u16 BE][clientDataJSON][attestationObject]`.
#![no_main]

use latchkey_attest::{verify_registration, RegistrationResponse};
use latchkey_fuzz::{pick, registration_cases, take_prefixed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(case) = pick(registration_cases(), &mut data) else {
        return;
    };
    let client_data_json = take_prefixed(&mut data);
    let response = RegistrationResponse {
        client_data_json,
        attestation_object: data,
    };
    if let Ok(v) = verify_registration(&response, &case.expected, &case.policy, case.at) {
        // What was accepted is consistent: the stored COSE key parses back to the same key.
        let again = latchkey_attest::CoseKey::from_bytes(v.public_key_cose())
            .expect("an accepted credential key re-parses");
        assert_eq!(&again, v.public_key());
    }
});
