//! The storage primary key: the persistent one at 0x81000001 when it is the standard SRK,
//! else recreated from the standard template.
//!
//! Both give the same key: a primary key is derived from the owner hierarchy's seed and
//! the template, so a key blob made under one loads under the other. The persistent key
//! saves the seconds a real TPM takes to derive an RSA-2048 primary; recreating needs no
//! provisioning and no owner authorisation, and is what a freshly cleared TPM or swtpm
//! offers.

use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::{KeyHandle, PersistentTpmHandle, TpmHandle};
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::structures::{CapabilityData, Public};
use tss_esapi::traits::Marshall;

use crate::device::{Srk, SrkSource, Tpm};
use crate::error::{from_tss, TpmError};
use crate::templates::{self, SRK_PERSISTENT_HANDLE};

impl Tpm {
    /// The storage primary key, made or found on first use.
    pub(crate) fn srk(&mut self) -> Result<KeyHandle, TpmError> {
        if let Some(srk) = self.srk {
            return Ok(srk.handle);
        }
        let srk = match self.persistent_srk()? {
            Some(handle) => Srk {
                handle,
                source: SrkSource::Persistent,
            },
            None => {
                let template = templates::srk(Default::default())?;
                let created = self
                    .with_password(|ctx| {
                        ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
                    })
                    .map_err(srk_error)?;
                Srk {
                    handle: created.key_handle,
                    source: SrkSource::Transient,
                }
            }
        };
        self.srk = Some(srk);
        Ok(srk.handle)
    }

    /// Where the storage primary key comes from (finding or making it first).
    pub fn srk_source(&mut self) -> Result<SrkSource, TpmError> {
        self.srk()?;
        Ok(self.srk.map(|s| s.source).unwrap_or(SrkSource::Transient))
    }

    /// The object at 0x81000001 when it exists and its public area is the standard SRK
    /// template's (with its own `unique`).
    fn persistent_srk(&mut self) -> Result<Option<KeyHandle>, TpmError> {
        // Ask first whether the handle exists (TPM2_GetCapability(TPM_CAP_HANDLES)), so a
        // TPM without one costs no failed command (and no TSS error log line).
        let (data, _) = self
            .ctx
            .execute_without_session(|ctx| {
                ctx.get_capability(CapabilityType::Handles, SRK_PERSISTENT_HANDLE, 1)
            })
            .map_err(|e| from_tss("TPM2_GetCapability(HANDLES)", e))?;
        let present = match data {
            CapabilityData::Handles(list) => list
                .into_inner()
                .into_iter()
                .any(|h| u32::from(h) == SRK_PERSISTENT_HANDLE),
            _ => false,
        };
        if !present {
            return Ok(None);
        }
        let tpm_handle = PersistentTpmHandle::new(SRK_PERSISTENT_HANDLE)
            .map_err(|e| from_tss("persistent handle", e))?;
        let Ok(object) = self.ctx.execute_without_session(|ctx| {
            ctx.tr_from_tpm_public(TpmHandle::Persistent(tpm_handle))
        }) else {
            return Ok(None);
        };
        let handle = KeyHandle::from(object);
        let Ok((public, _, _)) = self.ctx.read_public(handle) else {
            let mut object = object;
            let _ = self.ctx.tr_close(&mut object);
            return Ok(None);
        };
        if is_standard_srk(&public)? {
            Ok(Some(handle))
        } else {
            let mut object = object;
            let _ = self.ctx.tr_close(&mut object);
            Ok(None)
        }
    }
}

/// True when `public` is the standard SRK template with some `unique`.
fn is_standard_srk(public: &Public) -> Result<bool, TpmError> {
    let Public::Rsa { unique, .. } = public else {
        return Ok(false);
    };
    let expected = templates::srk(unique.clone())?;
    let a = public
        .marshall()
        .map_err(|e| from_tss("marshal TPMT_PUBLIC", e))?;
    let b = expected
        .marshall()
        .map_err(|e| from_tss("marshal TPMT_PUBLIC", e))?;
    Ok(a == b)
}

/// A failed SRK creation. An authorisation failure there is not the user's PIN: the owner
/// hierarchy has an authorisation value.
fn srk_error(e: tss_esapi::Error) -> TpmError {
    const COMMAND: &str = "TPM2_CreatePrimary(SRK)";
    if let tss_esapi::Error::Tss2Error(rc) = e {
        let raw = crate::error::raw_rc(rc);
        if crate::error::classify(raw) == crate::error::RcClass::WrongAuth {
            return TpmError::Command {
                command: COMMAND,
                rc: raw,
                detail: "the owner hierarchy's authorisation value is set; provision a standard SRK at 0x81000001".to_string(),
            };
        }
    }
    from_tss(COMMAND, e)
}
