//! COSE_Key (CBOR) parsing: `CoseKey::from_bytes`.
//!
//! Property: no panic, and parsing is deterministic.
#![no_main]

use latchkey_attest::CoseKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = CoseKey::from_bytes(data) {
        assert_eq!(CoseKey::from_bytes(data).ok(), Some(key));
    }
});
