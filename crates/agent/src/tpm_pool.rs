//! The TPM key pool: Hello keys the TPM made ahead of time, so that `hello setup` does not
//! wait for RSA key generation (seconds on a real TPM).
//!
//! Only with the TPM key provider (the software provider keeps no pool: see
//! [`crate::pool`]). A pool key is made by TPM2_Create like any Hello key (RSA-2048,
//! `fixedTPM`, `fixedParent`, `sensitiveDataOrigin`, dictionary-attack protected) with a
//! random 32-byte authorisation value. At `hello setup` a pool key is taken and its
//! authorisation value changed to the PIN-derived one with TPM2_ObjectChangeAuth
//! ([`crate::tpm_provider::TpmProvider::adopt_pool_key`]); the pool file is then deleted,
//! before the service is contacted, so a pool key is used at most once.
//!
//! A pool entry is `hello-tpm-pool/<key id>.json` (0600, through [`crate::store`]): format
//! version, key id, creation time, the TPM-wrapped private part, the public area, and the
//! random authorisation value sealed to the machine identity ([`crate::device_seal`]; the
//! authenticated data binds it to the tenant, the device and the key id). No private key is
//! on disk. Without a machine identity no pool is kept.
//!
//! The pool is filled at join (in a background thread while the join request runs; nothing
//! is written unless the join succeeds), refilled after `hello setup` and by
//! `latchkey pool fill`. An entry that is damaged or not from this machine or TPM is removed
//! and skipped (LK-STATE-012); one with an unknown format version is left alone and skipped
//! (LK-STATE-006); setup then makes a key as without a pool.
//!
//! Residual risk (docs/tpm.md): TPM2_ObjectChangeAuth returns a new blob, but the old blob
//! with the old value still loads on this TPM. Whoever copied a pool entry AND can open its
//! sealed value (read the machine identity) AND can later use this TPM can use that key.

use std::thread::JoinHandle;

use latchkey_proto::b64;
use latchkey_tpm::{KeyBlob, TpmError};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::agent::Agent;
use crate::device_key::DeviceKey;
use crate::device_seal::{self, SealedDeviceKey};
use crate::error::AgentError;
use crate::provider::{HelloSigner, StoredKey};
use crate::records::DeviceRecord;
use crate::tpm_container;
use crate::tpm_provider::TpmProvider;

/// The subdirectory of pool entries.
pub const TPM_POOL_DIR: &str = "hello-tpm-pool";
/// The format version of pool entries.
pub const TPM_POOL_VERSION: u32 = 1;
/// How many keys the pool holds. One: a device provisions one user at a time, a refill
/// follows each setup, and each key costs seconds of a real TPM's time and a blob on disk
/// that the residual risk applies to.
pub const TPM_POOL_SIZE: usize = 1;
/// Length of a pool key's random authorisation value (the TPM's SHA-256 limit).
pub const POOL_AUTH_LEN: usize = 32;

/// A pool entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntry {
    /// Format version ([`TPM_POOL_VERSION`]).
    pub version: u32,
    /// Key id (hex SHA-256 of the public blob); also the file name.
    pub key_id: String,
    /// When the TPM made it (seconds since the epoch).
    pub created_at: i64,
    /// The TPM-wrapped private part, a marshalled TPM2B_PRIVATE (base64url).
    pub private: String,
    /// The public area, a marshalled TPMT_PUBLIC (base64url).
    pub public: String,
    /// The random authorisation value, sealed to the machine identity.
    pub auth_sealed: SealedDeviceKey,
}

/// What `latchkey pool status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolReport {
    /// Usable entries: key id and creation time.
    pub keys: Vec<(String, i64)>,
    /// How many the pool holds when full ([`TPM_POOL_SIZE`]).
    pub target: usize,
    /// Entries skipped, each with its error (code first).
    pub skipped: Vec<String>,
    /// Why no pool is kept, when none is.
    pub no_pool: Option<String>,
}

/// A key made for the pool, not yet stored.
pub struct PoolKey {
    blob: KeyBlob,
    auth: Zeroizing<Vec<u8>>,
    created_at: i64,
}

/// Makes `n` pool keys in the TPM of `provider` (nothing is written).
pub fn make_keys(provider: &TpmProvider, n: usize, now: i64) -> Result<Vec<PoolKey>, AgentError> {
    let mut tpm = latchkey_tpm::Tpm::open(provider.tcti()).map_err(AgentError::Tpm)?;
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let mut auth = Zeroizing::new(vec![0u8; POOL_AUTH_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut auth);
        let blob = tpm.create_hello_key(&auth).map_err(AgentError::Tpm)?;
        keys.push(PoolKey {
            blob,
            auth,
            created_at: now,
        });
    }
    Ok(keys)
}

/// Pool keys being made in a background thread. Dropping it waits for the thread.
pub(crate) struct PoolFill {
    handle: Option<JoinHandle<Result<Vec<PoolKey>, AgentError>>>,
}

impl PoolFill {
    fn wait(&mut self) -> Result<Vec<PoolKey>, AgentError> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(AgentError::Crypto(
                "the key-pool thread stopped unexpectedly".to_owned(),
            )),
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for PoolFill {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

/// The authenticated context a pool key's sealed authorisation value is bound to (with the
/// tenant id): the device and the key id.
pub fn seal_context(device_id: &str, key_id: &str) -> String {
    format!("tpm-pool\0{device_id}\0{key_id}")
}

fn entry_name(key_id: &str) -> String {
    format!("{TPM_POOL_DIR}/{key_id}.json")
}

fn damaged(path: &str, reason: impl std::fmt::Display) -> AgentError {
    AgentError::TpmPoolEntryDamaged {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// A usable entry: its blob and its opened authorisation value.
struct Opened {
    name: String,
    key_id: String,
    created_at: i64,
    blob: KeyBlob,
    auth: Zeroizing<Vec<u8>>,
}

/// What reading one entry gave.
enum Read {
    Usable(Box<Opened>),
    /// Skipped and left (unknown version).
    Kept(AgentError),
    /// Skipped and removed.
    Removed(AgentError),
}

impl Agent {
    /// A new device key: in the TPM with the TPM key provider, else a software key.
    pub(crate) fn new_device_key(&self) -> Result<DeviceKey, AgentError> {
        match self.provider.as_tpm() {
            Some(tpm) => DeviceKey::create_in_tpm(tpm.tcti()),
            None => DeviceKey::generate(),
        }
    }

    /// Starts making the pool's keys in a background thread (TPM provider with a machine
    /// identity only); [`Agent::store_pool_fill`] stores them.
    pub(crate) fn start_pool_fill(&self) -> Option<PoolFill> {
        let provider = self.provider.as_tpm()?.clone();
        if !self.machine.available() {
            return None;
        }
        let now = self.now();
        let handle = std::thread::Builder::new()
            .name("latchkey-tpm-pool".to_owned())
            .spawn(move || make_keys(&provider, TPM_POOL_SIZE, now))
            .ok()?;
        Some(PoolFill {
            handle: Some(handle),
        })
    }

    /// Waits for the keys of `fill` and stores them for `device`. The join does not fail
    /// for the pool: a failure leaves the pool empty (`hello setup` then makes its key, and
    /// refills).
    pub(crate) fn store_pool_fill(&self, fill: Option<PoolFill>, device: &DeviceRecord) {
        if let Some(mut fill) = fill {
            if let Ok(keys) = fill.wait() {
                let _ = self.store_pool_keys(device, keys);
            }
        }
    }

    fn store_pool_keys(&self, device: &DeviceRecord, keys: Vec<PoolKey>) -> Result<(), AgentError> {
        for key in keys {
            let key_id = tpm_container::key_id(&key.blob)?;
            let Some(sealed) = device_seal::seal(
                &self.machine,
                &key.auth,
                &device.tenant_id,
                &seal_context(&device.device_id, &key_id),
            )?
            else {
                return Ok(());
            };
            let entry = PoolEntry {
                version: TPM_POOL_VERSION,
                created_at: key.created_at,
                private: b64::encode(key.blob.private_bytes()),
                public: b64::encode(key.blob.public_area().map_err(AgentError::Tpm)?),
                auth_sealed: sealed,
                key_id,
            };
            self.state.write_json(&entry_name(&entry.key_id), &entry)?;
        }
        Ok(())
    }

    fn no_pool_reason(&self) -> Option<String> {
        if self.provider.as_tpm().is_none() {
            return Some(format!(
                "the {} keeps no pool (a key waiting on disk would be an unprotected private key; `hello setup` makes the key in memory and stores it only wrapped under the PIN)",
                self.provider.name()
            ));
        }
        if !self.machine.available() {
            return Some("no machine identity to seal the pool keys' authorisation values to (/etc/machine-id is missing or empty); `hello setup` makes its key in the TPM".to_owned());
        }
        None
    }

    fn read_entry(&self, device: &DeviceRecord, file: &str) -> Read {
        let name = format!("{TPM_POOL_DIR}/{file}");
        let path = self.state.path(&name).display().to_string();
        let value: serde_json::Value = match self.state.read_json(&name) {
            Ok(Some(v)) => v,
            Ok(None) => return Read::Removed(damaged(&path, "it vanished")),
            Err(e) => return Read::Removed(e),
        };
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(TPM_POOL_VERSION)) {
            return Read::Kept(AgentError::UnknownVersion {
                path,
                version: version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
                known: "1",
            });
        }
        match self.open_entry(device, &path, value) {
            Ok((entry, blob, auth)) if file == format!("{}.json", entry.key_id) => {
                Read::Usable(Box::new(Opened {
                    name,
                    key_id: entry.key_id,
                    created_at: entry.created_at,
                    blob,
                    auth,
                }))
            }
            Ok(_) => Read::Removed(damaged(&path, "the file name is not its key id")),
            Err(e) => Read::Removed(e),
        }
    }

    fn open_entry(
        &self,
        device: &DeviceRecord,
        path: &str,
        value: serde_json::Value,
    ) -> Result<(PoolEntry, KeyBlob, Zeroizing<Vec<u8>>), AgentError> {
        let entry: PoolEntry = serde_json::from_value(value).map_err(|e| damaged(path, e))?;
        let private = b64::decode("private", &entry.private).map_err(|e| damaged(path, e))?;
        let public = b64::decode("public", &entry.public).map_err(|e| damaged(path, e))?;
        let blob = KeyBlob::from_bytes(&private, &public).map_err(|e| damaged(path, e))?;
        let id = tpm_container::key_id(&blob).map_err(|e| damaged(path, e))?;
        if id != entry.key_id {
            return Err(damaged(
                path,
                format!("key id {} is not the public area's {id}", entry.key_id),
            ));
        }
        let auth = device_seal::open(
            &self.machine,
            &entry.auth_sealed,
            &device.tenant_id,
            &seal_context(&device.device_id, &id),
        )
        .map_err(|e| damaged(path, format!("its authorisation value: {e}")))?;
        if auth.len() != POOL_AUTH_LEN {
            return Err(damaged(
                path,
                "its authorisation value has the wrong length",
            ));
        }
        Ok((entry, blob, auth))
    }

    /// Reads every entry; removes the damaged ones.
    fn scan_pool(&self, device: &DeviceRecord) -> Result<(Vec<Opened>, Vec<String>), AgentError> {
        let mut usable = Vec::new();
        let mut skipped = Vec::new();
        for file in self.state.list(TPM_POOL_DIR)? {
            match self.read_entry(device, &file) {
                Read::Usable(o) => usable.push(*o),
                Read::Kept(e) => skipped.push(format!("{e} (left in place, not used)")),
                Read::Removed(e) => {
                    self.state.remove(&format!("{TPM_POOL_DIR}/{file}"))?;
                    skipped.push(e.to_string());
                }
            }
        }
        Ok((usable, skipped))
    }

    /// The pool as it stands (damaged entries are removed).
    pub fn pool_status(&self) -> Result<PoolReport, AgentError> {
        if let Some(why) = self.no_pool_reason() {
            return Ok(PoolReport {
                target: 0,
                no_pool: Some(why),
                ..PoolReport::default()
            });
        }
        let device = DeviceRecord::require(&self.state)?;
        let (usable, skipped) = self.scan_pool(&device)?;
        Ok(PoolReport {
            keys: usable
                .into_iter()
                .map(|o| (o.key_id, o.created_at))
                .collect(),
            target: TPM_POOL_SIZE,
            skipped,
            no_pool: None,
        })
    }

    /// Makes keys in the TPM until the pool holds [`TPM_POOL_SIZE`] usable ones.
    pub fn fill_pool(&self) -> Result<PoolReport, AgentError> {
        let before = self.pool_status()?;
        let Some(provider) = self.provider.as_tpm() else {
            return Ok(before);
        };
        if before.no_pool.is_some() {
            return Ok(before);
        }
        let device = DeviceRecord::require(&self.state)?;
        let missing = TPM_POOL_SIZE.saturating_sub(before.keys.len());
        if missing > 0 {
            let keys = make_keys(provider, missing, self.now())?;
            self.store_pool_keys(&device, keys)?;
        }
        let mut after = self.pool_status()?;
        after.skipped = before.skipped;
        Ok(after)
    }

    /// `upn`'s new Hello key protected by `pin`: a pool key re-authorised to the PIN when
    /// the TPM provider has one, else one the provider makes now. A pool entry is deleted
    /// as soon as its key has been re-authorised.
    pub(crate) fn create_hello_key(
        &self,
        upn: &str,
        pin: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(StoredKey, Box<dyn HelloSigner>), AgentError> {
        if let (Some(provider), None) = (self.provider.as_tpm(), self.no_pool_reason()) {
            let device = DeviceRecord::require(&self.state)?;
            let (usable, skipped) = self.scan_pool(&device)?;
            for line in &skipped {
                progress(&format!("Key pool: skipped an entry: {line}"));
            }
            for entry in usable {
                match provider.adopt_pool_key(upn, &entry.blob, &entry.auth, pin, self.now()) {
                    Ok(made) => {
                        self.state.remove(&entry.name)?;
                        progress("Using a Hello key the TPM made ahead of time (key pool).");
                        return Ok(made);
                    }
                    Err(AgentError::TpmKeyNotHere { .. })
                    | Err(AgentError::TpmWrongPin { .. })
                    | Err(AgentError::Tpm(TpmError::InvalidBlob { .. })) => {
                        self.state.remove(&entry.name)?;
                        progress(&format!(
                            "Key pool: {}",
                            damaged(
                                &self.state.path(&entry.name).display().to_string(),
                                "this TPM does not accept it"
                            )
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.provider.create(upn, pin, self.now(), progress)
    }
}
