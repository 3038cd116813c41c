//! The crate's one error enum. Every variant has a stable code (`LK-POL-nnn`), shown in its
//! message, and, where it can arise from a SyncML command, exactly one SyncML status code.

use std::fmt;

use crate::syncml::StatusCode;

/// A place in a text input: byte offset plus the 1-based line and column it falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the input.
    pub offset: usize,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) on that line.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `input` (clamped to the input's length).
    pub fn locate(input: &str, offset: usize) -> Self {
        let mut offset = offset.min(input.len());
        while !input.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &input[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {} (byte {})",
            self.line, self.column, self.offset
        )
    }
}

/// Everything that can go wrong in this crate.
///
/// Each variant maps to one stable code ([`PolicyError::code`]) and, where it applies to a
/// SyncML command, one status ([`PolicyError::syncml_status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A `{TenantId}` segment is not a GUID without curly braces (the seed: "A globally
    /// unique identifier (GUID), without curly braces ( { , } )").
    #[error("LK-POL-001: tenant id {value:?} is not a GUID without curly braces")]
    InvalidTenantId {
        /// The text that was offered as a tenant id.
        value: String,
    },
    /// A LocURI is not of the form `./Device/Vendor/MSFT/PassportForWork/...`.
    #[error("LK-POL-002: malformed LocURI {uri:?}: {reason}")]
    MalformedLocUri {
        /// The LocURI as received (trimmed).
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The LocURI names no node of the PassportForWork CSP.
    #[error("LK-POL-003: {uri:?} is not a node of the PassportForWork CSP")]
    UnknownNode {
        /// The LocURI as received (trimmed).
        uri: String,
    },
    /// The LocURI names another tenant than the one being managed; nothing was touched.
    #[error("LK-POL-004: {uri:?} names tenant {named}, but this session manages tenant {managed}")]
    ForeignTenant {
        /// The LocURI as received (trimmed).
        uri: String,
        /// The tenant this session manages.
        managed: String,
        /// The tenant the LocURI names.
        named: String,
    },
    /// The node exists only under `./Device/Vendor/MSFT` but was addressed under `./User`.
    #[error("LK-POL-005: {node} exists only for ./Device/Vendor/MSFT, not in the user scope")]
    NodeNotInScope {
        /// The node's path below `PassportForWork/`.
        node: String,
    },
    /// The node does not support this command (the seed's "Supported operations are ...").
    #[error("LK-POL-006: {op} is not a supported operation on {node} (supported: {supported})")]
    OperationNotAllowed {
        /// The node's path below `PassportForWork/`.
        node: String,
        /// The command that was refused.
        op: &'static str,
        /// The operations the node supports.
        supported: String,
    },
    /// `Meta/Format` does not match the node's value type.
    #[error("LK-POL-007: {node} takes format {expected}, but the command says {got}")]
    FormatMismatch {
        /// The node's path below `PassportForWork/`.
        node: String,
        /// The node's format.
        expected: &'static str,
        /// The format the command declared (`chr` when absent, as OMA-DM specifies).
        got: String,
    },
    /// The data cannot be read as the declared format.
    #[error("LK-POL-008: {node}: {data:?} is not a valid {format} value")]
    UnparsableValue {
        /// The node's path below `PassportForWork/`.
        node: String,
        /// The declared format.
        format: &'static str,
        /// The data (truncated to 64 characters).
        data: String,
    },
    /// The value is well-formed but outside what the node reference allows.
    #[error("LK-POL-009: {node}: {value} is outside the allowed values ({allowed})")]
    ValueOutOfRange {
        /// The node's path below `PassportForWork/`.
        node: String,
        /// The offending value (truncated to 64 characters).
        value: String,
        /// What the node reference allows.
        allowed: String,
    },
    /// Add or Replace of a leaf without `Data`.
    #[error("LK-POL-010: {node}: Add/Replace of a leaf needs a Data element")]
    MissingData {
        /// The node's path below `PassportForWork/`.
        node: String,
    },
    /// Add of a node that is already present.
    #[error("LK-POL-011: {uri:?} already exists (use Replace to change it)")]
    AlreadyExists {
        /// The LocURI.
        uri: String,
    },
    /// Get, Delete on a node that has not been set.
    #[error("LK-POL-012: {uri:?} is not set")]
    NotSet {
        /// The LocURI.
        uri: String,
    },
    /// The session may read but not change policy.
    #[error("LK-POL-013: {op} refused: this session is read-only")]
    ReadOnlySession {
        /// The refused command.
        op: &'static str,
    },
    /// An optional OMA-DM feature this implementation does not support.
    #[error("LK-POL-014: optional feature not supported: {feature}")]
    OptionalFeatureNotSupported {
        /// Which feature.
        feature: String,
    },
    /// A command that may not appear inside `Atomic` (MS-MDM: "Nested Atomic and Get
    /// commands aren't allowed and generate error code 500").
    #[error("LK-POL-015: {cmd} is not allowed inside Atomic")]
    NotAllowedInAtomic {
        /// The command.
        cmd: &'static str,
    },
    /// A command without `CmdID`.
    #[error("LK-POL-016: {cmd} has no CmdID")]
    MissingCmdId {
        /// The command's element name.
        cmd: String,
    },
    /// An element under SyncBody, Atomic or Sequence that is not an OMA-DM command.
    #[error("LK-POL-017: <{name}> is not an OMA-DM command")]
    UnknownCommand {
        /// The element's name.
        name: String,
    },
    /// A command item without `Target/LocURI`, or a command without items.
    #[error("LK-POL-018: {cmd}: {reason}")]
    MissingTarget {
        /// The command.
        cmd: &'static str,
        /// What is missing.
        reason: &'static str,
    },
    /// The XML is not well-formed, or uses a forbidden construct (DTD, trailing data...).
    #[error("LK-POL-019: SyncML syntax error at {pos}: {reason}")]
    SyncMlSyntax {
        /// Where.
        pos: Position,
        /// What.
        reason: String,
    },
    /// The message exceeds a limit.
    #[error("LK-POL-020: SyncML limit exceeded at {pos}: {what} (limit {limit})")]
    SyncMlLimit {
        /// Where.
        pos: Position,
        /// Which limit.
        what: &'static str,
        /// The limit's value.
        limit: usize,
    },
    /// Well-formed XML that is not a SyncML message of the expected shape.
    #[error("LK-POL-021: SyncML structure error at {pos}: {reason}")]
    SyncMlStructure {
        /// Where.
        pos: Position,
        /// What.
        reason: String,
    },
    /// A `.reg` file that cannot be imported.
    #[error("LK-POL-022: .reg file, line {line}: {reason}")]
    RegFile {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A Group Policy setting used at a scope where the seeds do not offer it.
    #[error("LK-POL-023: Group Policy setting {setting:?} is not available at {scope} scope")]
    GpoScope {
        /// The setting.
        setting: &'static str,
        /// The scope it was used at.
        scope: &'static str,
    },
    /// The policy version cannot be increased any more.
    #[error("LK-POL-024: the policy version counter is exhausted")]
    VersionExhausted,
    /// The session is not authenticated; nothing was executed.
    #[error("LK-POL-025: the SyncML session is not authenticated")]
    Unauthenticated,
    /// The command was not executed because an enclosing command failed first.
    #[error("LK-POL-026: not executed: {reason}")]
    NotExecuted {
        /// Why.
        reason: &'static str,
    },
    /// `Meta/Type` is not `text/plain`.
    #[error("LK-POL-027: Meta/Type {mime:?} is not supported (only text/plain)")]
    UnsupportedMetaType {
        /// The declared type.
        mime: String,
    },
    /// A command with an element it may not contain.
    #[error("LK-POL-028: malformed command: {reason}")]
    MalformedCommand {
        /// What is wrong.
        reason: String,
    },
}

impl PolicyError {
    /// The stable code, e.g. `LK-POL-004`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTenantId { .. } => "LK-POL-001",
            Self::MalformedLocUri { .. } => "LK-POL-002",
            Self::UnknownNode { .. } => "LK-POL-003",
            Self::ForeignTenant { .. } => "LK-POL-004",
            Self::NodeNotInScope { .. } => "LK-POL-005",
            Self::OperationNotAllowed { .. } => "LK-POL-006",
            Self::FormatMismatch { .. } => "LK-POL-007",
            Self::UnparsableValue { .. } => "LK-POL-008",
            Self::ValueOutOfRange { .. } => "LK-POL-009",
            Self::MissingData { .. } => "LK-POL-010",
            Self::AlreadyExists { .. } => "LK-POL-011",
            Self::NotSet { .. } => "LK-POL-012",
            Self::ReadOnlySession { .. } => "LK-POL-013",
            Self::OptionalFeatureNotSupported { .. } => "LK-POL-014",
            Self::NotAllowedInAtomic { .. } => "LK-POL-015",
            Self::MissingCmdId { .. } => "LK-POL-016",
            Self::UnknownCommand { .. } => "LK-POL-017",
            Self::MissingTarget { .. } => "LK-POL-018",
            Self::SyncMlSyntax { .. } => "LK-POL-019",
            Self::SyncMlLimit { .. } => "LK-POL-020",
            Self::SyncMlStructure { .. } => "LK-POL-021",
            Self::RegFile { .. } => "LK-POL-022",
            Self::GpoScope { .. } => "LK-POL-023",
            Self::VersionExhausted => "LK-POL-024",
            Self::Unauthenticated => "LK-POL-025",
            Self::NotExecuted { .. } => "LK-POL-026",
            Self::UnsupportedMetaType { .. } => "LK-POL-027",
            Self::MalformedCommand { .. } => "LK-POL-028",
        }
    }

    /// The SyncML status this error is reported with, or `None` for errors that never
    /// come from a SyncML command (`.reg` import, Group Policy scope).
    ///
    /// Whole-message errors (syntax, limits, structure) map to 400: the server answers
    /// them with a SyncHdr status of 400 when it can, or an HTTP 400 otherwise.
    pub fn syncml_status(&self) -> Option<StatusCode> {
        Some(match self {
            Self::InvalidTenantId { .. }
            | Self::MalformedLocUri { .. }
            | Self::ValueOutOfRange { .. }
            | Self::MissingData { .. }
            | Self::MissingCmdId { .. }
            | Self::MalformedCommand { .. }
            | Self::UnknownCommand { .. }
            | Self::MissingTarget { .. }
            | Self::SyncMlSyntax { .. }
            | Self::SyncMlLimit { .. }
            | Self::SyncMlStructure { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::ForeignTenant { .. } | Self::ReadOnlySession { .. } => StatusCode::FORBIDDEN,
            Self::UnknownNode { .. } | Self::NodeNotInScope { .. } | Self::NotSet { .. } => {
                StatusCode::NOT_FOUND
            }
            Self::OperationNotAllowed { .. } => StatusCode::COMMAND_NOT_ALLOWED,
            Self::OptionalFeatureNotSupported { .. } => StatusCode::OPTIONAL_FEATURE_NOT_SUPPORTED,
            Self::FormatMismatch { .. }
            | Self::UnparsableValue { .. }
            | Self::UnsupportedMetaType { .. } => StatusCode::UNSUPPORTED_TYPE_OR_FORMAT,
            Self::AlreadyExists { .. } => StatusCode::ALREADY_EXISTS,
            Self::NotAllowedInAtomic { .. } | Self::VersionExhausted => StatusCode::COMMAND_FAILED,
            Self::NotExecuted { .. } => StatusCode::NOT_EXECUTED,
            Self::RegFile { .. } | Self::GpoScope { .. } => return None,
        })
    }
}

/// Truncate user-supplied text for an error message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}
