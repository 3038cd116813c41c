//! The module's errors: each a stable `LK-P11-…` code and one `CK_RV`.
//!
//! The consumer sees only the `CK_RV`; with `LATCHKEY_PKCS11_DEBUG=1` the module also
//! writes `error: LK-P11-…: message` to stderr.

use cryptoki_sys::*;
use thiserror::Error;

/// Everything the module refuses or fails at.
#[derive(Debug, Error)]
pub enum P11Error {
    /// A function other than C_Initialize / C_GetFunctionList / C_GetInfo before
    /// C_Initialize.
    #[error("LK-P11-001: the module is not initialised (C_Initialize first)")]
    NotInitialized,
    /// C_Initialize twice.
    #[error("LK-P11-002: the module is already initialised")]
    AlreadyInitialized,
    /// C_Initialize with application-supplied mutexes but without CKF_OS_LOCKING_OK, or
    /// with a non-NULL pReserved.
    #[error("LK-P11-003: C_Initialize arguments refused: {0}")]
    InitArgs(&'static str),
    /// A NULL pointer or an inconsistent length where the function needs one.
    #[error("LK-P11-004: bad arguments: {0}")]
    BadArguments(&'static str),
    /// A slot id, session handle, object handle or key handle that is not valid here.
    #[error("LK-P11-005: no {kind} {value}", kind = .kind.name())]
    Handle {
        /// Which kind of handle.
        kind: HandleKind,
        /// Its value.
        value: CK_ULONG,
    },
    /// The PIN is right but expired under the PIN policy (`latchkey hello pin change`).
    #[error("LK-P11-006: {0}")]
    PinExpired(String),
    /// A PIN that is empty, longer than 256 bytes, or not UTF-8 (not tried, not counted).
    #[error("LK-P11-007: the PIN must be 1 to 256 bytes of UTF-8 (not tried, not counted)")]
    PinLen,
    /// The caller's buffer is too small; the length needed was written.
    #[error("LK-P11-008: the buffer is too small ({needed} bytes needed)")]
    BufferTooSmall {
        /// The length needed.
        needed: usize,
    },
    /// An operation is already active in the session (`active`), or none was initialised
    /// (C_FindObjects / C_Sign… without the matching Init).
    #[error("LK-P11-009: {}", if *.active { "an operation is already active in this session" } else { "no operation was initialised" })]
    Operation {
        /// Already active (CKR_OPERATION_ACTIVE) rather than not initialised
        /// (CKR_OPERATION_NOT_INITIALIZED).
        active: bool,
    },
    /// An attribute the object does not have, or a secret one.
    #[error("LK-P11-010: attribute 0x{attr:x} {}", if *.sensitive { "is sensitive: it never leaves the signer" } else { "is not an attribute of this object" })]
    Attribute {
        /// The attribute type.
        attr: CK_ATTRIBUTE_TYPE,
        /// Sensitive (CKR_ATTRIBUTE_SENSITIVE) rather than invalid
        /// (CKR_ATTRIBUTE_TYPE_INVALID).
        sensitive: bool,
    },
    /// A mechanism this token does not offer.
    #[error("LK-P11-011: mechanism 0x{0:x} is not offered by this token")]
    MechanismInvalid(CK_MECHANISM_TYPE),
    /// Mechanism parameters outside what is offered.
    #[error("LK-P11-012: mechanism parameters refused: {0}")]
    MechanismParam(String),
    /// Data to sign that the mechanism cannot take (not a DigestInfo, a digest of the wrong
    /// length, more than the bound).
    #[error("LK-P11-013: the data to sign is refused: {reason}")]
    Data {
        /// Why.
        reason: String,
        /// Too long (CKR_DATA_LEN_RANGE) rather than malformed (CKR_DATA_INVALID).
        too_long: bool,
    },
    /// Signing before C_Login.
    #[error("LK-P11-014: not logged in")]
    NotLoggedIn,
    /// C_Login twice.
    #[error("LK-P11-015: already logged in")]
    AlreadyLoggedIn,
    /// A user type other than CKU_USER (there is no security officer).
    #[error("LK-P11-016: only the user (CKU_USER) logs in; there is no security officer")]
    UserTypeInvalid,
    /// The PIN was wrong (counted in the container or by the TPM).
    #[error("LK-P11-017: the PIN is incorrect{}", .0.map(|n| format!(" ({n} tries left)")).unwrap_or_default())]
    PinIncorrect(Option<u32>),
    /// Locked out: no PIN was tried.
    #[error("LK-P11-018: the PIN is locked out{}", .0.map(|n| format!("; try again in {n} s")).unwrap_or_default())]
    PinLocked(Option<u64>),
    /// Not offered: the token is read-only (nothing is created, changed or destroyed), a
    /// parallel session, more sessions than the bound.
    #[error("LK-P11-019: {what} is not offered")]
    NotOffered {
        /// What was asked for.
        what: &'static str,
        /// The answer: CKR_TOKEN_WRITE_PROTECTED, CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        /// CKR_SESSION_COUNT.
        rv: CK_RV,
    },
    /// The signer process could not be started or failed, or the agent failed.
    #[error("LK-P11-020: {0}")]
    Signer(String),
}

impl P11Error {
    /// The `CK_RV` the consumer gets.
    pub fn rv(&self) -> CK_RV {
        match self {
            P11Error::NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
            P11Error::AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
            P11Error::InitArgs(_) => CKR_CANT_LOCK,
            P11Error::BadArguments(_) => CKR_ARGUMENTS_BAD,
            P11Error::Handle { kind, .. } => kind.rv(),
            P11Error::PinExpired(_) => CKR_PIN_EXPIRED,
            P11Error::PinLen => CKR_PIN_LEN_RANGE,
            P11Error::BufferTooSmall { .. } => CKR_BUFFER_TOO_SMALL,
            P11Error::Operation { active: true } => CKR_OPERATION_ACTIVE,
            P11Error::Operation { active: false } => CKR_OPERATION_NOT_INITIALIZED,
            P11Error::Attribute {
                sensitive: true, ..
            } => CKR_ATTRIBUTE_SENSITIVE,
            P11Error::Attribute { .. } => CKR_ATTRIBUTE_TYPE_INVALID,
            P11Error::MechanismInvalid(_) => CKR_MECHANISM_INVALID,
            P11Error::MechanismParam(_) => CKR_MECHANISM_PARAM_INVALID,
            P11Error::Data { too_long: true, .. } => CKR_DATA_LEN_RANGE,
            P11Error::Data { .. } => CKR_DATA_INVALID,
            P11Error::NotLoggedIn => CKR_USER_NOT_LOGGED_IN,
            P11Error::AlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
            P11Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
            P11Error::PinIncorrect(_) => CKR_PIN_INCORRECT,
            P11Error::PinLocked(_) => CKR_PIN_LOCKED,
            P11Error::NotOffered { rv, .. } => *rv,
            P11Error::Signer(_) => CKR_DEVICE_ERROR,
        }
    }

    /// The stable code, e.g. `LK-P11-017`.
    pub fn code(&self) -> String {
        self.to_string().chars().take(10).collect()
    }

    /// Writes the error to stderr when `LATCHKEY_PKCS11_DEBUG=1`.
    pub fn report(&self) {
        if debug_enabled() {
            eprintln!("latchkey-pkcs11: error: {self}");
        }
    }
}

/// The kinds of handle a consumer passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    /// A slot id (CKR_SLOT_ID_INVALID).
    Slot,
    /// A session handle (CKR_SESSION_HANDLE_INVALID).
    Session,
    /// An object handle (CKR_OBJECT_HANDLE_INVALID).
    Object,
    /// A key handle for an operation (CKR_KEY_HANDLE_INVALID).
    Key,
}

impl HandleKind {
    fn name(self) -> &'static str {
        match self {
            HandleKind::Slot => "slot",
            HandleKind::Session => "open session",
            HandleKind::Object => "object",
            HandleKind::Key => "signing key",
        }
    }

    fn rv(self) -> CK_RV {
        match self {
            HandleKind::Slot => CKR_SLOT_ID_INVALID,
            HandleKind::Session => CKR_SESSION_HANDLE_INVALID,
            HandleKind::Object => CKR_OBJECT_HANDLE_INVALID,
            HandleKind::Key => CKR_KEY_HANDLE_INVALID,
        }
    }
}

/// Whether `LATCHKEY_PKCS11_DEBUG=1`.
pub fn debug_enabled() -> bool {
    std::env::var_os("LATCHKEY_PKCS11_DEBUG").is_some_and(|v| v == "1")
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, P11Error>;
