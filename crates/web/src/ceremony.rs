//! Stateless security-key sign-in ceremonies: `begin` writes nothing, so unauthenticated
//! callers cannot grow the database; the ceremony is recorded (consumed once) only when a
//! sign-in completes.
//!
//! ```text
//! body      = version (1) || expires_at (i64 BE) || id (16, time-ordered) || upn_hash (32)
//! ceremony  = base64url(body || HMAC(nonce secret, "lk-sk-signin-ceremony\0" || body))
//! challenge = HMAC(nonce secret, "lk-sk-signin-challenge\0" || body)
//! ```
//!
//! `upn_hash` is SHA-256 of the normalised user name the caller typed (username-first), or
//! zeros (a discoverable credential, any user). The finish step checks the tag, the expiry
//! on the service clock, and that the key's user has that name; the transaction that
//! starts the session inserts `sk:` and the hex id into `used_nonces`, so a second finish
//! is refused, and expired ids are pruned with the nonces.

use sha2::{Digest, Sha256};

use latchkey_server::clock::Env;
use latchkey_server::error::ApiError;
use latchkey_server::nonce::NonceKey;
use latchkey_server::storage::ConsumedNonce;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 8 + 16 + 32;
const TAG_LEN: usize = 32;
const TOKEN_DOMAIN: &[u8] = b"lk-sk-signin-ceremony\0";
const CHALLENGE_DOMAIN: &[u8] = b"lk-sk-signin-challenge\0";

/// A sign-in ceremony, issued or checked.
#[derive(Debug, Clone)]
pub struct SigninCeremony {
    /// The token the browser sends back (`ceremony`).
    pub token: String,
    /// The WebAuthn challenge.
    pub challenge: Vec<u8>,
    /// What the finishing transaction records as used.
    pub used: ConsumedNonce,
    upn_hash: [u8; 32],
}

fn upn_hash(upn: Option<&str>) -> [u8; 32] {
    upn.map_or([0u8; 32], |u| Sha256::digest(u.as_bytes()).into())
}

impl SigninCeremony {
    /// Starts a ceremony valid `lifetime` seconds, for the user named `upn` if given.
    pub fn issue(
        key: &NonceKey,
        env: &Env,
        upn: Option<&str>,
        lifetime: i64,
    ) -> Result<SigninCeremony, ApiError> {
        let mut body = Vec::with_capacity(BODY_LEN + TAG_LEN);
        body.push(VERSION);
        body.extend_from_slice(&(env.clock.unix() + lifetime).to_be_bytes());
        body.extend_from_slice(&env.time_ordered::<16>()?);
        body.extend_from_slice(&upn_hash(upn));
        let tag = key.mac(TOKEN_DOMAIN, &body);
        let parsed = Self::parse(key, &body)?;
        body.extend_from_slice(&tag);
        Ok(SigninCeremony {
            token: latchkey_proto::b64::encode(&body),
            ..parsed
        })
    }

    fn parse(key: &NonceKey, body: &[u8]) -> Result<SigninCeremony, ApiError> {
        let bad = || ApiError::CeremonyInvalid;
        let expiry: [u8; 8] = body
            .get(1..9)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        let id = body.get(9..25).ok_or_else(bad)?;
        let hash: [u8; 32] = body
            .get(25..BODY_LEN)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        Ok(SigninCeremony {
            token: String::new(),
            challenge: key.mac(CHALLENGE_DOMAIN, body).to_vec(),
            used: ConsumedNonce {
                id: format!("sk:{}", hex::encode(id)),
                expires_at: i64::from_be_bytes(expiry),
            },
            upn_hash: hash,
        })
    }

    /// Checks a ceremony token's authenticity and expiry at `now` (LK-SK-009 otherwise).
    pub fn check(key: &NonceKey, token: &str, now: i64) -> Result<SigninCeremony, ApiError> {
        let bytes = latchkey_proto::b64::decode("ceremony", token)
            .map_err(|_| ApiError::CeremonyInvalid)?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return Err(ApiError::CeremonyInvalid);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        if !key.verify_mac(TOKEN_DOMAIN, body, tag) || body.first() != Some(&VERSION) {
            return Err(ApiError::CeremonyInvalid);
        }
        let mut ceremony = Self::parse(key, body)?;
        if now >= ceremony.used.expires_at {
            return Err(ApiError::CeremonyInvalid);
        }
        ceremony.token = token.to_owned();
        Ok(ceremony)
    }

    /// Whether a key of the user named `upn` may finish this ceremony.
    pub fn admits(&self, upn: &str) -> bool {
        self.upn_hash == [0u8; 32] || self.upn_hash == upn_hash(Some(upn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_server::clock::{ManualClock, SystemRandom};
    use std::sync::Arc;
    use time::macros::datetime;

    fn env() -> (Env, ManualClock) {
        let clock = ManualClock::new(datetime!(2026-01-01 0:00 UTC));
        let env = Env {
            clock: Arc::new(clock.clone()),
            rng: Arc::new(SystemRandom::new()),
        };
        (env, clock)
    }

    #[test]
    fn round_trip_binding_expiry_and_forgery() -> Result<(), ApiError> {
        let (env, clock) = env();
        let key = NonceKey::new(b"secret");
        let now = env.clock.unix();
        let c = SigninCeremony::issue(&key, &env, Some("alice@example.com"), 300)?;
        let back = SigninCeremony::check(&key, &c.token, now)?;
        assert_eq!(back.challenge, c.challenge);
        assert_eq!(back.used, c.used);
        assert!(back.admits("alice@example.com"));
        assert!(!back.admits("bob@example.com"));
        let any = SigninCeremony::issue(&key, &env, None, 300)?;
        assert!(any.admits("bob@example.com"));
        assert_ne!(any.challenge, c.challenge);
        assert!(matches!(
            SigninCeremony::check(&NonceKey::new(b"other"), &c.token, now),
            Err(ApiError::CeremonyInvalid)
        ));
        let mut forged = latchkey_proto::b64::decode("c", &c.token).unwrap_or_default();
        if let Some(b) = forged.get_mut(40) {
            *b ^= 1;
        }
        let forged = latchkey_proto::b64::encode(&forged);
        assert!(SigninCeremony::check(&key, &forged, now).is_err());
        assert!(SigninCeremony::check(&key, "", now).is_err());
        // A nonce of the same key is not a ceremony.
        let (nonce, _) = key.issue(&env, latchkey_proto::proof::Purpose::SignIn)?;
        assert!(SigninCeremony::check(&key, &nonce, now).is_err());
        clock.advance(time::Duration::seconds(300));
        assert!(SigninCeremony::check(&key, &c.token, env.clock.unix()).is_err());
        Ok(())
    }
}
