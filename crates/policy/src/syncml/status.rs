//! SyncML status codes ([OMA-SyncMLRP1.2.2] section 10, as MS-MDM uses them).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A SyncML status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 200: "The SyncML command completed successfully."
    pub const OK: Self = Self(200);
    /// 215: "Not executed."
    pub const NOT_EXECUTED: Self = Self(215);
    /// 216: "Atomic roll back OK. A command was inside Atomic element and Atomic failed.
    /// This command was rolled back successfully."
    pub const ATOMIC_ROLLBACK_OK: Self = Self(216);
    /// 400: "Bad request. The requested command couldn't be performed because of malformed
    /// syntax in the command."
    pub const BAD_REQUEST: Self = Self(400);
    /// 401: "Invalid credentials. The requested command failed because the requestor must
    /// provide proper authentication."
    pub const UNAUTHORIZED: Self = Self(401);
    /// 403: "Forbidden. The requested command failed, but the recipient understood the
    /// requested command."
    pub const FORBIDDEN: Self = Self(403);
    /// 404: "Not found. The requested target wasn't found."
    pub const NOT_FOUND: Self = Self(404);
    /// 405: "Command not allowed."
    pub const COMMAND_NOT_ALLOWED: Self = Self(405);
    /// 406: "Optional feature not supported."
    pub const OPTIONAL_FEATURE_NOT_SUPPORTED: Self = Self(406);
    /// 415: "Unsupported type or format."
    pub const UNSUPPORTED_TYPE_OR_FORMAT: Self = Self(415);
    /// 418: "Already exists."
    pub const ALREADY_EXISTS: Self = Self(418);
    /// 500: "Command failed."
    pub const COMMAND_FAILED: Self = Self(500);
    /// 507: "Atomic failed. One of the operations in an Atomic block failed."
    pub const ATOMIC_FAILED: Self = Self(507);

    /// Whether the code is in the 2xx success range.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
