//! Policy delivery to devices and policy administration (docs/API.md, "Policy").
//!
//! The SyncML routes carry XML, not JSON: `POST /v1/policy/syncml` (administrators) and
//! `POST /v1/policy/session` (devices). Their HTTP header names are here so that the
//! service and the agent spell them the same way.

use serde::{Deserialize, Serialize};

/// The SyncML media type (MS-MDM 2.2.1): requests and replies of the SyncML routes.
pub const SYNCML_CONTENT_TYPE: &str = "application/vnd.syncml.dm+xml";

/// Request header: a nonce issued for [`crate::proof::Purpose::PolicySync`].
pub const HEADER_NONCE: &str = "x-latchkey-nonce";
/// Request header: the device id.
pub const HEADER_DEVICE_ID: &str = "x-latchkey-device-id";
/// Request header: the user's UPN (absent or empty: no user, device scope only).
pub const HEADER_UPN: &str = "x-latchkey-upn";
/// Request header: base64url device-key signature over
/// `proof_message(PolicySync, nonce, [tenant_id, device_id, upn, hex(SHA-256(body))])`.
pub const HEADER_DEVICE_SIGNATURE: &str = "x-latchkey-device-signature";
/// Response header: the tenant's policy version the reply reflects.
pub const HEADER_POLICY_VERSION: &str = "x-latchkey-policy-version";
/// Response header (session message 1 only): a fresh [`crate::proof::Purpose::PolicySync`]
/// nonce for the device's second message, so it needs no extra round trip.
pub const HEADER_NEXT_NONCE: &str = "x-latchkey-next-nonce";

/// `POST /v1/policy/effective`: the effective policy of this device (and user), as JSON.
///
/// `device_signature` is the device key's signature over
/// `proof_message(PolicySync, nonce, [tenant_id, device_id, upn, hex(SHA-256(""))])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectivePolicyRequest {
    /// Device id.
    pub device_id: String,
    /// The signed-in user's UPN; empty or absent for the device alone.
    #[serde(default)]
    pub upn: String,
    /// A nonce issued for [`crate::proof::Purpose::PolicySync`].
    pub nonce: String,
    /// Device-key signature (base64url).
    pub device_signature: String,
}

/// The effective policy of a device and user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectivePolicyResponse {
    /// The tenant's policy version this reflects (0: no policy ever set).
    pub version: u64,
    /// The tenant id.
    pub tenant_id: String,
    /// The `latchkey_policy::EffectivePolicy` JSON: for each setting `{"value", "source"}`,
    /// the PIN rules under `pin`, and `notes`.
    pub policy: serde_json::Value,
}
