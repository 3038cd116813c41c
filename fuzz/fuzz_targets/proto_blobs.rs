//! The protocol's binary formats: BCRYPT_RSAKEY_BLOB (`RsaPublicBlob::from_bytes`),
//! KEYCREDENTIALLINK_BLOB (`key_credential_link::parse_entries`) and base64url (`b64`).
//!
//! Input: `[which: u8][bytes]`; `which % 3` selects the format.
//! Properties (round trips): a parsed RSA blob encodes to exactly the input; a parsed
//! KeyCredentialLink blob is exactly its entries re-encoded; decoded base64url re-encodes
//! to exactly the input text.
#![no_main]

use latchkey_proto::bcrypt::RsaPublicBlob;
use latchkey_proto::{b64, key_credential_link};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(blob) = RsaPublicBlob::from_bytes(body) {
                assert_eq!(blob.to_bytes(), body, "RSA blob does not round-trip");
                let _ = blob.key_id();
            }
        }
        1 => {
            if let Ok(entries) = key_credential_link::parse_entries(body) {
                let mut out = key_credential_link::VERSION.to_le_bytes().to_vec();
                for (id, value) in &entries {
                    let len = u16::try_from(value.len()).expect("entry length fits u16");
                    out.extend_from_slice(&len.to_le_bytes());
                    out.push(*id);
                    out.extend_from_slice(value);
                }
                assert_eq!(out, body, "KeyCredentialLink blob does not round-trip");
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body) {
                if let Ok(bytes) = b64::decode("fuzz", text) {
                    assert_eq!(b64::encode(&bytes), text, "base64url is not canonical");
                }
            }
        }
    }
});
