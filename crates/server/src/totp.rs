//! RFC 6238 time-based one-time codes: HMAC-SHA-1, 6 digits, 30-second steps (what
//! authenticator apps expect), one step of drift accepted either way.

use ring::hmac;

/// Step length in seconds.
pub const PERIOD: i64 = 30;
/// Number of digits.
pub const DIGITS: u32 = 6;
/// Length of a generated secret in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// The time step containing `unix_seconds`.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(PERIOD)
}

/// The code for `step` (RFC 4226 HOTP with the step as counter).
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    // Dynamic truncation (RFC 4226 5.3): the low nibble of the last byte picks four bytes,
    // read big-endian without the top bit. An HMAC-SHA-1 tag is 20 bytes, so the last byte
    // exists and the four bytes (offset <= 15) are always inside it.
    let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
    let binary = mac
        .iter()
        .skip(offset)
        .take(4)
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
        & 0x7fff_ffff;
    format!("{:06}", binary % 10u32.pow(DIGITS))
}

/// The step (within ±1 of now) whose code equals `code`, if any. Compares in constant time.
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: i64) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        let expected = code_for_step(secret, step);
        if crate::crypto::secrets_equal(expected.as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding (the `secret=` of an otpauth URI).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_digit(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(base32_digit(buffer << (5 - bits)));
    }
    out
}

/// The base32 digit (alphabet `A`-`Z`, `2`-`7`) of the low five bits of `value`.
fn base32_digit(value: u32) -> char {
    let v = (value & 31) as u8;
    char::from(if v < 26 { b'A' + v } else { b'2' + (v - 26) })
}

/// The `otpauth://` URI that authenticator apps import, labelled `ISSUER:UPN` (the issuer is
/// the tenant's name).
pub fn otpauth_uri(issuer: &str, upn: &str, secret: &[u8]) -> String {
    let issuer = uri_escape(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        uri_escape(upn),
        base32(secret)
    )
}

/// Percent-encodes everything but unreserved characters and `@` (so `:` and spaces in a
/// tenant name cannot break the label's `issuer:account` form).
fn uri_escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 secret, last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_for_step(secret, step_at(59)), "287082");
        assert_eq!(code_for_step(secret, step_at(1111111109)), "081804");
        assert_eq!(code_for_step(secret, step_at(2000000000)), "279037");
    }

    #[test]
    fn accepts_one_step_of_drift() {
        let secret = b"12345678901234567890";
        let now = 1_000_000_000;
        let code = code_for_step(secret, step_at(now) - 1);
        assert_eq!(matching_step(secret, &code, now), Some(step_at(now) - 1));
        let old = code_for_step(secret, step_at(now) - 2);
        assert_eq!(matching_step(secret, &old, now), None);
        assert_eq!(matching_step(secret, "12345", now), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        // RFC 4648 section 10 (without padding), and both ends of the alphabet.
        for (input, encoded) in [
            (&b""[..], ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (&[0xff; 5], "77777777"),
            (&[0x00; 5], "AAAAAAAA"),
            (&[0x00, 0x44, 0x32, 0x14, 0xc7], "ABCDEFGH"),
        ] {
            assert_eq!(base32(input), encoded);
        }
        let uri = otpauth_uri("Latchkey", "a b@x.com", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Latchkey:a%20b@x.com?secret=MZXW6YTBOI&issuer=Latchkey&algorithm=SHA1&digits=6&period=30"
        );
        let uri = otpauth_uri("Contoso: Paris & Co", "a@x.com", b"foobar");
        assert!(
            uri.starts_with("otpauth://totp/Contoso%3A%20Paris%20%26%20Co:a@x.com?secret=")
                && uri.contains("&issuer=Contoso%3A%20Paris%20%26%20Co&"),
            "{uri}"
        );
    }
}
