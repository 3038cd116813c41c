//! The device key at rest, without a TPM: sealed under a key bound to this machine.
//!
//! The device key is encrypted with AES-256-GCM under a key derived (HKDF-SHA256, a random
//! 16-byte salt per device) from the machine's identity, `/etc/machine-id` (or
//! `/var/lib/dbus/machine-id`), which lives outside the state directory. The additional
//! authenticated data binds the ciphertext to the tenant and device id.
//!
//! What this protects: a copy of the state directory alone (a home-directory backup, a
//! synced folder, a file taken off the machine) does not reveal the device key. What it does
//! NOT protect: `/etc/machine-id` is readable by every local user, so anyone who can read
//! the state directory ON this machine (this user, root, malware running as either) can
//! unseal the key, and so can whoever copies both the state directory and the machine id.
//! Only a TPM keeps the key from them (the TPM issue moves the device key into the TPM).
//! When the machine id is missing or empty, the key stays protected by file permissions
//! alone (mode 0600 in a 0700 directory), and `latchkey status` says so.

use std::io::Read;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use latchkey_proto::b64;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::AgentError;

/// The scheme of [`SealedDeviceKey`]s this agent writes and reads.
pub const SCHEME: &str = "machine-id/hkdf-sha256/aes-256-gcm/v1";
/// Where the machine identity is looked for, in order.
pub const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
const INFO: &[u8] = b"latchkey device key v1";
const AAD_DOMAIN: &str = "latchkey-device-key-v1";
/// The largest machine-id file read.
const MAX_MACHINE_ID_BYTES: u64 = 4096;

/// What the device key is sealed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineBinding {
    files: Vec<PathBuf>,
}

/// The device key sealed to the machine, as stored in `device.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedDeviceKey {
    /// [`SCHEME`].
    pub scheme: String,
    /// The machine-id file the key is bound to.
    pub binding: String,
    /// HKDF salt (base64url).
    pub salt: String,
    /// AES-GCM nonce (base64url).
    pub nonce: String,
    /// The encrypted PKCS#8 device key (base64url).
    pub ciphertext: String,
}

impl MachineBinding {
    /// The system's machine identity ([`MACHINE_ID_FILES`]).
    pub fn system() -> Self {
        MachineBinding {
            files: MACHINE_ID_FILES.iter().map(PathBuf::from).collect(),
        }
    }

    /// A machine identity read from `path` (tests; systems that keep it elsewhere).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        MachineBinding {
            files: vec![path.into()],
        }
    }

    /// No machine identity: file permissions only.
    pub fn none() -> Self {
        MachineBinding { files: Vec::new() }
    }

    /// The first usable identity and its file; `None` when there is none.
    fn identity(&self) -> Option<(PathBuf, Zeroizing<Vec<u8>>)> {
        self.files
            .iter()
            .find_map(|f| read_identity(f).map(|id| (f.clone(), id)))
    }

    /// Whether a machine identity is available to seal to.
    pub fn available(&self) -> bool {
        self.identity().is_some()
    }
}

/// A machine-id file's trimmed contents: a regular file, at most 4 KiB, at least 16 bytes.
fn read_identity(path: &Path) -> Option<Zeroizing<Vec<u8>>> {
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_MACHINE_ID_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    let trimmed = Zeroizing::new(bytes.trim_ascii().to_vec());
    (trimmed.len() >= 16).then_some(trimmed)
}

fn aad(tenant: &str, device: &str) -> Vec<u8> {
    format!("{AAD_DOMAIN}\0{tenant}\0{device}").into_bytes()
}

fn cipher(identity: &[u8], salt: &[u8]) -> Result<Aes256Gcm, AgentError> {
    use ring::hkdf;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(identity);
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&[INFO], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(key.as_mut()))
        .map_err(|_| AgentError::Crypto("device key sealing: HKDF failed".into()))?;
    Aes256Gcm::new_from_slice(key.as_ref()).map_err(|e| AgentError::Crypto(e.to_string()))
}

/// Seals `pkcs8` for `tenant`/`device`; `None` when no machine identity is available (the
/// key then stays protected by file permissions only).
pub fn seal(
    binding: &MachineBinding,
    pkcs8: &[u8],
    tenant: &str,
    device: &str,
) -> Result<Option<SealedDeviceKey>, AgentError> {
    let Some((file, identity)) = binding.identity() else {
        return Ok(None);
    };
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher(&identity, &salt)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: pkcs8,
                aad: &aad(tenant, device),
            },
        )
        .map_err(|e| AgentError::Crypto(format!("device key sealing: {e}")))?;
    Ok(Some(SealedDeviceKey {
        scheme: SCHEME.to_owned(),
        binding: file.display().to_string(),
        salt: b64::encode(salt),
        nonce: b64::encode(nonce),
        ciphertext: b64::encode(ciphertext),
    }))
}

/// Unseals the PKCS#8 device key.
pub fn open(
    binding: &MachineBinding,
    sealed: &SealedDeviceKey,
    tenant: &str,
    device: &str,
) -> Result<Zeroizing<Vec<u8>>, AgentError> {
    let refused = |reason: String| AgentError::DeviceKeySealed { reason };
    if sealed.scheme != SCHEME {
        return Err(refused(format!(
            "unknown sealing scheme {:?}",
            sealed.scheme
        )));
    }
    let Some((_, identity)) = binding.identity() else {
        return Err(refused(format!(
            "it is bound to {}, which is missing or empty",
            sealed.binding
        )));
    };
    let decode = |field: &'static str, v: &str| {
        b64::decode(field, v).map_err(|e| AgentError::CorruptState {
            path: crate::records::DEVICE_FILE.to_owned(),
            reason: e.to_string(),
        })
    };
    let salt = decode("salt", &sealed.salt)?;
    let nonce = decode("nonce", &sealed.nonce)?;
    let ciphertext = decode("ciphertext", &sealed.ciphertext)?;
    if nonce.len() != 12 {
        return Err(AgentError::CorruptState {
            path: crate::records::DEVICE_FILE.to_owned(),
            reason: "the sealed device key's nonce is not 12 bytes".into(),
        });
    }
    cipher(&identity, &salt)?
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: &aad(tenant, device),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            refused(format!(
                "it does not open under {} (the machine id changed, or the file was copied from another machine or damaged)",
                sealed.binding
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(dir: &Path, id: &str) -> MachineBinding {
        let path = dir.join("machine-id");
        std::fs::write(&path, id).unwrap();
        MachineBinding::file(path)
    }

    #[test]
    fn sealed_keys_open_only_on_the_same_machine_and_device() {
        let tmp = tempfile::tempdir().unwrap();
        let here = machine(tmp.path(), "3d1219c7c4c5404aaa1f6d2a48adfda4\n");
        let sealed = seal(&here, b"secret key", "t", "d").unwrap().unwrap();
        assert!(!sealed.ciphertext.contains("secret"));
        assert_eq!(
            open(&here, &sealed, "t", "d").unwrap().as_slice(),
            b"secret key"
        );
        let other_dir = tempfile::tempdir().unwrap();
        let there = machine(other_dir.path(), "00000000000000000000000000000001");
        assert_eq!(
            open(&there, &sealed, "t", "d").unwrap_err().code(),
            "LK-STATE-008"
        );
        assert_eq!(
            open(&here, &sealed, "t", "other").unwrap_err().code(),
            "LK-STATE-008"
        );
        assert_eq!(
            open(&MachineBinding::none(), &sealed, "t", "d")
                .unwrap_err()
                .code(),
            "LK-STATE-008"
        );
    }

    #[test]
    fn without_a_machine_identity_nothing_is_sealed() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(seal(&MachineBinding::none(), b"k", "t", "d")
            .unwrap()
            .is_none());
        let empty = machine(tmp.path(), "\n");
        assert!(!empty.available());
        assert!(seal(&empty, b"k", "t", "d").unwrap().is_none());
    }
}
