//! Device join and leave.

use serde::{Deserialize, Serialize};

/// How the device is joined, as the seeds name the three cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinType {
    /// Joined to the organisation's cloud directory (Azure AD joined).
    Cloud,
    /// Domain joined and auto-registered (hybrid).
    Hybrid,
    /// A personal device with a work account added ("registered").
    Registered,
}

impl JoinType {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinType::Cloud => "cloud",
            JoinType::Hybrid => "hybrid",
            JoinType::Registered => "registered",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(text: &str) -> Option<JoinType> {
        match text {
            "cloud" => Some(JoinType::Cloud),
            "hybrid" => Some(JoinType::Hybrid),
            "registered" => Some(JoinType::Registered),
            _ => None,
        }
    }
}

/// `POST /v1/devices/join` with `Authorization: Bearer <enrollment token>`.
///
/// `signature` is the device key's ECDSA P-256 / SHA-256 signature (fixed 64-byte r||s) over
/// [`crate::proof::proof_message`]`(Join, nonce, [tenant_id, device_public_key])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// A nonce issued for [`crate::proof::Purpose::Join`].
    pub nonce: String,
    /// The device's display name (host name).
    pub display_name: String,
    /// Operating system and version.
    pub os: String,
    /// Join type.
    pub join_type: JoinType,
    /// The device public key: base64url SubjectPublicKeyInfo DER of a P-256 key.
    pub device_public_key: String,
    /// The proof of possession (base64url).
    pub signature: String,
}

/// The joined device's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinResponse {
    /// Device id (GUID).
    pub device_id: String,
    /// Device certificate (PEM), issued by the tenant CA, CN = device id.
    pub device_certificate_pem: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant display name.
    pub tenant_name: String,
    /// The tenant CA certificate (PEM).
    pub ca_pem: String,
    /// Whether the service recorded the join as done with MFA.
    pub joined_with_mfa: bool,
}

/// `POST /v1/devices/leave`: the device disables itself.
///
/// `signature` is the device key's signature over `proof_message(Leave, nonce, [tenant_id,
/// device_id])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// Device id.
    pub device_id: String,
    /// A nonce issued for [`crate::proof::Purpose::Leave`].
    pub nonce: String,
    /// The device-key proof (base64url).
    pub signature: String,
}

/// The result of leaving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveResponse {
    /// The device that is now disabled.
    pub device_id: String,
}
