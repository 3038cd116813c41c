//! Nonces: stateless, HMAC-authenticated, bound to a purpose, valid five minutes, single use.
//!
//! A nonce is `base64url(version || purpose || expiry (i64 BE) || id (16 bytes) ||
//! HMAC-SHA256(tenant nonce secret, the preceding bytes))`; the id is the issue time in
//! nanoseconds and 8 random bytes, so used ids are appended to their index in time order
//! (see [`Env::time_ordered`]). Checking it needs no database
//! read; single use is enforced by inserting its id into `used_nonces` inside the
//! transaction that consumes it (a second insert is a replay). Expired ids are pruned.

use latchkey_proto::proof::Purpose;
use ring::hmac;

use crate::clock::Env;
use crate::error::ApiError;
use crate::storage::ConsumedNonce;

/// How long a nonce is valid, in seconds.
pub const NONCE_LIFETIME_SECS: i64 = 300;
const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 1 + 8 + 16;
const TAG_LEN: usize = 32;

/// The tenant's nonce authenticator.
pub struct NonceKey(hmac::Key);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

fn purpose_byte(purpose: Purpose) -> u8 {
    match purpose {
        Purpose::Join => 1,
        Purpose::RegisterKey => 2,
        Purpose::SignIn => 3,
        Purpose::RenewPrt => 4,
        Purpose::Leave => 5,
        Purpose::PolicySync => 6,
        Purpose::Token => 7,
        Purpose::TpmActivate => 8,
        Purpose::CertEnroll => 9,
        Purpose::CertRenew => 10,
        Purpose::PinReset => 11,
    }
}

impl NonceKey {
    /// A key from the tenant's stored secret.
    pub fn new(secret: &[u8]) -> NonceKey {
        NonceKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// HMAC-SHA256 of `data` under the tenant's nonce secret, separated by `domain` (a
    /// NUL-terminated label, never the first byte of a nonce body) from nonces and from
    /// other uses.
    pub fn mac(&self, domain: &[u8], data: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(domain);
        ctx.update(data);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Whether `tag` is [`NonceKey::mac`] of `data` in `domain` (constant time).
    pub fn verify_mac(&self, domain: &[u8], data: &[u8], tag: &[u8]) -> bool {
        let mut input = Vec::with_capacity(domain.len() + data.len());
        input.extend_from_slice(domain);
        input.extend_from_slice(data);
        hmac::verify(&self.0, &input, tag).is_ok()
    }

    /// Issues a nonce for `purpose`; returns it and its expiry (Unix seconds).
    pub fn issue(&self, env: &Env, purpose: Purpose) -> Result<(String, i64), ApiError> {
        let expires_at = env.clock.unix() + NONCE_LIFETIME_SECS;
        let mut bytes = Vec::with_capacity(BODY_LEN + TAG_LEN);
        bytes.push(VERSION);
        bytes.push(purpose_byte(purpose));
        bytes.extend_from_slice(&expires_at.to_be_bytes());
        bytes.extend_from_slice(&env.time_ordered::<16>()?);
        let tag = hmac::sign(&self.0, &bytes);
        bytes.extend_from_slice(tag.as_ref());
        Ok((latchkey_proto::b64::encode(&bytes), expires_at))
    }

    /// Checks a nonce's authenticity, purpose and expiry (not yet its single use, which the
    /// consuming transaction enforces with the returned [`ConsumedNonce`]).
    pub fn check(
        &self,
        nonce: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<ConsumedNonce, ApiError> {
        let bytes =
            latchkey_proto::b64::decode("nonce", nonce).map_err(|_| ApiError::NonceInvalid)?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return Err(ApiError::NonceInvalid);
        }
        let Some((body, tag)) = bytes.split_at_checked(BODY_LEN) else {
            return Err(ApiError::NonceInvalid);
        };
        hmac::verify(&self.0, body, tag).map_err(|_| ApiError::NonceInvalid)?;
        // The body: version (1), purpose (1), expiry (8, big-endian), id (16).
        let Some((&[version, purpose_tag], rest)) = body.split_first_chunk::<2>() else {
            return Err(ApiError::NonceInvalid);
        };
        let Some((expiry, id)) = rest.split_first_chunk::<8>() else {
            return Err(ApiError::NonceInvalid);
        };
        if version != VERSION {
            return Err(ApiError::NonceInvalid);
        }
        if purpose_tag != purpose_byte(purpose) {
            return Err(ApiError::NonceWrongPurpose);
        }
        let expires_at = i64::from_be_bytes(*expiry);
        if now >= expires_at {
            return Err(ApiError::NonceExpired);
        }
        Ok(ConsumedNonce {
            id: hex::encode(id),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, SystemRandom};
    use std::sync::Arc;
    use time::macros::datetime;

    fn env() -> (Env, ManualClock) {
        let clock = ManualClock::new(datetime!(2025-01-01 0:00 UTC));
        let env = Env {
            clock: Arc::new(clock.clone()),
            rng: Arc::new(SystemRandom::new()),
        };
        (env, clock)
    }

    #[test]
    fn checks_authenticity_purpose_and_expiry() -> Result<(), ApiError> {
        let (env, clock) = env();
        let key = NonceKey::new(b"secret");
        let (nonce, exp) = key.issue(&env, Purpose::SignIn)?;
        assert_eq!(exp, env.clock.unix() + 300);
        let consumed = key.check(&nonce, Purpose::SignIn, env.clock.unix())?;
        assert_eq!(consumed.expires_at, exp);
        assert!(matches!(
            key.check(&nonce, Purpose::Join, env.clock.unix()),
            Err(ApiError::NonceWrongPurpose)
        ));
        assert!(matches!(
            NonceKey::new(b"other").check(&nonce, Purpose::SignIn, env.clock.unix()),
            Err(ApiError::NonceInvalid)
        ));
        assert!(matches!(
            key.check("garbage!", Purpose::SignIn, env.clock.unix()),
            Err(ApiError::NonceInvalid)
        ));
        clock.advance(time::Duration::seconds(300));
        assert!(matches!(
            key.check(&nonce, Purpose::SignIn, env.clock.unix()),
            Err(ApiError::NonceExpired)
        ));
        Ok(())
    }
}
