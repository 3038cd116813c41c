//! The device's TPM identity as stored: `tpm-identity.json`.
//!
//! After a credential activation with the service ([`crate::Agent::attest_tpm`]) the file
//! holds the attestation key (AIK) the service now trusts for this device: its TPM-wrapped
//! private part (a TPM2B_PRIVATE only this TPM can load, and only under its EK) and its
//! public area, its name, and what the service read from the EK certificate. A failed
//! attempt is recorded too (the code and message), so `status` can say why the device is
//! not attested. Nothing secret is stored: a copy of the file is useless on another TPM.
//!
//! Read defensively (through [`crate::store`]): the version must be 1
//! ([`AgentError::UnknownVersion`], `LK-STATE-006`), the file must name this device
//! (`LK-STATE-011`), and the AIK's blobs must parse and give the recorded name
//! (`LK-STATE-010`).

use latchkey_proto::b64;
use latchkey_tpm::KeyBlob;
use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::store::StateDir;

/// The file.
pub const TPM_IDENTITY_FILE: &str = "tpm-identity.json";
/// Its format version.
pub const TPM_IDENTITY_VERSION: u32 = 1;

/// The device's TPM identity, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpmIdentity {
    /// Format version: 1.
    pub version: u32,
    /// The device this identity was activated for.
    pub device_id: String,
    /// The AIK the service activated, if an activation succeeded.
    #[serde(default)]
    pub attested: Option<AttestedAik>,
    /// The last attempt, when it failed (cleared by a success).
    #[serde(default)]
    pub last_failure: Option<AttestFailure>,
}

/// An AIK the service activated for this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestedAik {
    /// The AIK's TPM-wrapped private part, a marshalled TPM2B_PRIVATE (base64url).
    pub aik_private: String,
    /// The AIK's public area, a marshalled TPMT_PUBLIC (base64url).
    pub aik_public: String,
    /// The AIK's name (lowercase hex), as the service recorded it.
    pub aik_name: String,
    /// The TPM manufacturer from the EK certificate (`id:XXXXXXXX`).
    pub manufacturer: String,
    /// The TPM model from the EK certificate.
    pub model: String,
    /// The TPM firmware version from the EK certificate.
    pub firmware: String,
    /// The tenant root the EK certificate chained to.
    pub root: String,
    /// The TPM the AIK was made in (TCTI).
    pub tcti: String,
    /// When the activation finished (seconds since the epoch).
    pub attested_at: i64,
}

/// Why the last attestation attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestFailure {
    /// The stable code (the service's, e.g. `LK-HWK-001`, or the agent's).
    pub code: String,
    /// The whole message.
    pub message: String,
    /// When (seconds since the epoch).
    pub at: i64,
}

impl AttestedAik {
    /// The AIK's stored form, parsed strictly; its name must be the recorded one.
    pub fn blob(&self, path: &str) -> Result<KeyBlob, AgentError> {
        let private =
            b64::decode("aik_private", &self.aik_private).map_err(|e| damaged(path, e))?;
        let public = b64::decode("aik_public", &self.aik_public).map_err(|e| damaged(path, e))?;
        let blob = KeyBlob::from_bytes(&private, &public).map_err(|e| damaged(path, e))?;
        let name = hex::encode(blob.name().map_err(|e| damaged(path, e))?);
        if name != self.aik_name {
            return Err(damaged(
                path,
                format!(
                    "the AIK's name {} is not its public area's {name}",
                    self.aik_name
                ),
            ));
        }
        Ok(blob)
    }

    /// `id:XXXXXXXX model M, AIK name N...` for `status` and the CLI.
    pub fn describe(&self) -> String {
        let short: String = self.aik_name.chars().take(20).collect();
        format!(
            "{} model {} firmware {}, AIK name {short}...",
            self.manufacturer, self.model, self.firmware
        )
    }
}

impl TpmIdentity {
    /// Loads the identity of `device_id`, if any, and checks it.
    pub fn load(state: &StateDir, device_id: &str) -> Result<Option<Self>, AgentError> {
        let identity: Option<Self> = state.read_json(TPM_IDENTITY_FILE)?;
        if let Some(i) = &identity {
            i.validate(
                &state.path(TPM_IDENTITY_FILE).display().to_string(),
                device_id,
            )?;
        }
        Ok(identity)
    }

    /// Checks the version, the device and the AIK's blobs.
    pub fn validate(&self, path: &str, device_id: &str) -> Result<(), AgentError> {
        if self.version != TPM_IDENTITY_VERSION {
            return Err(AgentError::UnknownVersion {
                path: path.to_owned(),
                version: self.version,
                known: "1",
            });
        }
        if self.device_id != device_id {
            return Err(AgentError::TpmIdentityOfAnotherDevice {
                path: path.to_owned(),
                found: self.device_id.clone(),
                device: device_id.to_owned(),
            });
        }
        if let Some(a) = &self.attested {
            a.blob(path)?;
        }
        Ok(())
    }

    /// Stores it (0600, atomically).
    pub fn save(&self, state: &StateDir) -> Result<(), AgentError> {
        state.write_json(TPM_IDENTITY_FILE, self)
    }
}

fn damaged(path: &str, reason: impl std::fmt::Display) -> AgentError {
    AgentError::TpmIdentityDamaged {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> TpmIdentity {
        TpmIdentity {
            version: TPM_IDENTITY_VERSION,
            device_id: "d1".into(),
            attested: None,
            last_failure: Some(AttestFailure {
                code: "LK-HWK-001".into(),
                message: "LK-HWK-001: untrusted".into(),
                at: 5,
            }),
        }
    }

    #[test]
    fn version_device_and_blobs_are_checked() {
        let ok = identity();
        assert!(ok.validate("f", "d1").is_ok());
        let mut v = ok.clone();
        v.version = 2;
        assert_eq!(v.validate("f", "d1").unwrap_err().code(), "LK-STATE-006");
        assert_eq!(ok.validate("f", "d2").unwrap_err().code(), "LK-STATE-011");
        let mut bad = ok.clone();
        bad.attested = Some(AttestedAik {
            aik_private: "!!".into(),
            aik_public: "AAAA".into(),
            aik_name: "00".into(),
            manufacturer: "id:1".into(),
            model: "m".into(),
            firmware: "1".into(),
            root: "r".into(),
            tcti: "t".into(),
            attested_at: 1,
        });
        assert_eq!(bad.validate("f", "d1").unwrap_err().code(), "LK-STATE-010");
    }
}
