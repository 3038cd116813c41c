//! The functions the module does not offer: each answers without touching its pointers.
//! Writes to the token (a read-only token) answer CKR_TOKEN_WRITE_PROTECTED for a valid
//! session; the rest CKR_FUNCTION_NOT_SUPPORTED (CKR_FUNCTION_NOT_PARALLEL for the two
//! legacy parallel-function calls).

use cryptoki_sys::*;

use super::guard;

pub(super) extern "C" fn C_InitToken(
    _a0: CK_SLOT_ID,
    _a1: *mut CK_UTF8CHAR,
    _a2: CK_ULONG,
    _a3: *mut CK_UTF8CHAR,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_InitPIN(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_UTF8CHAR,
    _a2: CK_ULONG,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_InitPIN"))
}

pub(super) extern "C" fn C_SetPIN(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_UTF8CHAR,
    _a2: CK_ULONG,
    _a3: *mut CK_UTF8CHAR,
    _a4: CK_ULONG,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_SetPIN"))
}

pub(super) extern "C" fn C_GetOperationState(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_SetOperationState(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: CK_OBJECT_HANDLE,
    _a4: CK_OBJECT_HANDLE,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_CreateObject(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_ATTRIBUTE,
    _a2: CK_ULONG,
    _a3: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_CreateObject"))
}

pub(super) extern "C" fn C_CopyObject(
    session: CK_SESSION_HANDLE,
    _a1: CK_OBJECT_HANDLE,
    _a2: *mut CK_ATTRIBUTE,
    _a3: CK_ULONG,
    _a4: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_CopyObject"))
}

pub(super) extern "C" fn C_DestroyObject(
    session: CK_SESSION_HANDLE,
    _a1: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_DestroyObject"))
}

pub(super) extern "C" fn C_GetObjectSize(
    _session: CK_SESSION_HANDLE,
    _a1: CK_OBJECT_HANDLE,
    _a2: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_SetAttributeValue(
    session: CK_SESSION_HANDLE,
    _a1: CK_OBJECT_HANDLE,
    _a2: *mut CK_ATTRIBUTE,
    _a3: CK_ULONG,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_SetAttributeValue"))
}

pub(super) extern "C" fn C_EncryptInit(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_Encrypt(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_EncryptUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_EncryptFinal(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DecryptInit(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_Decrypt(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DecryptUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DecryptFinal(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DigestInit(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_Digest(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DigestUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DigestKey(_session: CK_SESSION_HANDLE, _a1: CK_OBJECT_HANDLE) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DigestFinal(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_SignRecoverInit(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_SignRecover(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_VerifyInit(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_Verify(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_VerifyUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_VerifyFinal(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_VerifyRecoverInit(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_VerifyRecover(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DigestEncryptUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DecryptDigestUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_SignEncryptUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_DecryptVerifyUpdate(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
    _a3: *mut CK_BYTE,
    _a4: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_GenerateKey(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: *mut CK_ATTRIBUTE,
    _a3: CK_ULONG,
    _a4: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_GenerateKey"))
}

pub(super) extern "C" fn C_GenerateKeyPair(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: *mut CK_ATTRIBUTE,
    _a3: CK_ULONG,
    _a4: *mut CK_ATTRIBUTE,
    _a5: CK_ULONG,
    _a6: *mut CK_OBJECT_HANDLE,
    _a7: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_GenerateKeyPair"))
}

pub(super) extern "C" fn C_WrapKey(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
    _a3: CK_OBJECT_HANDLE,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_UnwrapKey(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
    _a3: *mut CK_BYTE,
    _a4: CK_ULONG,
    _a5: *mut CK_ATTRIBUTE,
    _a6: CK_ULONG,
    _a7: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_UnwrapKey"))
}

pub(super) extern "C" fn C_DeriveKey(
    session: CK_SESSION_HANDLE,
    _a1: *mut CK_MECHANISM,
    _a2: CK_OBJECT_HANDLE,
    _a3: *mut CK_ATTRIBUTE,
    _a4: CK_ULONG,
    _a5: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| crate::module::refuse_write(session, "C_DeriveKey"))
}

pub(super) extern "C" fn C_SeedRandom(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_GenerateRandom(
    _session: CK_SESSION_HANDLE,
    _a1: *mut CK_BYTE,
    _a2: CK_ULONG,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}

pub(super) extern "C" fn C_GetFunctionStatus(_session: CK_SESSION_HANDLE) -> CK_RV {
    CKR_FUNCTION_NOT_PARALLEL
}

pub(super) extern "C" fn C_CancelFunction(_session: CK_SESSION_HANDLE) -> CK_RV {
    CKR_FUNCTION_NOT_PARALLEL
}

pub(super) extern "C" fn C_WaitForSlotEvent(
    _a0: CK_FLAGS,
    _a1: *mut CK_SLOT_ID,
    _a2: *mut std::ffi::c_void,
) -> CK_RV {
    CKR_FUNCTION_NOT_SUPPORTED
}
