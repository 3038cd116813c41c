//! Unpadded base64url (RFC 4648 §5), the encoding of every binary field on the wire.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::FormatError;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url strictly (no padding, no whitespace, canonical trailing bits).
pub fn decode(field: &'static str, text: &str) -> Result<Vec<u8>, FormatError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| FormatError::Base64 { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        assert_eq!(
            decode("x", &encode(b"\x00\xffhello")).unwrap(),
            b"\x00\xffhello"
        );
        for bad in ["a", "ab=", "a b", "+/+/", "!!!!"] {
            assert_eq!(
                decode("x", bad),
                Err(FormatError::Base64 { field: "x" }),
                "{bad}"
            );
        }
    }
}
