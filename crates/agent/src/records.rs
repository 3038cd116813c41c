//! What the agent keeps in its state directory, file by file.
//!
//! | file | contents |
//! |---|---|
//! | `device.json` | the join: service, tenant, device id, device key, device certificate, CA |
//! | `hello/<user>.json` | a user's PIN-protected Hello key ([`crate::container::Container`]) |
//! | `sso/<user>.json` | a user's primary refresh token |
//! | `pool/<n>.key` | pre-generated Hello keys waiting to be used ([`crate::pool`]) |
//! | `events.json` | the client event log ([`crate::events`]) |

use latchkey_proto::api::device::JoinType;
use serde::{Deserialize, Serialize};

use crate::device_key::DeviceKey;
use crate::error::AgentError;
use crate::store::StateDir;

/// The file of the join.
pub const DEVICE_FILE: &str = "device.json";

/// The device's join, as stored in `device.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// The service's base URL.
    pub server_url: String,
    /// The tenant CA (PEM), the only root the agent trusts for this service.
    pub ca_pem: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant display name.
    pub tenant_name: String,
    /// Device id (GUID).
    pub device_id: String,
    /// Join type.
    pub join_type: JoinType,
    /// The registered owner: the user who joined.
    pub owner_upn: String,
    /// Whether the service recorded the join as done with MFA.
    pub joined_with_mfa: bool,
    /// When the device joined (seconds since the epoch).
    pub joined_at: i64,
    /// The device certificate (PEM), CN = device id.
    pub device_certificate_pem: String,
    /// The device private key (base64url PKCS#8 DER).
    pub device_key: String,
}

impl DeviceRecord {
    /// Loads the join, or `None` when the device is not joined.
    pub fn load(state: &StateDir) -> Result<Option<Self>, AgentError> {
        state.read_json(DEVICE_FILE)
    }

    /// Loads the join or fails with [`AgentError::NotJoined`].
    pub fn require(state: &StateDir) -> Result<Self, AgentError> {
        Self::load(state)?.ok_or(AgentError::NotJoined)
    }

    /// The device key.
    pub fn key(&self) -> Result<DeviceKey, AgentError> {
        let der = latchkey_proto::b64::decode("device_key", &self.device_key).map_err(|e| {
            AgentError::CorruptState {
                path: DEVICE_FILE.to_owned(),
                reason: e.to_string(),
            }
        })?;
        DeviceKey::from_pkcs8(&der)
    }

    /// SHA-1 thumbprint of the device certificate (uppercase hex, as Windows shows it).
    pub fn certificate_thumbprint(&self) -> Result<String, AgentError> {
        use sha1::Digest;
        let der =
            latchkey_pki::pem_to_der(&self.device_certificate_pem, "CERTIFICATE").map_err(|e| {
                AgentError::CorruptState {
                    path: DEVICE_FILE.to_owned(),
                    reason: e.to_string(),
                }
            })?;
        Ok(hex::encode_upper(sha1::Sha1::digest(der)))
    }
}

/// A user's primary refresh token, as stored in `sso/<user>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoRecord {
    /// The user.
    pub upn: String,
    /// The primary refresh token (opaque).
    pub prt: String,
    /// When it expires (seconds since the epoch).
    pub prt_expires_at: i64,
    /// When it was obtained or last renewed.
    pub obtained_at: i64,
    /// The ID token that came with it.
    pub id_token: String,
}

/// The file name under `dir` for `upn`: lowercased, with every byte outside
/// `[a-z0-9@._-]` percent-encoded, so any UPN maps to one safe file name.
pub fn user_file(dir: &str, upn: &str) -> String {
    let mut name = String::with_capacity(upn.len() + 5);
    for b in upn.to_lowercase().bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b"@._-".contains(&b) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.starts_with('.') {
        name.replace_range(0..1, "%2E");
    }
    format!("{dir}/{name}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_files_are_safe_names() {
        assert_eq!(
            user_file("hello", "Alice@Example.com"),
            "hello/alice@example.com.json"
        );
        assert_eq!(user_file("sso", "../x y"), "sso/%2E.%2Fx%20y.json");
        assert!(!user_file("sso", "a/b").contains("a/b"));
    }
}
