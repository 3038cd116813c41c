//! `verify_assertion` over arbitrary clientDataJSON, authenticatorData and signature, with the
//! fixed options and stored credential of one real vector.
//!
//! Input: `[case: u8][len: u16 BE][clientDataJSON][len: u16 BE][authenticatorData][signature]`.
#![no_main]

use latchkey_attest::{verify_assertion, AssertionResponse};
use latchkey_fuzz::{assertion_cases, pick, take_prefixed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(case) = pick(assertion_cases(), &mut data) else {
        return;
    };
    let client_data_json = take_prefixed(&mut data);
    let authenticator_data = take_prefixed(&mut data);
    let response = AssertionResponse {
        credential_id: &case.credential.credential_id,
        client_data_json,
        authenticator_data,
        signature: data,
    };
    let _ = verify_assertion(&response, &case.expected, &case.credential, &case.options);
});
