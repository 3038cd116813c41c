//! SyncML / OMA-DM 1.2 as profiled by MS-MDM: the message model, a parser that enforces
//! limits and rejects trailing data, and a serializer.
//!
//! The byte-level layer ([`parse_message`], [`to_xml`]) makes no policy decisions; those
//! are in [`crate::engine`].

mod limits;
mod model;
mod parse;
mod status;
mod write;
mod xml;

pub use limits::Limits;
pub use model::{
    Alert, Command, CommandProblem, Container, Item, ItemCommand, ItemCommandKind, Meta, Results,
    StatusElement, SyncHdr, SyncMl, UnknownCommand, SYNCML_NAMESPACE,
};
pub use parse::parse_message;
pub use status::StatusCode;
pub use write::to_xml;
