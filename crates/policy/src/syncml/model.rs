//! The SyncML message model (MS-MDM 2.2, OMA-SyncML-RepPro 1.2).

/// The namespace of the root element: `<SyncML xmlns="SYNCML:SYNCML1.2">`.
pub const SYNCML_NAMESPACE: &str = "SYNCML:SYNCML1.2";

/// A SyncML message.
///
/// MS-MDM 2.2.4.1: `<SyncML>(SyncHdr, SyncBody)</SyncML>`. The header is optional here
/// because Microsoft's own examples (the seed's included) omit it; the engine decides what a
/// missing header means.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncMl {
    /// `SyncHdr`, if present.
    pub header: Option<SyncHdr>,
    /// The commands of `SyncBody`, in order.
    pub commands: Vec<Command>,
    /// Whether `SyncBody` carries `<Final/>`.
    pub final_flag: bool,
}

/// MS-MDM 2.2.4.2: `<SyncHdr>(VerDTD, VerProto, SessionID, MsgID, Target, Source, Cred?,
/// Meta?)</SyncHdr>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncHdr {
    /// `VerDTD`: "1.2".
    pub ver_dtd: String,
    /// `VerProto`: "DM/1.2".
    pub ver_proto: String,
    /// `SessionID`.
    pub session_id: String,
    /// `MsgID`.
    pub msg_id: String,
    /// `Target/LocURI`.
    pub target: Option<String>,
    /// `Source/LocURI`.
    pub source: Option<String>,
    /// Whether a `Cred` element was present (its content is for the transport layer).
    pub has_cred: bool,
}

/// One element under SyncBody, Atomic or Sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Add, Replace, Delete, Get, Exec or Copy.
    Item(ItemCommand),
    /// `Atomic`: all or nothing.
    Atomic(Container),
    /// `Sequence`: in order.
    Sequence(Container),
    /// `Alert`.
    Alert(Alert),
    /// `Status` (in replies).
    Status(StatusElement),
    /// `Results` (in replies).
    Results(Results),
    /// An element that is not an OMA-DM command.
    Unknown(UnknownCommand),
}

impl Command {
    /// The command's element name.
    pub fn name(&self) -> &str {
        match self {
            Self::Item(c) => c.kind.as_str(),
            Self::Atomic(_) => "Atomic",
            Self::Sequence(_) => "Sequence",
            Self::Alert(_) => "Alert",
            Self::Status(_) => "Status",
            Self::Results(_) => "Results",
            Self::Unknown(u) => &u.name,
        }
    }

    /// The command's `CmdID`, if any.
    pub fn cmd_id(&self) -> Option<&str> {
        match self {
            Self::Item(c) => c.cmd_id.as_deref(),
            Self::Atomic(c) | Self::Sequence(c) => c.cmd_id.as_deref(),
            Self::Alert(a) => a.cmd_id.as_deref(),
            Self::Status(s) => Some(&s.cmd_id),
            Self::Results(r) => Some(&r.cmd_id),
            Self::Unknown(u) => u.cmd_id.as_deref(),
        }
    }
}

/// The commands that act on items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemCommandKind {
    /// `Add`.
    Add,
    /// `Replace`.
    Replace,
    /// `Delete`.
    Delete,
    /// `Get`.
    Get,
    /// `Exec`.
    Exec,
    /// `Copy`.
    Copy,
}

impl ItemCommandKind {
    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "Add",
            Self::Replace => "Replace",
            Self::Delete => "Delete",
            Self::Get => "Get",
            Self::Exec => "Exec",
            Self::Copy => "Copy",
        }
    }
}

/// MS-MDM 2.2.6.x: `<Add>(CmdID, Cred?, Meta?, Item+)</Add>` (and Replace, Delete, Get,
/// Exec, Copy alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCommand {
    /// Which command.
    pub kind: ItemCommandKind,
    /// `CmdID`.
    pub cmd_id: Option<String>,
    /// Command-level `Meta` (items may override).
    pub meta: Meta,
    /// `Item`s.
    pub items: Vec<Item>,
    /// A structural problem found while parsing (unknown child element, `MoreData`, ...);
    /// the engine answers such a command with an error status instead of executing it.
    pub problem: Option<CommandProblem>,
}

/// Why a parsed command cannot be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandProblem {
    /// Malformed (an unexpected element): 400.
    Malformed(String),
    /// Uses an optional OMA-DM feature Latchkey does not support (MoreData, xml Data): 406.
    Unsupported(String),
}

/// `<Atomic>(CmdID, Meta?, (Add | Replace | Delete | Copy | Exec | Sequence | ...)+)` and
/// `<Sequence>` alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// `CmdID`.
    pub cmd_id: Option<String>,
    /// The contained commands.
    pub commands: Vec<Command>,
}

/// `<Alert>(CmdID, Data, Item*)</Alert>`: 1201 client-initiated management, 1200 server-
/// initiated, 1226 generic alert...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `CmdID`.
    pub cmd_id: Option<String>,
    /// The alert code.
    pub data: Option<String>,
    /// `Item`s.
    pub items: Vec<Item>,
}

/// MS-MDM 2.2.4.x: `<Status>(CmdID, MsgRef, CmdRef, Cmd, Data, Item*, TargetRef?,
/// SourceRef?)</Status>`. "Status MUST be returned for the SyncHdr and MUST be the first
/// Status element"; "The order of Status elements in a SyncML response MUST match the order
/// of the corresponding commands in the SyncML request."
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusElement {
    /// `CmdID` of this Status.
    pub cmd_id: String,
    /// `MsgRef`: the MsgID of the message answered.
    pub msg_ref: String,
    /// `CmdRef`: the CmdID of the command answered ("0" for the SyncHdr, blank when the
    /// command had no CmdID).
    pub cmd_ref: String,
    /// `Cmd`: the element name of the command answered.
    pub cmd: String,
    /// `TargetRef`: the LocURI the status is about.
    pub target_ref: Option<String>,
    /// `Data`: the status code.
    pub data: String,
}

/// `<Results>(CmdID, MsgRef?, CmdRef, Meta?, TargetRef?, SourceRef?, Item+)</Results>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Results {
    /// `CmdID` of this Results.
    pub cmd_id: String,
    /// `MsgRef`.
    pub msg_ref: String,
    /// `CmdRef`: the Get answered.
    pub cmd_ref: String,
    /// The values, each with `Source/LocURI`, `Meta/Format` and `Data`.
    pub items: Vec<Item>,
}

/// An element under SyncBody/Atomic/Sequence that is no OMA-DM command. MS-MDM: "If an XML
/// element that isn't a valid OMA DM command is under one of the following elements, the
/// status code 400 is returned for that element."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCommand {
    /// Its element name.
    pub name: String,
    /// Its `CmdID` child, if any.
    pub cmd_id: Option<String>,
}

/// `<Item>(Target?, Source?, Meta?, Data?, MoreData?)</Item>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    /// `Target/LocURI`.
    pub target: Option<String>,
    /// `Source/LocURI`.
    pub source: Option<String>,
    /// `Meta`.
    pub meta: Meta,
    /// `Data`.
    pub data: Option<String>,
}

/// `<Meta>(Format?, Type?, ...)</Meta>` (other MetInf elements are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// `Format` (`xmlns="syncml:metinf"`): bool, int, chr, node, ...
    pub format: Option<String>,
    /// `Type`: a MIME type such as `text/plain`.
    pub mime: Option<String>,
}

impl Meta {
    /// This Meta, with fields it leaves unset taken from `outer`.
    pub fn or(&self, outer: &Meta) -> Meta {
        Meta {
            format: self.format.clone().or_else(|| outer.format.clone()),
            mime: self.mime.clone().or_else(|| outer.mime.clone()),
        }
    }
}
