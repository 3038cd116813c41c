//! The C ABI: `C_GetFunctionList` and the `CK_FUNCTION_LIST` entry points. The only
//! module of this crate with `unsafe` code; every function here converts the consumer's
//! pointers to Rust values, calls [`crate::module`], and writes the results back.
//!
//! # What each `unsafe` block relies on
//!
//! The PKCS#11 contract (v2.40, section 5) is that every pointer a consumer passes is
//! either NULL or valid for the length the same call gives with it, for the duration of
//! the call, and not aliased by another thread during it. The module cannot check more
//! than NULL, so it relies on exactly that and nothing else:
//!
//! - [`read_slice`]: `p` points to `len` readable bytes (when `len > 0`; NULL is refused
//!   and a zero length never touches the pointer).
//! - [`read_items`]: `p` points to `count` readable, initialised `T` (templates,
//!   mechanism parameters).
//! - [`write_out`]: `p` is NULL (refused) or points to a writable, aligned `T`.
//! - [`write_list`] and [`write_bytes`]: the buffer holds as many elements as `*count` /
//!   `*len` says; the module never writes past it (two-call pattern: a NULL buffer asks
//!   for the length, a short one gets CKR_BUFFER_TOO_SMALL and the length).
//! - [`C_GetFunctionList`]: hands out a pointer to a `static` list that lives as long as
//!   the library is loaded and that the consumer, per the standard, only reads.
//!
//! Every entry point runs inside [`guard`]: a panic is caught with
//! `std::panic::catch_unwind` and answered CKR_GENERAL_ERROR, never unwound into C.
#![allow(non_snake_case)]

mod stubs;
#[cfg(test)]
mod tests;

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cryptoki_sys::*;

use crate::error::{P11Error, Result};
use crate::mechanism::PssParams;
use crate::module::{self, InitArgs, Signed};
use crate::objects::Value;

/// A test-only hook: when set, the next [`guard`] panics inside (to prove the panic is
/// caught).
#[cfg(test)]
pub(crate) static PANIC_NEXT_CALL: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Runs `f`, mapping its error to its `CK_RV` (reported on stderr with
/// `LATCHKEY_PKCS11_DEBUG=1`) and a panic to CKR_GENERAL_ERROR.
fn guard(f: impl FnOnce() -> Result<()>) -> CK_RV {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        if PANIC_NEXT_CALL.swap(false, std::sync::atomic::Ordering::SeqCst) {
            #[allow(clippy::panic)]
            {
                panic!("test hook: a panic inside an entry point");
            }
        }
        f()
    }));
    match outcome {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => {
            e.report();
            e.rv()
        }
        Err(_) => CKR_GENERAL_ERROR,
    }
}

fn usize_of(n: CK_ULONG) -> Result<usize> {
    usize::try_from(n).map_err(|_| P11Error::BadArguments("a length beyond the address space"))
}

/// Reads `len` bytes at `p`.
fn read_slice<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    let len = usize_of(len)?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(P11Error::BadArguments(
            "a NULL buffer with a non-zero length",
        ));
    }
    // SAFETY: the PKCS#11 contract (module doc): `p` points to `len` readable bytes for
    // the duration of this call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Reads `count` items at `p`.
fn read_items<'a, T>(p: *const T, count: CK_ULONG) -> Result<&'a [T]> {
    let count = usize_of(count)?;
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(P11Error::BadArguments("a NULL array with a non-zero count"));
    }
    // SAFETY: the PKCS#11 contract: `p` points to `count` initialised items.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// Writes `value` to `p`.
fn write_out<T>(p: *mut T, value: T) -> Result<()> {
    if p.is_null() {
        return Err(P11Error::BadArguments("a NULL output pointer"));
    }
    // SAFETY: the PKCS#11 contract: a non-NULL output pointer is writable and aligned.
    unsafe { p.write(value) };
    Ok(())
}

/// Reads `*p`.
fn read_in<T: Copy>(p: *const T) -> Result<T> {
    if p.is_null() {
        return Err(P11Error::BadArguments("a NULL pointer"));
    }
    // SAFETY: the PKCS#11 contract: a non-NULL input pointer is readable and aligned.
    Ok(unsafe { p.read() })
}

/// The two-call pattern for a list: NULL `p` → the count; `*count` too small → the count
/// and CKR_BUFFER_TOO_SMALL; else the items.
fn write_list(p: *mut CK_ULONG, count: *mut CK_ULONG, items: &[CK_ULONG]) -> Result<()> {
    let n = items.len() as CK_ULONG;
    if p.is_null() {
        return write_out(count, n);
    }
    let room = read_in(count)?;
    write_out(count, n)?;
    if room < n {
        return Err(P11Error::BufferTooSmall {
            needed: items.len(),
        });
    }
    // SAFETY: `p` holds `room >= n` elements (the caller said so in `*count`).
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len()) };
    Ok(())
}

/// Copies `bytes` to `p`, which holds `room` bytes (checked by the caller).
fn write_bytes(p: *mut u8, room: usize, bytes: &[u8]) -> Result<()> {
    if p.is_null() || room < bytes.len() {
        return Err(P11Error::BufferTooSmall {
            needed: bytes.len(),
        });
    }
    // SAFETY: `p` holds `room >= bytes.len()` bytes (the caller's length).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    Ok(())
}

/// `text` in a fixed-width, blank-padded PKCS#11 string field, cut at a character
/// boundary.
pub(crate) fn padded<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let (Some(dst), Some(src)) = (out.get_mut(..end), text.as_bytes().get(..end)) {
        dst.copy_from_slice(src);
    }
    out
}

/// The only exported symbol: the function list.
#[no_mangle]
pub extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        // The list is a `static`; the cast to `*mut` is what the C signature asks for, and
        // consumers only read through it.
        write_out(
            list,
            std::ptr::addr_of!(FUNCTION_LIST) as *mut CK_FUNCTION_LIST,
        )
    })
}

extern "C" fn C_Initialize(args: *mut c_void) -> CK_RV {
    guard(|| {
        let args = if args.is_null() {
            None
        } else {
            let a: CK_C_INITIALIZE_ARGS = read_in(args as *const CK_C_INITIALIZE_ARGS)?;
            let set = [
                a.CreateMutex.is_some(),
                a.DestroyMutex.is_some(),
                a.LockMutex.is_some(),
                a.UnlockMutex.is_some(),
            ];
            Some(InitArgs {
                has_mutex_callbacks: set.iter().any(|&s| s),
                all_mutex_callbacks: set.iter().all(|&s| s),
                flags: a.flags,
                reserved: !a.pReserved.is_null(),
            })
        };
        module::initialize(args)
    })
}

extern "C" fn C_Finalize(reserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !reserved.is_null() {
            return Err(P11Error::BadArguments(
                "C_Finalize's pReserved must be NULL",
            ));
        }
        module::finalize()
    })
}

extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    guard(|| {
        module::initialized()?;
        write_out(
            info,
            CK_INFO {
                cryptokiVersion: CK_VERSION {
                    major: 2,
                    minor: 40,
                },
                manufacturerID: padded("Latchkey"),
                flags: 0,
                libraryDescription: padded("Latchkey Hello smart card"),
                libraryVersion: CK_VERSION { major: 0, minor: 1 },
            },
        )
    })
}

extern "C" fn C_GetSlotList(
    _present: CK_BBOOL,
    list: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| write_list(list, count, &module::slots()?))
}

extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| {
        let (token, _, _, _) = module::token_info(slot)?;
        write_out(
            info,
            CK_SLOT_INFO {
                slotDescription: padded(&format!("Latchkey Hello {}", token.upn)),
                manufacturerID: padded("Latchkey"),
                flags: CKF_TOKEN_PRESENT | if token.tpm { CKF_HW_SLOT } else { 0 },
                hardwareVersion: CK_VERSION { major: 0, minor: 1 },
                firmwareVersion: CK_VERSION { major: 0, minor: 1 },
            },
        )
    })
}

extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| {
        let (token, pin, sessions, rw) = module::token_info(slot)?;
        let mut flags = CKF_LOGIN_REQUIRED
            | CKF_USER_PIN_INITIALIZED
            | CKF_TOKEN_INITIALIZED
            | CKF_WRITE_PROTECTED;
        if pin.locked {
            flags |= CKF_USER_PIN_LOCKED;
        } else if pin.failures > 0 {
            flags |= CKF_USER_PIN_COUNT_LOW;
            if pin.remaining() == 1 {
                flags |= CKF_USER_PIN_FINAL_TRY;
            }
        }
        write_out(
            info,
            CK_TOKEN_INFO {
                label: padded(&token.upn),
                manufacturerID: padded("Latchkey"),
                model: padded(if token.tpm {
                    "Hello TPM 2.0"
                } else {
                    "Hello software"
                }),
                serialNumber: padded(token.key_id.get(..16).unwrap_or(&token.key_id)),
                flags,
                ulMaxSessionCount: module::MAX_SESSIONS as CK_ULONG,
                ulSessionCount: sessions as CK_ULONG,
                ulMaxRwSessionCount: module::MAX_SESSIONS as CK_ULONG,
                ulRwSessionCount: rw as CK_ULONG,
                ulMaxPinLen: module::MAX_POLICY_PIN_LEN,
                ulMinPinLen: module::MIN_PIN_LEN,
                ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
                ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
                ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
                ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
                hardwareVersion: CK_VERSION { major: 0, minor: 1 },
                firmwareVersion: CK_VERSION { major: 0, minor: 1 },
                utcTime: padded(""),
            },
        )
    })
}

extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| write_list(list, count, &module::mechanisms(slot)?))
}

extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    mech: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| write_out(info, module::mechanism_info(slot, mech)?))
}

extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _application: *mut c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if session.is_null() {
            return Err(P11Error::BadArguments("phSession is NULL"));
        }
        write_out(session, module::open_session(slot, flags)?)
    })
}

extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| module::close_session(session))
}

extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard(|| module::close_all_sessions(slot))
}

extern "C" fn C_GetSessionInfo(session: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO) -> CK_RV {
    guard(|| {
        if info.is_null() {
            return Err(P11Error::BadArguments("pInfo is NULL"));
        }
        let (slotID, state, flags) = module::session_info(session)?;
        write_out(
            info,
            CK_SESSION_INFO {
                slotID,
                state,
                flags,
                ulDeviceError: 0,
            },
        )
    })
}

extern "C" fn C_Login(
    session: CK_SESSION_HANDLE,
    user_type: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let pin = if pin.is_null() {
            None
        } else if pin_len as usize > module::MAX_PIN_LEN {
            return Err(P11Error::PinLen);
        } else {
            Some(read_slice(pin, pin_len)?)
        };
        module::login(session, user_type, pin)
    })
}

extern "C" fn C_Logout(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| module::logout(session))
}

extern "C" fn C_GetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // A copy: the caller's template is written to through raw pointers below.
        let attrs: Vec<CK_ATTRIBUTE> = read_items(template as *const CK_ATTRIBUTE, count)?.to_vec();
        let types: Vec<CK_ATTRIBUTE_TYPE> = attrs.iter().map(|a| a.type_).collect();
        let values = module::attributes(session, object, &types)?;
        let mut worst: Option<P11Error> = None;
        for (i, (attr, value)) in attrs.iter().zip(values.iter()).enumerate() {
            // The i-th attribute's ulValueLen, inside the caller's template (`i < count`).
            let len_field = template
                .wrapping_add(i)
                .cast::<u8>()
                .wrapping_add(std::mem::offset_of!(CK_ATTRIBUTE, ulValueLen))
                .cast::<CK_ULONG>();
            let len = match value {
                Value::Bytes(bytes) if attr.pValue.is_null() => bytes.len() as CK_ULONG,
                Value::Bytes(bytes) if (attr.ulValueLen as usize) < bytes.len() => {
                    worst = Some(P11Error::BufferTooSmall {
                        needed: bytes.len(),
                    });
                    CK_UNAVAILABLE_INFORMATION
                }
                Value::Bytes(bytes) => {
                    write_bytes(attr.pValue as *mut u8, attr.ulValueLen as usize, bytes)?;
                    bytes.len() as CK_ULONG
                }
                Value::Invalid | Value::Sensitive => {
                    worst = Some(P11Error::Attribute {
                        attr: attr.type_,
                        sensitive: *value == Value::Sensitive,
                    });
                    CK_UNAVAILABLE_INFORMATION
                }
            };
            write_out(len_field, len)?;
        }
        worst.map_or(Ok(()), Err)
    })
}

extern "C" fn C_FindObjectsInit(
    session: CK_SESSION_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let attrs = read_items(template as *const CK_ATTRIBUTE, count)?;
        let mut wanted = Vec::with_capacity(attrs.len());
        for a in attrs {
            let value = read_slice(a.pValue as *const u8, a.ulValueLen)?;
            wanted.push((a.type_, value.to_vec()));
        }
        module::find_init(session, &wanted)
    })
}

extern "C" fn C_FindObjects(
    session: CK_SESSION_HANDLE,
    objects: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if count.is_null() || (objects.is_null() && max > 0) {
            return Err(P11Error::BadArguments("phObject or pulObjectCount is NULL"));
        }
        let found = module::find(session, usize_of(max)?)?;
        if !found.is_empty() {
            // SAFETY: `objects` holds `max >= found.len()` handles.
            unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), objects, found.len()) };
        }
        write_out(count, found.len() as CK_ULONG)
    })
}

extern "C" fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| module::find_final(session))
}

extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let m: CK_MECHANISM = read_in(mechanism as *const CK_MECHANISM)?;
        let pss = if m.pParameter.is_null() {
            None
        } else if m.ulParameterLen as usize == std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>() {
            let p: CK_RSA_PKCS_PSS_PARAMS = read_in(m.pParameter as *const CK_RSA_PKCS_PSS_PARAMS)?;
            Some(PssParams {
                hash: p.hashAlg,
                mgf: p.mgf,
                salt_len: p.sLen,
            })
        } else {
            return Err(P11Error::MechanismParam(format!(
                "parameters of {} bytes (CK_RSA_PKCS_PSS_PARAMS is {})",
                m.ulParameterLen,
                std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>()
            )));
        };
        module::sign_init(session, m.mechanism, pss, key)
    })
}

/// Writes a signing result through the two-call pattern.
fn deliver(result: Signed, signature: *mut CK_BYTE, len: *mut CK_ULONG) -> Result<()> {
    match result {
        Signed::Length(n) => write_out(len, n as CK_ULONG),
        Signed::Signature(sig) => {
            let room = usize_of(read_in(len)?)?;
            write_bytes(signature, room, &sig)?;
            write_out(len, sig.len() as CK_ULONG)
        }
    }
}

/// The room the caller gave: `None` for a NULL buffer (the size query).
fn room(signature: *mut CK_BYTE, len: *mut CK_ULONG) -> Result<Option<usize>> {
    let n = usize_of(read_in(len)?)?;
    Ok((!signature.is_null()).then_some(n))
}

fn signing(
    signature: *mut CK_BYTE,
    len: *mut CK_ULONG,
    f: impl FnOnce(Option<usize>) -> Result<Signed>,
) -> Result<()> {
    let room = room(signature, len)?;
    match f(room) {
        Err(P11Error::BufferTooSmall { needed }) => {
            write_out(len, needed as CK_ULONG)?;
            Err(P11Error::BufferTooSmall { needed })
        }
        other => deliver(other?, signature, len),
    }
}

extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let data = read_slice(data, data_len)?;
        signing(signature, signature_len, |room| {
            module::sign(session, data, room)
        })
    })
}

extern "C" fn C_SignUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, len: CK_ULONG) -> CK_RV {
    guard(|| module::sign_update(session, read_slice(part, len)?))
}

extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        signing(signature, signature_len, |room| {
            module::sign_final(session, room)
        })
    })
}

/// The function list C_GetFunctionList hands out (PKCS#11 2.40).
pub(super) static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
    version: CK_VERSION {
        major: 2,
        minor: 40,
    },
    C_Initialize: Some(C_Initialize),
    C_Finalize: Some(C_Finalize),
    C_GetInfo: Some(C_GetInfo),
    C_GetFunctionList: Some(C_GetFunctionList),
    C_GetSlotList: Some(C_GetSlotList),
    C_GetSlotInfo: Some(C_GetSlotInfo),
    C_GetTokenInfo: Some(C_GetTokenInfo),
    C_GetMechanismList: Some(C_GetMechanismList),
    C_GetMechanismInfo: Some(C_GetMechanismInfo),
    C_InitToken: Some(stubs::C_InitToken),
    C_InitPIN: Some(stubs::C_InitPIN),
    C_SetPIN: Some(stubs::C_SetPIN),
    C_OpenSession: Some(C_OpenSession),
    C_CloseSession: Some(C_CloseSession),
    C_CloseAllSessions: Some(C_CloseAllSessions),
    C_GetSessionInfo: Some(C_GetSessionInfo),
    C_GetOperationState: Some(stubs::C_GetOperationState),
    C_SetOperationState: Some(stubs::C_SetOperationState),
    C_Login: Some(C_Login),
    C_Logout: Some(C_Logout),
    C_CreateObject: Some(stubs::C_CreateObject),
    C_CopyObject: Some(stubs::C_CopyObject),
    C_DestroyObject: Some(stubs::C_DestroyObject),
    C_GetObjectSize: Some(stubs::C_GetObjectSize),
    C_GetAttributeValue: Some(C_GetAttributeValue),
    C_SetAttributeValue: Some(stubs::C_SetAttributeValue),
    C_FindObjectsInit: Some(C_FindObjectsInit),
    C_FindObjects: Some(C_FindObjects),
    C_FindObjectsFinal: Some(C_FindObjectsFinal),
    C_EncryptInit: Some(stubs::C_EncryptInit),
    C_Encrypt: Some(stubs::C_Encrypt),
    C_EncryptUpdate: Some(stubs::C_EncryptUpdate),
    C_EncryptFinal: Some(stubs::C_EncryptFinal),
    C_DecryptInit: Some(stubs::C_DecryptInit),
    C_Decrypt: Some(stubs::C_Decrypt),
    C_DecryptUpdate: Some(stubs::C_DecryptUpdate),
    C_DecryptFinal: Some(stubs::C_DecryptFinal),
    C_DigestInit: Some(stubs::C_DigestInit),
    C_Digest: Some(stubs::C_Digest),
    C_DigestUpdate: Some(stubs::C_DigestUpdate),
    C_DigestKey: Some(stubs::C_DigestKey),
    C_DigestFinal: Some(stubs::C_DigestFinal),
    C_SignInit: Some(C_SignInit),
    C_Sign: Some(C_Sign),
    C_SignUpdate: Some(C_SignUpdate),
    C_SignFinal: Some(C_SignFinal),
    C_SignRecoverInit: Some(stubs::C_SignRecoverInit),
    C_SignRecover: Some(stubs::C_SignRecover),
    C_VerifyInit: Some(stubs::C_VerifyInit),
    C_Verify: Some(stubs::C_Verify),
    C_VerifyUpdate: Some(stubs::C_VerifyUpdate),
    C_VerifyFinal: Some(stubs::C_VerifyFinal),
    C_VerifyRecoverInit: Some(stubs::C_VerifyRecoverInit),
    C_VerifyRecover: Some(stubs::C_VerifyRecover),
    C_DigestEncryptUpdate: Some(stubs::C_DigestEncryptUpdate),
    C_DecryptDigestUpdate: Some(stubs::C_DecryptDigestUpdate),
    C_SignEncryptUpdate: Some(stubs::C_SignEncryptUpdate),
    C_DecryptVerifyUpdate: Some(stubs::C_DecryptVerifyUpdate),
    C_GenerateKey: Some(stubs::C_GenerateKey),
    C_GenerateKeyPair: Some(stubs::C_GenerateKeyPair),
    C_WrapKey: Some(stubs::C_WrapKey),
    C_UnwrapKey: Some(stubs::C_UnwrapKey),
    C_DeriveKey: Some(stubs::C_DeriveKey),
    C_SeedRandom: Some(stubs::C_SeedRandom),
    C_GenerateRandom: Some(stubs::C_GenerateRandom),
    C_GetFunctionStatus: Some(stubs::C_GetFunctionStatus),
    C_CancelFunction: Some(stubs::C_CancelFunction),
    C_WaitForSlotEvent: Some(stubs::C_WaitForSlotEvent),
};
