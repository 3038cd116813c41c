//! An open TPM: the connection, the storage primary key it keeps loaded, and the helpers
//! every command shares (uncached property reads, password sessions, flushing).

use tss_esapi::attributes::SessionAttributesBuilder;
use tss_esapi::constants::{CapabilityType, PropertyTag, SessionType};
use tss_esapi::handles::{KeyHandle, ObjectHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{Auth, CapabilityData, SymmetricDefinition, TaggedTpmPropertyList};
use tss_esapi::Context;

use crate::error::{from_tss, TpmError};
use crate::tcti::Tcti;

/// The longest authorisation value accepted: the digest size of SHA-256, the name
/// algorithm of every key this crate makes (TPM 2.0 Part 1, "authValue").
pub const MAX_AUTH_LEN: usize = 32;

/// Where the storage primary key in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrkSource {
    /// The persistent object at 0x81000001, whose public area matches the standard SRK
    /// template.
    Persistent,
    /// Recreated from the standard SRK template in the owner hierarchy (a transient
    /// object, flushed when the [`Tpm`] is dropped).
    Transient,
}

/// The storage primary key while a [`Tpm`] is open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Srk {
    pub(crate) handle: KeyHandle,
    pub(crate) source: SrkSource,
}

/// A connection to one TPM 2.0.
///
/// Not `Sync`: one command at a time. The storage primary key is made (or found) on first
/// use and, when transient, flushed on drop; every other object a method loads is flushed
/// before the method returns, so a TPM without a resource manager (swtpm, or
/// `/dev/tpm0`) does not fill up.
pub struct Tpm {
    pub(crate) ctx: Context,
    pub(crate) tcti: Tcti,
    pub(crate) srk: Option<Srk>,
}

impl std::fmt::Debug for Tpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tpm")
            .field("tcti", &self.tcti)
            .field("srk", &self.srk.map(|s| s.source))
            .finish()
    }
}

impl Tpm {
    /// Connect to the TPM behind `tcti`.
    pub fn open(tcti: &Tcti) -> Result<Self, TpmError> {
        let ctx = Context::new(tcti.name_conf()?).map_err(|e| TpmError::Unavailable {
            reason: format!("cannot open {tcti}: {e}"),
        })?;
        Ok(Tpm {
            ctx,
            tcti: tcti.clone(),
            srk: None,
        })
    }

    /// The TCTI this connection uses.
    pub fn tcti(&self) -> &Tcti {
        &self.tcti
    }

    /// Read TPM properties starting at `first` (TPM2_GetCapability, TPM_CAP_TPM_PROPERTIES),
    /// without the TSS's cache (the dictionary-attack properties change).
    pub(crate) fn properties(
        &mut self,
        first: PropertyTag,
        count: u32,
    ) -> Result<TaggedTpmPropertyList, TpmError> {
        let (data, _more) = self
            .ctx
            .execute_without_session(|ctx| {
                ctx.get_capability(CapabilityType::TpmProperties, first.into(), count)
            })
            .map_err(|e| from_tss("TPM2_GetCapability", e))?;
        match data {
            CapabilityData::TpmProperties(list) => Ok(list),
            _ => Err(TpmError::UnexpectedObject {
                detail: "GetCapability(TPM_PROPERTIES) returned another capability",
            }),
        }
    }

    /// Read one TPM property, uncached; `None` when the TPM does not report it.
    pub(crate) fn property(&mut self, tag: PropertyTag) -> Result<Option<u32>, TpmError> {
        Ok(self.properties(tag, 1)?.find(tag).map(|p| p.value()))
    }

    /// Set the authorisation value the password session will present for `handle`.
    pub(crate) fn set_auth(&mut self, handle: ObjectHandle, auth: &[u8]) -> Result<(), TpmError> {
        let auth = to_auth(auth)?;
        self.ctx
            .tr_set_auth(handle, auth)
            .map_err(|e| from_tss("Esys_TR_SetAuth", e))
    }

    /// Flush a transient object; errors are ignored (the object may already be gone, and
    /// nothing better can be done about a failed flush than to report the first error).
    pub(crate) fn flush(&mut self, handle: impl Into<ObjectHandle>) {
        let _ = self.ctx.flush_context(handle.into());
    }

    /// Run `f` with one HMAC session (session 1) salted to the storage primary key, with
    /// parameter encryption of the first command parameter (`decrypt`).
    ///
    /// The authorisation value never crosses the bus: the TPM checks an HMAC keyed with
    /// it, and the session key comes from a salt only the TPM's SRK can decrypt. A new
    /// authorisation value sent as the first parameter (TPM2_Create's inSensitive,
    /// TPM2_ObjectChangeAuth's newAuth) is encrypted with the session key. The session is
    /// flushed afterwards, whatever `f` returned.
    pub(crate) fn with_salted_session<T>(
        &mut self,
        command: &'static str,
        f: impl FnOnce(&mut Context) -> tss_esapi::Result<T>,
    ) -> Result<T, TpmError> {
        self.with_salted_sessions(command, None, f)
    }

    /// [`Tpm::with_salted_session`] as session 1, and `second` as session 2 (for a
    /// command with two authorised handles).
    pub(crate) fn with_salted_sessions<T>(
        &mut self,
        command: &'static str,
        second: Option<AuthSession>,
        f: impl FnOnce(&mut Context) -> tss_esapi::Result<T>,
    ) -> Result<T, TpmError> {
        let srk = self.srk()?;
        let session = self
            .ctx
            .start_auth_session(
                Some(srk),
                None,
                None,
                SessionType::Hmac,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(|e| from_tss("TPM2_StartAuthSession", e))?
            .ok_or(TpmError::UnexpectedObject {
                detail: "TPM2_StartAuthSession returned no session",
            })?;
        let (attributes, mask) = SessionAttributesBuilder::new()
            .with_decrypt(true)
            .with_continue_session(true)
            .build();
        let result = self
            .ctx
            .tr_sess_set_attributes(session, attributes, mask)
            .and_then(|()| {
                self.ctx
                    .execute_with_sessions((Some(session), second, None), f)
            })
            .map_err(|e| from_tss(command, e));
        self.flush(SessionHandle::from(session));
        result
    }

    /// Run `f` with one password session (session 1): for objects whose authorisation
    /// value is empty (the SRK, the EK's endorsement hierarchy, AIKs, device keys).
    pub(crate) fn with_password<T>(
        &mut self,
        f: impl FnOnce(&mut Context) -> tss_esapi::Result<T>,
    ) -> tss_esapi::Result<T> {
        self.ctx
            .execute_with_session(Some(AuthSession::Password), f)
    }
}

impl Drop for Tpm {
    fn drop(&mut self) {
        if let Some(Srk {
            handle,
            source: SrkSource::Transient,
        }) = self.srk.take()
        {
            self.flush(handle);
        }
    }
}

/// An authorisation value for the TSS, checked for length.
pub(crate) fn to_auth(auth: &[u8]) -> Result<Auth, TpmError> {
    if auth.len() > MAX_AUTH_LEN {
        return Err(TpmError::AuthTooLong {
            len: auth.len(),
            max: MAX_AUTH_LEN,
        });
    }
    Auth::try_from(auth.to_vec()).map_err(|e| from_tss("Auth", e))
}

#[cfg(test)]
mod tests {
    /// The agent's pool refills keys on a background thread: a `Tpm` can move there.
    #[test]
    fn tpm_is_send() {
        fn send<T: Send>() {}
        send::<super::Tpm>();
    }
}
