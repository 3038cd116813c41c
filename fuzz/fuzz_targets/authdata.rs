//! WebAuthn authenticator data: `AuthenticatorData::parse` (flags, counter, attested
//! credential data with its CBOR COSE key, CBOR extensions).
//!
//! Property: the attested credential's raw COSE bytes parse to the key reported.
#![no_main]

use latchkey_attest::authdata::AuthenticatorData;
use latchkey_attest::CoseKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(auth) = AuthenticatorData::parse(data) {
        assert_eq!(auth.flags.attested_data(), auth.attested.is_some());
        if let Some(cred) = &auth.attested {
            let key = CoseKey::from_bytes(&cred.public_key_cose).expect("raw COSE key re-parses");
            assert_eq!(key, cred.public_key);
        }
    }
});
