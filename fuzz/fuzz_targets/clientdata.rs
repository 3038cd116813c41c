//! clientDataJSON: `clientdata::check` for both ceremonies against fixed expectations.
//!
//! Property: what is accepted names an expected origin and hashes the exact input bytes.
#![no_main]

use latchkey_attest::clientdata::{check, Ceremony};
use latchkey_attest::Expected;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let expected = Expected::new(
        "example.com",
        "https://example.com",
        b"fuzz-challenge".to_vec(),
    );
    for ceremony in [Ceremony::Create, Ceremony::Get] {
        for cross in [false, true] {
            if let Ok(c) = check(data, ceremony, &expected, cross) {
                assert!(expected.origins.contains(&c.origin));
                assert_eq!(c.hash.len(), 32);
            }
        }
    }
});
