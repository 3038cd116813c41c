//! ES256 JSON Web Tokens: signing with the tenant key (a ring key pair parsed once and kept
//! in memory) and verification of enrolment tokens with `jsonwebtoken`. Times are checked
//! against the service clock, not the system clock.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use latchkey_proto::b64;
use latchkey_proto::claims::TokenClaims;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Audience of enrolment tokens.
pub const ENROLLMENT_AUDIENCE: &str = "urn:latchkey:enrollment";
/// Audience of ID tokens (the device agent is the client).
pub const ID_TOKEN_AUDIENCE: &str = "urn:latchkey:agent";
/// Audience of the access token a sign-in returns.
pub const DEFAULT_AUDIENCE: &str = "urn:latchkey:api";
/// Longest audience accepted by `POST /v1/token` and `latchkeyd resource add`.
pub const MAX_AUDIENCE: usize = 512;
/// Lifetime of enrolment tokens (seconds).
pub const ENROLLMENT_LIFETIME_SECS: i64 = 600;
/// Lifetime of ID and access tokens (seconds).
pub const ACCESS_LIFETIME_SECS: i64 = 3600;
/// Clock skew allowed when checking `nbf`.
const LEEWAY_SECS: i64 = 60;

/// The `typ` claim values.
pub mod typ {
    /// Enrolment token.
    pub const ENROLLMENT: &str = "enrollment";
    /// ID token.
    pub const ID: &str = "id";
    /// Access token.
    pub const ACCESS: &str = "access";
}

/// The tenant's token-signing key.
pub struct TokenKeys {
    kid: String,
    signing: EcdsaKeyPair,
    decoding: DecodingKey,
    x: String,
    y: String,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl TokenKeys {
    /// Generates a new P-256 signing key; returns its PKCS#8 DER.
    pub fn generate_pkcs8() -> Result<Vec<u8>, ApiError> {
        // ring's key generation takes its own sealed SecureRandom, so the system RNG is used.
        let rng = ring::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| ApiError::internal("signing key generation failed"))?;
        Ok(doc.as_ref().to_vec())
    }

    /// Loads the signing key from PKCS#8 DER.
    pub fn from_pkcs8(pkcs8: &[u8], kid: &str) -> Result<TokenKeys, ApiError> {
        let rng = ring::rand::SystemRandom::new();
        let signing = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| ApiError::internal("the stored signing key is unusable"))?;
        let point = signing.public_key().as_ref();
        // An uncompressed P-256 point: 0x04 || X (32) || Y (32).
        let Some((x, y)) = point
            .split_first()
            .filter(|_| point.len() == 65)
            .and_then(|(_, coords)| coords.split_at_checked(32))
        else {
            return Err(ApiError::internal("unexpected signing public key size"));
        };
        let x = b64::encode(x);
        let y = b64::encode(y);
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| ApiError::internal(format!("decoding key: {e}")))?;
        Ok(TokenKeys {
            kid: kid.to_owned(),
            signing,
            decoding,
            x,
            y,
            rng,
        })
    }

    /// The key id derived from a PKCS#8 key: base64url of the first 16 bytes of SHA-256 of
    /// the public point.
    pub fn kid_for(pkcs8: &[u8]) -> Result<String, ApiError> {
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| ApiError::internal("signing key unusable"))?;
        let digest = Sha256::digest(pair.public_key().as_ref());
        let head: Vec<u8> = digest.iter().take(16).copied().collect();
        Ok(b64::encode(&head))
    }

    /// The `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as a compact JWS (ES256, with `kid`).
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, ApiError> {
        self.sign_json(claims)
    }

    /// Signs any claims set as a compact JWS (ES256, with `kid`): the OpenID Connect
    /// tokens of applications, whose claims differ from the device tokens'.
    pub fn sign_json<T: Serialize>(&self, claims: &T) -> Result<String, ApiError> {
        let header = serde_json::to_vec(&Header {
            alg: "ES256",
            typ: "JWT",
            kid: &self.kid,
        })
        .map_err(ApiError::internal)?;
        let body = serde_json::to_vec(claims).map_err(ApiError::internal)?;
        let mut token = b64::encode(header);
        token.push('.');
        token.push_str(&b64::encode(body));
        let sig = self
            .signing
            .sign(&self.rng, token.as_bytes())
            .map_err(|_| ApiError::internal("token signing failed"))?;
        token.push('.');
        token.push_str(&b64::encode(sig.as_ref()));
        Ok(token)
    }

    /// Verifies an enrolment token: signature, issuer, audience, type, tenant and times.
    pub fn verify_enrollment(
        &self,
        token: &str,
        issuer: &str,
        tenant: &str,
        now: i64,
    ) -> Result<TokenClaims, ApiError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[ENROLLMENT_AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<TokenClaims>(token, &self.decoding, &validation)
            .map_err(|_| ApiError::InvalidToken("the token does not verify"))?;
        let claims = data.claims;
        if claims.typ != typ::ENROLLMENT || claims.tid != tenant {
            return Err(ApiError::InvalidToken(
                "not an enrolment token of this tenant",
            ));
        }
        if now >= claims.exp {
            return Err(ApiError::InvalidToken("the token has expired"));
        }
        if claims.nbf > now + LEEWAY_SECS {
            return Err(ApiError::InvalidToken("the token is not valid yet"));
        }
        Ok(claims)
    }

    /// Verifies the signature, issuer and expiry of a token this service signed and
    /// returns its claims (audience not checked: the caller checks what it needs).
    pub fn verify_json<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        now: i64,
    ) -> Result<T, ApiError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &self.decoding, &validation)
            .map_err(|_| ApiError::InvalidToken("the token does not verify"))?;
        let exp = data.claims.get("exp").and_then(serde_json::Value::as_i64);
        if exp.is_none_or(|exp| now >= exp) {
            return Err(ApiError::InvalidToken("the token has expired"));
        }
        serde_json::from_value(data.claims)
            .map_err(|_| ApiError::InvalidToken("the token is not of the expected kind"))
    }

    /// The JWK Set with this key.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "EC",
                "crv": "P-256",
                "x": self.x,
                "y": self.y,
                "kid": self.kid,
                "use": "sig",
                "alg": "ES256",
            }]
        })
    }
}
