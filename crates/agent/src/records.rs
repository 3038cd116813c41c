//! What the agent keeps in its state directory, file by file.
//!
//! | file | contents |
//! |---|---|
//! | `device.json` | the join: service, tenant, device id, device key, device certificate, CA |
//! | `hello/<user>.json` | a user's PIN-protected Hello key ([`crate::container::Container`]) |
//! | `sso/<user>.json` | a user's primary refresh token |
//! | `events.json` | the client event log ([`crate::events`]) |

use latchkey_proto::api::device::JoinType;
use serde::{Deserialize, Serialize};

use crate::device_key::DeviceKey;
use crate::device_seal::{self, MachineBinding, SealedDeviceKey};
use crate::error::AgentError;
use crate::store::StateDir;
use latchkey_tpm::{KeyBlob, Tcti};

/// The file of the join.
pub const DEVICE_FILE: &str = "device.json";
/// The format version of `device.json` and `sso/<user>.json`.
pub const RECORD_VERSION: u32 = 1;

fn record_version() -> u32 {
    RECORD_VERSION
}

fn check_version(version: u32, path: &str) -> Result<(), AgentError> {
    if version == RECORD_VERSION {
        Ok(())
    } else {
        Err(AgentError::UnknownVersion {
            path: path.to_owned(),
            version,
            known: "1",
        })
    }
}

/// How the device key is protected at rest, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKeyProtection {
    /// Sealed to the machine identity in the named file.
    MachineBound(String),
    /// A plaintext PKCS#8 file protected by file permissions only.
    FilePermissions,
    /// Made and kept in the TPM: only the TPM-wrapped blob is stored.
    Tpm,
}

impl DeviceKeyProtection {
    /// The `DeviceKeyProtection` line of `status`.
    pub fn describe(&self) -> String {
        match self {
            DeviceKeyProtection::MachineBound(file) => format!(
                "software, encrypted under a key derived from {file} (a copy of the state directory alone does not reveal it; anyone who can read this user's files on this machine can; no TPM)"
            ),
            DeviceKeyProtection::Tpm => "TPM (made in the TPM, fixedTPM: only its TPM-wrapped blob is stored, every device proof is signed by the TPM; a copy of the state directory is useless on any other machine)".to_owned(),
            DeviceKeyProtection::FilePermissions => "software, file permissions only (mode 0600 in a 0700 directory: anyone with a copy of the state directory has the key; no TPM)".to_owned(),
        }
    }
}

/// The device's join, as stored in `device.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Format version ([`RECORD_VERSION`]; absent in files of earlier versions).
    #[serde(default = "record_version")]
    pub version: u32,
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
    /// The device private key in plaintext (base64url PKCS#8 DER): devices joined before
    /// sealing, and machines without a machine identity. Empty once sealed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_key: String,
    /// The device private key sealed to the machine ([`crate::device_seal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key_sealed: Option<SealedDeviceKey>,
    /// The device key made in the TPM: its TPM-wrapped blob ([`TpmDeviceKey`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key_tpm: Option<TpmDeviceKey>,
}

/// A device key made in the TPM, as stored: no private key, only what that TPM can load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpmDeviceKey {
    /// The TPM-wrapped private part, a marshalled TPM2B_PRIVATE (base64url).
    pub private: String,
    /// The public area, a marshalled TPMT_PUBLIC (base64url).
    pub public: String,
}

impl TpmDeviceKey {
    /// The stored form of `blob`.
    pub fn new(blob: &KeyBlob) -> Result<Self, AgentError> {
        Ok(TpmDeviceKey {
            private: latchkey_proto::b64::encode(blob.private_bytes()),
            public: latchkey_proto::b64::encode(blob.public_area().map_err(AgentError::Tpm)?),
        })
    }

    /// The blob, parsed strictly.
    pub fn blob(&self) -> Result<KeyBlob, AgentError> {
        let corrupt = |e: String| AgentError::CorruptState {
            path: DEVICE_FILE.to_owned(),
            reason: format!("device_key_tpm: {e}"),
        };
        let private = latchkey_proto::b64::decode("private", &self.private)
            .map_err(|e| corrupt(e.to_string()))?;
        let public = latchkey_proto::b64::decode("public", &self.public)
            .map_err(|e| corrupt(e.to_string()))?;
        KeyBlob::from_bytes(&private, &public).map_err(|e| corrupt(e.to_string()))
    }
}

impl DeviceRecord {
    /// Loads the join, or `None` when the device is not joined; an unknown format version
    /// is refused.
    pub fn load(state: &StateDir) -> Result<Option<Self>, AgentError> {
        let record: Option<Self> = state.read_json(DEVICE_FILE)?;
        if let Some(r) = &record {
            check_version(r.version, &state.path(DEVICE_FILE).display().to_string())?;
        }
        Ok(record)
    }

    /// Loads the join or fails with [`AgentError::NotJoined`].
    pub fn require(state: &StateDir) -> Result<Self, AgentError> {
        Self::load(state)?.ok_or(AgentError::NotJoined)
    }

    /// Stores `key` in the record: sealed to `binding` when the machine has an identity,
    /// otherwise in plaintext (file permissions only).
    /// A key in a TPM is stored as its TPM-wrapped blob.
    pub fn set_key(&mut self, key: &DeviceKey, binding: &MachineBinding) -> Result<(), AgentError> {
        if let Some(blob) = key.tpm_blob() {
            self.device_key_tpm = Some(TpmDeviceKey::new(blob)?);
            self.device_key_sealed = None;
            self.device_key.clear();
            return Ok(());
        }
        self.device_key_tpm = None;
        let der = key.to_pkcs8()?;
        match device_seal::seal(binding, &der, &self.tenant_id, &self.device_id)? {
            Some(sealed) => {
                self.device_key_sealed = Some(sealed);
                self.device_key.clear();
            }
            None => {
                self.device_key_sealed = None;
                self.device_key = latchkey_proto::b64::encode(der.as_slice());
            }
        }
        Ok(())
    }

    /// How the device key is protected at rest.
    pub fn key_protection(&self) -> DeviceKeyProtection {
        if self.device_key_tpm.is_some() {
            return DeviceKeyProtection::Tpm;
        }
        match &self.device_key_sealed {
            Some(sealed) => DeviceKeyProtection::MachineBound(sealed.binding.clone()),
            None => DeviceKeyProtection::FilePermissions,
        }
    }

    /// The device key, unsealed with `binding` (or read in plaintext from a record that is
    /// not sealed). A key in a TPM fails with [`AgentError::DeviceKeyTpmUnreachable`]: use
    /// [`DeviceRecord::key_with`].
    pub fn key(&self, binding: &MachineBinding) -> Result<DeviceKey, AgentError> {
        self.key_with(binding, None)
    }

    /// The device key: in the TPM at `tpm` when the record holds a TPM key (no TPM in use
    /// is [`AgentError::DeviceKeyTpmUnreachable`]), else as [`DeviceRecord::key`].
    pub fn key_with(
        &self,
        binding: &MachineBinding,
        tpm: Option<&Tcti>,
    ) -> Result<DeviceKey, AgentError> {
        if let Some(stored) = &self.device_key_tpm {
            let blob = stored.blob()?;
            let Some(tcti) = tpm else {
                return Err(AgentError::DeviceKeyTpmUnreachable {
                    reason: "this command does not use a TPM (the software key provider is in use: no TPM was found, or `--key-provider software` was given)".to_owned(),
                });
            };
            return DeviceKey::from_tpm_blob(tcti, blob);
        }
        if let Some(sealed) = &self.device_key_sealed {
            let der = device_seal::open(binding, sealed, &self.tenant_id, &self.device_id)?;
            return DeviceKey::from_pkcs8(&der);
        }
        let der = latchkey_proto::b64::decode("device_key", &self.device_key).map_err(|e| {
            AgentError::CorruptState {
                path: DEVICE_FILE.to_owned(),
                reason: e.to_string(),
            }
        })?;
        DeviceKey::from_pkcs8(&zeroize::Zeroizing::new(der))
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
    /// Format version ([`RECORD_VERSION`]; absent in files of earlier versions).
    #[serde(default = "record_version")]
    pub version: u32,
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

impl SsoRecord {
    /// Refuses an unknown format version; `path` names the file.
    pub fn check_version(&self, path: &str) -> Result<(), AgentError> {
        check_version(self.version, path)
    }
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
