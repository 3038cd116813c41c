//! The entry points called directly, as a consumer would: argument checking (NULL
//! pointers, short buffers, invalid handles, wrong session state, oversize input), the
//! two-call size queries, a panic caught at the boundary, and concurrent callers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};
use std::sync::Mutex;

use cryptoki_sys::*;
use latchkey_agent::cert_record::{CertRecord, CERT_RECORD_VERSION};
use latchkey_agent::container::{Container, KdfParams};
use latchkey_agent::hello_key::HelloKey;
use latchkey_agent::records::user_file;
use latchkey_agent::store::StateDir;
use latchkey_agent::HELLO_DIR;

use super::*;

/// The module is one global state: these tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

const UPN: &str = "ada@example.com";
const PIN: &str = "135790";

/// A state directory with `UPN`'s software Hello key (cheap Argon2id) and a self-signed
/// certificate for it (made by openssl); the key's PKCS#8 DER.
fn state_with_key(tmp: &Path) -> HelloKey {
    let dir = &tmp.join("state");
    let state = StateDir::new(dir);
    let key = HelloKey::generate().unwrap();
    let kdf = KdfParams {
        m_cost_kib: 1024,
        t_cost: 1,
        p_cost: 1,
    };
    let container = Container::seal(UPN, &key, PIN, kdf, 1_700_000_000).unwrap();
    state
        .write_json(&user_file(HELLO_DIR, UPN), &container)
        .unwrap();
    let key_der = tmp.join("key.der");
    std::fs::write(&key_der, key.to_pkcs8().unwrap().as_slice()).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["req", "-new", "-x509", "-keyform", "DER", "-key"])
        .arg(&key_der)
        .args(["-subj", "/CN=ada", "-days", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::remove_file(&key_der).unwrap();
    CertRecord {
        version: CERT_RECORD_VERSION,
        upn: UPN.to_owned(),
        key_id: key.key_id(),
        serial: "01".to_owned(),
        template: "t".to_owned(),
        certificate_pem: String::from_utf8(out.stdout).unwrap(),
        chain_pem: Vec::new(),
        thumbprint: String::new(),
        not_before: 0,
        not_after: i64::MAX / 2,
        renew_after: i64::MAX / 2,
        installed_at: 0,
    }
    .save(&state)
    .unwrap();
    key
}

/// The `latchkey` binary the signer runs: `LATCHKEY_BIN_DIR`, else Cargo's target
/// directory above this test executable (`cargo build --workspace --bins` builds it).
fn latchkey_bin() -> PathBuf {
    let dir = match std::env::var_os("LATCHKEY_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .to_path_buf(),
    };
    let bin = dir.join("latchkey");
    assert!(
        bin.is_file(),
        "{} not found: build the binaries first (`cargo build --workspace --bins`) or set LATCHKEY_BIN_DIR",
        bin.display()
    );
    bin
}

fn init_in(tmp: &Path) {
    std::env::set_var("LATCHKEY_STATE_DIR", tmp.join("state"));
    std::env::set_var("LATCHKEY_AGENT_BIN", latchkey_bin());
    assert_eq!(C_Initialize(null_mut()), CKR_OK);
}

fn open(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let mut h = 0;
    assert_eq!(
        C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, &mut h),
        CKR_OK
    );
    h
}

fn find_all(h: CK_SESSION_HANDLE, template: &mut [CK_ATTRIBUTE]) -> Vec<CK_OBJECT_HANDLE> {
    assert_eq!(
        C_FindObjectsInit(h, template.as_mut_ptr(), template.len() as CK_ULONG),
        CKR_OK
    );
    let mut out = [0 as CK_OBJECT_HANDLE; 8];
    let mut n = 0;
    assert_eq!(C_FindObjects(h, out.as_mut_ptr(), 8, &mut n), CKR_OK);
    assert_eq!(C_FindObjectsFinal(h), CKR_OK);
    out[..n as usize].to_vec()
}

fn class_template(class: &mut CK_OBJECT_CLASS) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: CKA_CLASS,
        pValue: class as *mut CK_OBJECT_CLASS as *mut c_void,
        ulValueLen: std::mem::size_of::<CK_OBJECT_CLASS>() as CK_ULONG,
    }
}

fn mechanism(m: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: m,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

#[test]
fn before_initialize_and_initialize_arguments() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = C_Finalize(null_mut());
    assert_eq!(C_GetFunctionList(null_mut()), CKR_ARGUMENTS_BAD);
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    assert_eq!(C_GetFunctionList(&mut list), CKR_OK);
    assert_eq!(list as *const _, std::ptr::addr_of!(FUNCTION_LIST));
    assert_eq!(FUNCTION_LIST.version.major, 2);
    assert!(FUNCTION_LIST.C_Sign.is_some() && FUNCTION_LIST.C_WaitForSlotEvent.is_some());
    let mut count = 0;
    assert_eq!(
        C_GetSlotList(CK_TRUE, null_mut(), &mut count),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    let mut info = std::mem::MaybeUninit::<CK_INFO>::zeroed();
    assert_eq!(C_GetInfo(info.as_mut_ptr()), CKR_CRYPTOKI_NOT_INITIALIZED);

    extern "C" fn create(_: *mut *mut c_void) -> CK_RV {
        CKR_OK
    }
    extern "C" fn other(_: *mut c_void) -> CK_RV {
        CKR_OK
    }
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: Some(create),
        DestroyMutex: Some(other),
        LockMutex: Some(other),
        UnlockMutex: Some(other),
        flags: 0,
        pReserved: null_mut(),
    };
    let p = &mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void;
    assert_eq!(
        C_Initialize(p),
        CKR_CANT_LOCK,
        "app mutexes without OS locking"
    );
    args.flags = CKF_OS_LOCKING_OK;
    args.LockMutex = None;
    let p = &mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void;
    assert_eq!(C_Initialize(p), CKR_ARGUMENTS_BAD, "some mutexes, not all");
    let mut reserved = 0u8;
    args.pReserved = &mut reserved as *mut u8 as *mut c_void;
    let p = &mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void;
    assert_eq!(C_Initialize(p), CKR_CANT_LOCK, "pReserved set");
    // With CKF_OS_LOCKING_OK, the app's mutexes are accepted (and not used).
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("LATCHKEY_STATE_DIR", dir.path());
    args.LockMutex = Some(other);
    args.pReserved = null_mut();
    let p = &mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void;
    assert_eq!(C_Initialize(p), CKR_OK);
    assert_eq!(C_Initialize(null_mut()), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    // An empty state directory: no slots.
    assert_eq!(C_GetSlotList(CK_TRUE, null_mut(), &mut count), CKR_OK);
    assert_eq!(count, 0);
    assert_eq!(C_GetInfo(null_mut()), CKR_ARGUMENTS_BAD);
    assert_eq!(C_GetInfo(info.as_mut_ptr()), CKR_OK);
    let info = unsafe { info.assume_init() };
    assert_eq!(&info.manufacturerID[..9], b"Latchkey ");
    assert_eq!(
        C_Finalize(&mut reserved as *mut u8 as *mut c_void),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(C_Finalize(null_mut()), CKR_OK);
    assert_eq!(C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
}

#[test]
fn a_panic_inside_an_entry_point_is_caught() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = C_Finalize(null_mut());
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("LATCHKEY_STATE_DIR", dir.path());
    assert_eq!(C_Initialize(null_mut()), CKR_OK);
    PANIC_NEXT_CALL.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut count = 0;
    assert_eq!(
        C_GetSlotList(CK_TRUE, null_mut(), &mut count),
        CKR_GENERAL_ERROR
    );
    // The module keeps answering.
    assert_eq!(C_GetSlotList(CK_TRUE, null_mut(), &mut count), CKR_OK);
    assert_eq!(C_Finalize(null_mut()), CKR_OK);
}

#[test]
fn slots_tokens_objects_and_attributes_check_every_argument() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = C_Finalize(null_mut());
    let dir = tempfile::tempdir().unwrap();
    let key = state_with_key(dir.path());
    init_in(dir.path());

    // The two-call pattern for the slot list.
    let mut count = 0;
    assert_eq!(
        C_GetSlotList(CK_TRUE, null_mut(), null_mut()),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(C_GetSlotList(CK_TRUE, null_mut(), &mut count), CKR_OK);
    assert_eq!(count, 1);
    let mut slots = [0 as CK_SLOT_ID; 2];
    let mut small = 0;
    assert_eq!(
        C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut small),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(small, 1, "the length needed");
    let mut room = 2;
    assert_eq!(
        C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut room),
        CKR_OK
    );
    assert_eq!(room, 1);
    let slot = slots[0];

    let mut token = std::mem::MaybeUninit::<CK_TOKEN_INFO>::zeroed();
    assert_eq!(C_GetTokenInfo(99, token.as_mut_ptr()), CKR_SLOT_ID_INVALID);
    assert_eq!(C_GetTokenInfo(slot, null_mut()), CKR_ARGUMENTS_BAD);
    assert_eq!(C_GetTokenInfo(slot, token.as_mut_ptr()), CKR_OK);
    let token = unsafe { token.assume_init() };
    assert_eq!(&token.label[..UPN.len()], UPN.as_bytes());
    assert!(token.label[UPN.len()..].iter().all(|&b| b == b' '));
    assert_eq!(&token.serialNumber[..], &key.key_id().as_bytes()[..16]);
    assert_ne!(token.flags & CKF_LOGIN_REQUIRED, 0);
    assert_ne!(token.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(token.flags & CKF_PROTECTED_AUTHENTICATION_PATH, 0);
    assert_eq!(token.flags & CKF_USER_PIN_LOCKED, 0);

    // Mechanisms: two-call list; info tells the truth.
    let mut n = 0;
    assert_eq!(C_GetMechanismList(slot, null_mut(), &mut n), CKR_OK);
    assert_eq!(n, 8);
    let mut mechs = vec![0 as CK_MECHANISM_TYPE; 8];
    let mut short = 3;
    assert_eq!(
        C_GetMechanismList(slot, mechs.as_mut_ptr(), &mut short),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, 8);
    let mut info = std::mem::MaybeUninit::<CK_MECHANISM_INFO>::zeroed();
    assert_eq!(
        C_GetMechanismInfo(slot, CKM_RSA_PKCS_OAEP, info.as_mut_ptr()),
        CKR_MECHANISM_INVALID
    );
    assert_eq!(
        C_GetMechanismInfo(slot, CKM_RSA_PKCS, info.as_mut_ptr()),
        CKR_OK
    );
    let info = unsafe { info.assume_init() };
    assert_eq!(
        (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
        (2048, 2048, CKF_SIGN)
    );

    // Sessions.
    let mut h = 0;
    assert_eq!(
        C_OpenSession(slot, 0, null_mut(), None, &mut h),
        CKR_SESSION_PARALLEL_NOT_SUPPORTED
    );
    assert_eq!(
        C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, null_mut()),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        C_OpenSession(42, CKF_SERIAL_SESSION, null_mut(), None, &mut h),
        CKR_SLOT_ID_INVALID
    );
    let h = open(slot);
    let mut sinfo = std::mem::MaybeUninit::<CK_SESSION_INFO>::zeroed();
    assert_eq!(
        C_GetSessionInfo(h + 100, sinfo.as_mut_ptr()),
        CKR_SESSION_HANDLE_INVALID
    );
    assert_eq!(C_GetSessionInfo(h, sinfo.as_mut_ptr()), CKR_OK);
    assert_eq!(unsafe { sinfo.assume_init() }.state, CKS_RO_PUBLIC_SESSION);

    // Objects before login: the certificate and the public key.
    let mut n = 0;
    assert_eq!(
        C_FindObjects(h, null_mut(), 0, &mut n),
        CKR_OPERATION_NOT_INITIALIZED
    );
    let all = find_all(h, &mut []);
    assert_eq!(all.len(), 2);
    let mut cls = CKO_PRIVATE_KEY;
    assert!(find_all(h, &mut [class_template(&mut cls)]).is_empty());
    let mut cls = CKO_CERTIFICATE;
    let certs = find_all(h, &mut [class_template(&mut cls)]);
    assert_eq!(certs.len(), 1);
    let cert = certs[0];
    assert_eq!(C_FindObjectsInit(h, null_mut(), 1), CKR_ARGUMENTS_BAD);

    // Attributes: size query, exact buffer, short buffer, invalid and sensitive types.
    let mut attr = [CK_ATTRIBUTE {
        type_: CKA_VALUE,
        pValue: null_mut(),
        ulValueLen: 0,
    }];
    assert_eq!(C_GetAttributeValue(h, cert, attr.as_mut_ptr(), 1), CKR_OK);
    let len = attr[0].ulValueLen as usize;
    assert!(len > 300, "{len}");
    let mut buf = vec![0u8; len];
    attr[0].pValue = buf.as_mut_ptr() as *mut c_void;
    attr[0].ulValueLen = (len - 1) as CK_ULONG;
    assert_eq!(
        C_GetAttributeValue(h, cert, attr.as_mut_ptr(), 1),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(attr[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert!(
        buf.iter().all(|&b| b == 0),
        "nothing written to a short buffer"
    );
    attr[0].ulValueLen = len as CK_ULONG;
    assert_eq!(C_GetAttributeValue(h, cert, attr.as_mut_ptr(), 1), CKR_OK);
    assert_eq!(buf[0], 0x30, "DER");
    let mut bogus = [CK_ATTRIBUTE {
        type_: CKA_PRIME_1,
        pValue: null_mut(),
        ulValueLen: 0,
    }];
    assert_eq!(
        C_GetAttributeValue(h, cert, bogus.as_mut_ptr(), 1),
        CKR_ATTRIBUTE_TYPE_INVALID
    );
    assert_eq!(bogus[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(
        C_GetAttributeValue(h, 0x7777, attr.as_mut_ptr(), 1),
        CKR_OBJECT_HANDLE_INVALID
    );
    assert_eq!(
        C_GetAttributeValue(h, cert, null_mut(), 1),
        CKR_ARGUMENTS_BAD
    );
    // The private key's handle is not visible before login.
    let private = crate::objects::handle(slot, crate::objects::Kind::PrivateKey);
    assert_eq!(
        C_GetAttributeValue(h, private, attr.as_mut_ptr(), 1),
        CKR_OBJECT_HANDLE_INVALID
    );

    // Signing: before SignInit; SignInit before login; login arguments.
    let mut sig_len: CK_ULONG = 0;
    let mut data = [0u8; 4];
    assert_eq!(
        C_Sign(h, data.as_mut_ptr(), 4, null_mut(), &mut sig_len),
        CKR_OPERATION_NOT_INITIALIZED
    );
    let mut m = mechanism(CKM_SHA256_RSA_PKCS);
    assert_eq!(C_SignInit(h, &mut m, private), CKR_USER_NOT_LOGGED_IN);
    assert_eq!(C_SignInit(h, null_mut(), private), CKR_ARGUMENTS_BAD);
    let mut pin = PIN.as_bytes().to_vec();
    assert_eq!(
        C_Login(h, CKU_SO, pin.as_mut_ptr(), pin.len() as CK_ULONG),
        CKR_USER_TYPE_INVALID
    );
    assert_eq!(C_Login(h, CKU_USER, null_mut(), 6), CKR_ARGUMENTS_BAD);
    let mut long = vec![b'1'; 300];
    assert_eq!(
        C_Login(h, CKU_USER, long.as_mut_ptr(), 300),
        CKR_PIN_LEN_RANGE
    );
    assert_eq!(C_Login(h, CKU_USER, pin.as_mut_ptr(), 0), CKR_PIN_LEN_RANGE);
    assert_eq!(C_Logout(h), CKR_USER_NOT_LOGGED_IN);

    // A read-only token; functions not offered.
    let mut obj = 0;
    assert_eq!(
        stubs::C_CreateObject(h, null_mut(), 0, &mut obj),
        CKR_TOKEN_WRITE_PROTECTED
    );
    assert_eq!(stubs::C_DestroyObject(h, cert), CKR_TOKEN_WRITE_PROTECTED);
    assert_eq!(
        stubs::C_CreateObject(h + 9, null_mut(), 0, &mut obj),
        CKR_SESSION_HANDLE_INVALID
    );
    assert_eq!(
        stubs::C_EncryptInit(h, null_mut(), cert),
        CKR_FUNCTION_NOT_SUPPORTED
    );

    assert_eq!(C_CloseSession(h), CKR_OK);
    assert_eq!(C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
    assert_eq!(crate::module::session_count(), 0);
    assert_eq!(C_Finalize(null_mut()), CKR_OK);
}

#[test]
fn signing_sizes_states_and_bounds() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = C_Finalize(null_mut());
    let dir = tempfile::tempdir().unwrap();
    let key = state_with_key(dir.path());
    init_in(dir.path());
    let h = open(1);
    let mut wrong = b"000000".to_vec();
    assert_eq!(
        C_Login(h, CKU_USER, wrong.as_mut_ptr(), 6),
        CKR_PIN_INCORRECT
    );
    let mut pin = PIN.as_bytes().to_vec();
    assert_eq!(
        C_Login(h, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG),
        CKR_OK
    );
    assert_eq!(
        C_Login(h, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG),
        CKR_USER_ALREADY_LOGGED_IN
    );
    let mut sinfo = std::mem::MaybeUninit::<CK_SESSION_INFO>::zeroed();
    assert_eq!(C_GetSessionInfo(h, sinfo.as_mut_ptr()), CKR_OK);
    assert_eq!(unsafe { sinfo.assume_init() }.state, CKS_RO_USER_FUNCTIONS);
    assert_eq!(find_all(h, &mut []).len(), 3, "the private key after login");
    let private = crate::objects::handle(1, crate::objects::Kind::PrivateKey);
    let public = crate::objects::handle(1, crate::objects::Kind::PublicKey);

    // The private key's secrets are sensitive; its flags say so.
    let mut yes: CK_BBOOL = 0;
    let mut attrs = [
        CK_ATTRIBUTE {
            type_: CKA_PRIVATE_EXPONENT,
            pValue: null_mut(),
            ulValueLen: 0,
        },
        CK_ATTRIBUTE {
            type_: CKA_SENSITIVE,
            pValue: &mut yes as *mut CK_BBOOL as *mut c_void,
            ulValueLen: 1,
        },
    ];
    assert_eq!(
        C_GetAttributeValue(h, private, attrs.as_mut_ptr(), 2),
        CKR_ATTRIBUTE_SENSITIVE
    );
    assert_eq!(attrs[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(
        (attrs[1].ulValueLen, yes),
        (1, CK_TRUE),
        "the other attribute is still given"
    );

    let mut m = mechanism(CKM_RSA_PKCS);
    assert_eq!(C_SignInit(h, &mut m, public), CKR_KEY_HANDLE_INVALID);
    let mut pss = mechanism(CKM_RSA_PKCS_PSS);
    let mut params = CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        sLen: 32,
    };
    pss.pParameter = &mut params as *mut CK_RSA_PKCS_PSS_PARAMS as *mut c_void;
    pss.ulParameterLen = 3;
    assert_eq!(
        C_SignInit(h, &mut pss, private),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(C_SignInit(h, &mut m, private), CKR_OK);
    assert_eq!(C_SignInit(h, &mut m, private), CKR_OPERATION_ACTIVE);

    // The size query, a short buffer (the length needed, the operation kept), then the
    // signature; after it the operation is over.
    let digest = ring::digest::digest(&ring::digest::SHA256, b"hello");
    let mut info = latchkey_agent::prehashed::HashAlg::Sha256
        .digest_info_prefix()
        .to_vec();
    info.extend_from_slice(digest.as_ref());
    let mut len: CK_ULONG = 0;
    assert_eq!(
        C_Sign(
            h,
            info.as_mut_ptr(),
            info.len() as CK_ULONG,
            null_mut(),
            null_mut()
        ),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        C_Sign(
            h,
            info.as_mut_ptr(),
            info.len() as CK_ULONG,
            null_mut(),
            &mut len
        ),
        CKR_OK
    );
    assert_eq!(len, 256);
    let mut sig = vec![0u8; 300];
    let mut short: CK_ULONG = 10;
    assert_eq!(
        C_Sign(
            h,
            info.as_mut_ptr(),
            info.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut short
        ),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, 256);
    let mut room: CK_ULONG = 300;
    assert_eq!(
        C_Sign(
            h,
            info.as_mut_ptr(),
            info.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut room
        ),
        CKR_OK
    );
    assert_eq!(room, 256);
    let spki_n = {
        let der = key.to_pkcs8().unwrap();
        ring::signature::RsaKeyPair::from_pkcs8(&der)
            .unwrap()
            .public()
            .as_ref()
            .to_vec()
    };
    let verifier = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &spki_n,
    );
    assert!(verifier.verify(b"hello", &sig[..256]).is_ok());
    assert_eq!(
        C_Sign(
            h,
            info.as_mut_ptr(),
            info.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut room
        ),
        CKR_OPERATION_NOT_INITIALIZED
    );

    // CKM_RSA_PKCS refuses data that is not a DigestInfo (and ends the operation), and
    // more than its bound in parts.
    assert_eq!(C_SignInit(h, &mut m, private), CKR_OK);
    let mut raw = b"not a digest info".to_vec();
    room = 300;
    assert_eq!(
        C_Sign(
            h,
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut room
        ),
        CKR_DATA_INVALID
    );
    assert_eq!(
        C_SignFinal(h, sig.as_mut_ptr(), &mut room),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(C_SignInit(h, &mut m, private), CKR_OK);
    let mut big = vec![0u8; crate::mechanism::MAX_RAW_INPUT + 1];
    assert_eq!(
        C_SignUpdate(h, big.as_mut_ptr(), big.len() as CK_ULONG),
        CKR_DATA_LEN_RANGE
    );
    assert_eq!(
        C_SignFinal(h, sig.as_mut_ptr(), &mut room),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(C_SignUpdate(h, null_mut(), 5), CKR_ARGUMENTS_BAD);

    // Multi-part SHA256-RSA-PKCS equals the one-part signature of the whole message.
    let mut m256 = mechanism(CKM_SHA256_RSA_PKCS);
    assert_eq!(C_SignInit(h, &mut m256, private), CKR_OK);
    for part in [&b"hel"[..], b"lo"] {
        let mut p = part.to_vec();
        assert_eq!(C_SignUpdate(h, p.as_mut_ptr(), p.len() as CK_ULONG), CKR_OK);
    }
    let mut room2: CK_ULONG = 0;
    assert_eq!(C_SignFinal(h, null_mut(), &mut room2), CKR_OK);
    assert_eq!(room2, 256);
    let mut sig2 = vec![0u8; 256];
    assert_eq!(C_SignFinal(h, sig2.as_mut_ptr(), &mut room2), CKR_OK);
    assert_eq!(&sig2[..], &sig[..256], "deterministic PKCS#1 v1.5");

    // Logout ends the signer: signing needs a new login.
    assert_eq!(C_Logout(h), CKR_OK);
    assert_eq!(C_SignInit(h, &mut m, private), CKR_USER_NOT_LOGGED_IN);
    assert_eq!(C_Finalize(null_mut()), CKR_OK);
}

#[test]
fn concurrent_callers_are_serialised() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = C_Finalize(null_mut());
    let dir = tempfile::tempdir().unwrap();
    state_with_key(dir.path());
    init_in(dir.path());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..50 {
                    let h = open(1);
                    let mut info = std::mem::MaybeUninit::<CK_SESSION_INFO>::zeroed();
                    assert_eq!(C_GetSessionInfo(h, info.as_mut_ptr()), CKR_OK);
                    assert_eq!(find_all(h, &mut []).len(), 2);
                    assert_eq!(C_CloseSession(h), CKR_OK);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(crate::module::session_count(), 0);
    assert_eq!(C_Finalize(null_mut()), CKR_OK);
    let _ = null::<u8>();
}

/// The pids of this process's children (every thread's), from /proc.
fn children() -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

#[test]
fn a_signer_that_died_is_a_device_error_and_logout_ends_the_signer() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = C_Finalize(null_mut());
    let dir = tempfile::tempdir().unwrap();
    state_with_key(dir.path());
    init_in(dir.path());
    let before = children();
    let h = open(1);
    let mut pin = PIN.as_bytes().to_vec();
    assert_eq!(
        C_Login(h, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG),
        CKR_OK
    );
    let signer: Vec<u32> = children()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(signer.len(), 1, "one signer child");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", signer[0])).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains("pkcs11-signer"));
    // Logout: the signer exits and is reaped.
    assert_eq!(C_Logout(h), CKR_OK);
    assert!(
        !children().contains(&signer[0]),
        "the signer is gone after C_Logout"
    );

    // A signer killed under the module: the signature fails as a device error, the
    // process lives on, and a new login starts a new signer.
    assert_eq!(
        C_Login(h, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG),
        CKR_OK
    );
    let signer: Vec<u32> = children()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(signer.len(), 1);
    let killed = std::process::Command::new("kill")
        .args(["-9", &signer[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let private = crate::objects::handle(1, crate::objects::Kind::PrivateKey);
    let mut m = mechanism(CKM_SHA256_RSA_PKCS);
    assert_eq!(C_SignInit(h, &mut m, private), CKR_OK);
    let mut data = b"x".to_vec();
    let mut sig = vec![0u8; 256];
    let mut len: CK_ULONG = 256;
    assert_eq!(
        C_Sign(h, data.as_mut_ptr(), 1, sig.as_mut_ptr(), &mut len),
        CKR_DEVICE_ERROR
    );
    assert_eq!(C_Logout(h), CKR_OK);
    assert_eq!(
        C_Login(h, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG),
        CKR_OK
    );
    assert_eq!(C_SignInit(h, &mut m, private), CKR_OK);
    len = 256;
    assert_eq!(
        C_Sign(h, data.as_mut_ptr(), 1, sig.as_mut_ptr(), &mut len),
        CKR_OK
    );
    // Closing the last session logs out.
    assert_eq!(C_CloseSession(h), CKR_OK);
    assert!(
        children().iter().all(|p| before.contains(p)),
        "no signer left"
    );
    assert_eq!(C_Finalize(null_mut()), CKR_OK);
}
