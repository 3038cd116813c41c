//! An independent RFC 6238 TOTP generator (HMAC-SHA-1, 6 digits, 30 s) for the tests, so the
//! service's implementation is checked against a second one.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::{SystemTime, UNIX_EPOCH};

/// A user's TOTP secret, and the steps the tests have already spent.
pub struct Totp {
    secret: Vec<u8>,
    last_step: std::cell::Cell<Option<u64>>,
}

impl Totp {
    /// Parses `otpauth://totp/...?secret=BASE32&...`, checking the parameters authenticator
    /// apps expect.
    pub fn from_uri(uri: &str) -> Self {
        assert!(uri.starts_with("otpauth://totp/"), "not a TOTP URI: {uri}");
        let query = uri.split_once('?').expect("query").1;
        let mut secret = None;
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').expect("key=value");
            match k {
                "secret" => secret = Some(base32_decode(v)),
                "algorithm" => assert_eq!(v, "SHA1"),
                "digits" => assert_eq!(v, "6"),
                "period" => assert_eq!(v, "30"),
                _ => {}
            }
        }
        let secret = secret.expect("secret parameter");
        assert!(secret.len() >= 16, "TOTP secret shorter than 128 bits");
        Totp {
            secret,
            last_step: std::cell::Cell::new(None),
        }
    }

    /// The code for `step` (RFC 4226 HOTP over the time step).
    pub fn code_at_step(&self, step: u64) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.secret).unwrap();
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = (digest[19] & 0x0f) as usize;
        let value = u32::from_be_bytes([
            digest[offset],
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]) & 0x7fff_ffff;
        format!("{:06}", value % 1_000_000)
    }

    /// The current step.
    pub fn now_step() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 30
    }

    /// A code the service has not seen yet, for a step later than any used before (the
    /// service accepts one step of clock skew either way and refuses a step once used).
    /// The previous step's code is good only until the current step ends, so it is chosen
    /// only with 20 s of that left: a slow machine must not carry a code out of the window
    /// between here and the service's check. When the steps around now are spent, waits on
    /// the wall clock (which the service under test also reads) for the next one.
    pub fn fresh(&self) -> String {
        loop {
            let seconds = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let now = seconds / 30;
            let earliest = if seconds % 30 < 10 { now - 1 } else { now };
            let step = match self.last_step.get() {
                Some(last) => earliest.max(last + 1),
                None => earliest,
            };
            if step <= now + 1 {
                self.last_step.set(Some(step));
                return self.code_at_step(step);
            }
            std::thread::sleep(std::time::Duration::from_secs(30 - seconds % 30));
        }
    }

    /// A code that is certainly wrong now.
    pub fn wrong(&self) -> String {
        let now = Self::now_step();
        let valid: Vec<String> = (now - 2..=now + 2).map(|s| self.code_at_step(s)).collect();
        (0..1_000_000)
            .map(|n| format!("{n:06}"))
            .find(|c| !valid.contains(c))
            .unwrap()
    }
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("base32 character") as u64;
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 secret "12345678901234567890", last 6 digits.
        let t = Totp {
            secret: b"12345678901234567890".to_vec(),
            last_step: std::cell::Cell::new(None),
        };
        assert_eq!(t.code_at_step(59 / 30), "287082");
        assert_eq!(t.code_at_step(1_111_111_109 / 30), "081804");
        assert_eq!(t.code_at_step(1_234_567_890 / 30), "005924");
        assert_eq!(t.code_at_step(20_000_000_000 / 30), "353130");
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32_decode("MZXW6YTBOI======"), b"foobar");
        assert_eq!(base32_decode("MY"), b"f");
    }
}
