//! The module's state behind one mutex (CKF_OS_LOCKING_OK: the module locks for itself),
//! and every PKCS#11 function in safe Rust over Rust values. The FFI layer
//! ([`crate::ffi`]) only converts pointers to and from these.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use cryptoki_sys::*;

use crate::error::{HandleKind, P11Error, Result};
use crate::mechanism::{Mech, PssParams, SignOp};
use crate::objects::{self, Kind, Value};
use crate::signer::Signer;
use crate::token::{self, RsaPublic, Token};

/// The longest PIN accepted (bytes).
pub const MAX_PIN_LEN: usize = 256;
/// The shortest PIN a Hello PIN policy allows, for CK_TOKEN_INFO.
pub const MIN_PIN_LEN: CK_ULONG = 4;
/// The longest PIN a Hello PIN policy allows, for CK_TOKEN_INFO.
pub const MAX_POLICY_PIN_LEN: CK_ULONG = 127;
/// The most sessions open at once (all slots together).
pub const MAX_SESSIONS: usize = 1024;

struct Login {
    signer: Signer,
    public: RsaPublic,
}

struct Session {
    slot: CK_SLOT_ID,
    rw: bool,
    find: Option<Vec<CK_OBJECT_HANDLE>>,
    sign: Option<SignOp>,
}

/// The initialised module.
pub struct Module {
    state_dir: PathBuf,
    tokens: Vec<Token>,
    logins: BTreeMap<CK_SLOT_ID, Login>,
    sessions: BTreeMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_SESSION_HANDLE,
}

static MODULE: Mutex<Option<Module>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Module>> {
    // A panic inside a call is caught at the FFI boundary; the state it left is still
    // consistent enough to answer (every mutation is a single insert or remove).
    MODULE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn with<T>(f: impl FnOnce(&mut Module) -> Result<T>) -> Result<T> {
    let mut guard = lock();
    let module = guard.as_mut().ok_or(P11Error::NotInitialized)?;
    f(module)
}

/// What C_Initialize was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitArgs {
    /// Any of the four mutex callbacks is set.
    pub has_mutex_callbacks: bool,
    /// All four are set.
    pub all_mutex_callbacks: bool,
    /// CK_C_INITIALIZE_ARGS.flags.
    pub flags: CK_FLAGS,
    /// pReserved is not NULL.
    pub reserved: bool,
}

/// C_Initialize: `None` for NULL arguments.
pub fn initialize(args: Option<InitArgs>) -> Result<()> {
    if let Some(a) = args {
        if a.reserved {
            return Err(P11Error::InitArgs("pReserved must be NULL"));
        }
        if a.has_mutex_callbacks && !a.all_mutex_callbacks {
            return Err(P11Error::BadArguments(
                "either all four mutex functions or none",
            ));
        }
        // With CKF_OS_LOCKING_OK the module uses its own (OS) locking; without it, only
        // application-supplied mutexes would be allowed, which this module does not use.
        if a.has_mutex_callbacks && a.flags & CKF_OS_LOCKING_OK == 0 {
            return Err(P11Error::InitArgs(
                "application-supplied mutexes without CKF_OS_LOCKING_OK",
            ));
        }
    }
    let mut guard = lock();
    if guard.is_some() {
        return Err(P11Error::AlreadyInitialized);
    }
    let state_dir = token::state_dir();
    let tokens = token::discover(&state_dir);
    *guard = Some(Module {
        state_dir,
        tokens,
        logins: BTreeMap::new(),
        sessions: BTreeMap::new(),
        next_session: 1,
    });
    Ok(())
}

/// C_Finalize: ends every signer and session.
pub fn finalize() -> Result<()> {
    let mut guard = lock();
    if guard.take().is_none() {
        return Err(P11Error::NotInitialized);
    }
    Ok(())
}

/// Whether the module is initialised (for C_GetInfo, which needs it).
pub fn initialized() -> Result<()> {
    with(|_| Ok(()))
}

impl Module {
    fn token(&self, slot: CK_SLOT_ID) -> Result<&Token> {
        slot.checked_sub(1)
            .and_then(|i| self.tokens.get(i as usize))
            .ok_or(P11Error::Handle {
                kind: HandleKind::Slot,
                value: slot,
            })
    }

    fn session(&mut self, h: CK_SESSION_HANDLE) -> Result<&mut Session> {
        self.sessions.get_mut(&h).ok_or(P11Error::Handle {
            kind: HandleKind::Session,
            value: h,
        })
    }

    fn public(&self, slot: CK_SLOT_ID) -> Option<RsaPublic> {
        match self.logins.get(&slot) {
            Some(l) => Some(l.public.clone()),
            None => self.token(slot).ok().and_then(|t| t.public.clone()),
        }
    }

    fn visible(&self, slot: CK_SLOT_ID) -> Vec<CK_OBJECT_HANDLE> {
        let Ok(token) = self.token(slot) else {
            return Vec::new();
        };
        let public = self.public(slot);
        objects::visible(token, public.as_ref(), self.logins.contains_key(&slot))
            .into_iter()
            .map(|k| objects::handle(slot, k))
            .collect()
    }

    fn object(&self, slot: CK_SLOT_ID, h: CK_OBJECT_HANDLE) -> Result<Kind> {
        match objects::parse_handle(h) {
            Some((s, kind)) if s == slot && self.visible(slot).contains(&h) => Ok(kind),
            _ => Err(P11Error::Handle {
                kind: HandleKind::Object,
                value: h,
            }),
        }
    }

    fn logout_slot(&mut self, slot: CK_SLOT_ID) {
        // Dropping the signer closes its input; it exits.
        self.logins.remove(&slot);
        for s in self.sessions.values_mut().filter(|s| s.slot == slot) {
            s.sign = None;
            s.find = None;
        }
    }
}

/// The slot ids (every slot has its token).
pub fn slots() -> Result<Vec<CK_SLOT_ID>> {
    with(|m| Ok((1..=m.tokens.len() as CK_SLOT_ID).collect()))
}

/// The token of `slot` and its PIN state (for C_GetSlotInfo and C_GetTokenInfo).
pub fn token_info(slot: CK_SLOT_ID) -> Result<(Token, token::PinState, usize, usize)> {
    with(|m| {
        let token = m.token(slot)?.clone();
        let pin = token::pin_state(&m.state_dir, &token.upn);
        let sessions = m.sessions.values().filter(|s| s.slot == slot);
        let (all, rw) = sessions.fold((0, 0), |(a, r), s| (a + 1, r + usize::from(s.rw)));
        Ok((token, pin, all, rw))
    })
}

/// The mechanisms of `slot`'s token.
pub fn mechanisms(slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
    with(|m| Ok(crate::mechanism::list(m.token(slot)?.tpm)))
}

/// C_GetMechanismInfo.
pub fn mechanism_info(slot: CK_SLOT_ID, mech: CK_MECHANISM_TYPE) -> Result<CK_MECHANISM_INFO> {
    with(|m| {
        crate::mechanism::info(m.token(slot)?.tpm, mech).ok_or(P11Error::MechanismInvalid(mech))
    })
}

/// C_OpenSession: a serial session (read-write allowed: consumers such as ssh ask for
/// one; the token still refuses every write).
pub fn open_session(slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
    with(|m| {
        m.token(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(P11Error::NotOffered {
                what: "a parallel session",
                rv: CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            });
        }
        if m.sessions.len() >= MAX_SESSIONS {
            return Err(P11Error::NotOffered {
                what: "more than 1024 sessions",
                rv: CKR_SESSION_COUNT,
            });
        }
        let h = m.next_session;
        m.next_session = m.next_session.wrapping_add(1).max(1);
        m.sessions.insert(
            h,
            Session {
                slot,
                rw: flags & CKF_RW_SESSION != 0,
                find: None,
                sign: None,
            },
        );
        Ok(h)
    })
}

/// C_CloseSession: closing the slot's last session logs out (the signer exits).
pub fn close_session(h: CK_SESSION_HANDLE) -> Result<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        m.sessions.remove(&h);
        if !m.sessions.values().any(|s| s.slot == slot) {
            m.logout_slot(slot);
        }
        Ok(())
    })
}

/// C_CloseAllSessions.
pub fn close_all_sessions(slot: CK_SLOT_ID) -> Result<()> {
    with(|m| {
        m.token(slot)?;
        m.sessions.retain(|_, s| s.slot != slot);
        m.logout_slot(slot);
        Ok(())
    })
}

/// C_GetSessionInfo: (slot, state, flags).
pub fn session_info(h: CK_SESSION_HANDLE) -> Result<(CK_SLOT_ID, CK_STATE, CK_FLAGS)> {
    with(|m| {
        let (slot, rw) = {
            let s = m.session(h)?;
            (s.slot, s.rw)
        };
        let user = m.logins.contains_key(&slot);
        let state = match (rw, user) {
            (false, false) => CKS_RO_PUBLIC_SESSION,
            (false, true) => CKS_RO_USER_FUNCTIONS,
            (true, false) => CKS_RW_PUBLIC_SESSION,
            (true, true) => CKS_RW_USER_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
        Ok((slot, state, flags))
    })
}

/// C_Login. The PIN goes to the signer child, which unlocks the key exactly as
/// `latchkey signin` would; the module keeps neither the PIN nor the key.
pub fn login(h: CK_SESSION_HANDLE, user_type: CK_USER_TYPE, pin: Option<&[u8]>) -> Result<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        if user_type != CKU_USER {
            return Err(P11Error::UserTypeInvalid);
        }
        if m.logins.contains_key(&slot) {
            return Err(P11Error::AlreadyLoggedIn);
        }
        // No protected authentication path: the PIN comes with the call.
        let pin = pin.ok_or(P11Error::BadArguments("pPin is NULL"))?;
        if pin.is_empty() || pin.len() > MAX_PIN_LEN {
            return Err(P11Error::PinLen);
        }
        let pin = zeroize::Zeroizing::new(
            std::str::from_utf8(pin)
                .map_err(|_| P11Error::PinLen)?
                .to_owned(),
        );
        let token = m.token(slot)?.clone();
        let (signer, public) = Signer::login(&m.state_dir, &token.upn, &pin)?;
        if public.key_id() != token.key_id {
            return Err(P11Error::Signer(
                "the signer unlocked another key than the token's (the key changed since C_Initialize)"
                    .to_owned(),
            ));
        }
        m.logins.insert(slot, Login { signer, public });
        Ok(())
    })
}

/// C_Logout: the signer exits.
pub fn logout(h: CK_SESSION_HANDLE) -> Result<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        if !m.logins.contains_key(&slot) {
            return Err(P11Error::NotLoggedIn);
        }
        m.logout_slot(slot);
        Ok(())
    })
}

/// C_GetAttributeValue: one value per type asked.
pub fn attributes(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    types: &[CK_ATTRIBUTE_TYPE],
) -> Result<Vec<Value>> {
    with(|m| {
        let slot = m.session(h)?.slot;
        let kind = m.object(slot, object)?;
        let token = m.token(slot)?;
        let public = m.public(slot);
        Ok(types
            .iter()
            .map(|t| objects::attribute(token, public.as_ref(), kind, *t))
            .collect())
    })
}

/// C_FindObjectsInit.
pub fn find_init(h: CK_SESSION_HANDLE, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Result<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        if m.session(h)?.find.is_some() {
            return Err(P11Error::Operation { active: true });
        }
        let token = m.token(slot)?.clone();
        let public = m.public(slot);
        let found: Vec<CK_OBJECT_HANDLE> = m
            .visible(slot)
            .into_iter()
            .filter(|&o| {
                objects::parse_handle(o)
                    .is_some_and(|(_, k)| objects::matches(&token, public.as_ref(), k, template))
            })
            .rev()
            .collect();
        m.session(h)?.find = Some(found);
        Ok(())
    })
}

/// C_FindObjects: at most `max` more handles.
pub fn find(h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
    with(|m| {
        let found = m
            .session(h)?
            .find
            .as_mut()
            .ok_or(P11Error::Operation { active: false })?;
        let mut out = Vec::new();
        while out.len() < max {
            match found.pop() {
                Some(o) => out.push(o),
                None => break,
            }
        }
        Ok(out)
    })
}

/// C_FindObjectsFinal.
pub fn find_final(h: CK_SESSION_HANDLE) -> Result<()> {
    with(|m| {
        m.session(h)?
            .find
            .take()
            .map(|_| ())
            .ok_or(P11Error::Operation { active: false })
    })
}

/// C_SignInit with `mechanism` (and its PSS parameters) and the private key `key`.
pub fn sign_init(
    h: CK_SESSION_HANDLE,
    mechanism: CK_MECHANISM_TYPE,
    pss: Option<PssParams>,
    key: CK_OBJECT_HANDLE,
) -> Result<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        if m.session(h)?.sign.is_some() {
            return Err(P11Error::Operation { active: true });
        }
        if !m.logins.contains_key(&slot) {
            return Err(P11Error::NotLoggedIn);
        }
        if m.object(slot, key).ok() != Some(Kind::PrivateKey) {
            return Err(P11Error::Handle {
                kind: HandleKind::Key,
                value: key,
            });
        }
        let mech = Mech::new(m.token(slot)?.tpm, mechanism, pss)?;
        m.session(h)?.sign = Some(SignOp::new(mech));
        Ok(())
    })
}

/// The length of a signature in `h`'s sign operation (the modulus length).
fn signature_len(m: &Module, slot: CK_SLOT_ID) -> Result<usize> {
    m.logins
        .get(&slot)
        .map(|l| l.public.modulus_len())
        .ok_or(P11Error::NotLoggedIn)
}

/// What C_Sign / C_SignFinal produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Signed {
    /// The size query (NULL buffer) or a buffer too small: the length needed; the
    /// operation stays active.
    Length(usize),
    /// The signature; the operation is over.
    Signature(Vec<u8>),
}

fn finish(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    data: Option<&[u8]>,
    room: Option<usize>,
) -> Result<Signed> {
    let slot = m.session(h)?.slot;
    let op = m
        .session(h)?
        .sign
        .clone()
        .ok_or(P11Error::Operation { active: false })?;
    let result = (|| {
        let needed = signature_len(m, slot)?;
        if let Some(data) = data {
            if op.updated {
                return Err(P11Error::Operation { active: true });
            }
            // Checked now, so a bad input fails at the size query too.
            let mut probe = op.clone();
            probe.update(data)?;
            probe.prehashed()?;
        } else {
            op.prehashed()?;
        }
        match room {
            None => return Ok(Signed::Length(needed)),
            Some(r) if r < needed => return Err(P11Error::BufferTooSmall { needed }),
            Some(_) => {}
        }
        let mut op = op.clone();
        if let Some(data) = data {
            op.update(data)?;
        }
        let prehashed = op.prehashed()?;
        let login = m.logins.get_mut(&slot).ok_or(P11Error::NotLoggedIn)?;
        login.signer.sign(&prehashed).map(Signed::Signature)
    })();
    match &result {
        Ok(Signed::Length(_)) | Err(P11Error::BufferTooSmall { .. }) => {}
        _ => m.session(h)?.sign = None,
    }
    result
}

/// C_Sign over `data`; `room` is the caller's buffer length (`None`: a NULL buffer).
pub fn sign(h: CK_SESSION_HANDLE, data: &[u8], room: Option<usize>) -> Result<Signed> {
    with(|m| finish(m, h, Some(data), room))
}

/// C_SignUpdate.
pub fn sign_update(h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
    with(|m| {
        let session = m.session(h)?;
        let op = session
            .sign
            .as_mut()
            .ok_or(P11Error::Operation { active: false })?;
        op.updated = true;
        let r = op.update(data);
        if r.is_err() {
            session.sign = None;
        }
        r
    })
}

/// C_SignFinal; `room` as for [`sign`].
pub fn sign_final(h: CK_SESSION_HANDLE, room: Option<usize>) -> Result<Signed> {
    with(|m| finish(m, h, None, room))
}

/// A function that writes to the (read-only) token, for a valid session.
pub fn refuse_write(h: CK_SESSION_HANDLE, what: &'static str) -> Result<()> {
    with(|m| {
        m.session(h)?;
        Err(P11Error::NotOffered {
            what,
            rv: CKR_TOKEN_WRITE_PROTECTED,
        })
    })
}

/// The count of open sessions (tests).
#[cfg(test)]
pub fn session_count() -> usize {
    lock().as_ref().map_or(0, |m| m.sessions.len())
}
