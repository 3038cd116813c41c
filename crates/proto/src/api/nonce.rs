//! Nonces: single-use, short-lived, bound to a purpose.

use serde::{Deserialize, Serialize};

use crate::proof::Purpose;

/// `POST /v1/nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonceRequest {
    /// What the nonce will be used for.
    pub purpose: Purpose,
}

/// A fresh nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonceResponse {
    /// The opaque nonce value, to be signed and sent back once.
    pub nonce: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: i64,
}
