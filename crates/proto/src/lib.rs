//! Wire types shared by `latchkeyd` (the identity service) and `latchkey` (the device agent).
//!
//! Everything here is pure data and byte-level encoding: the JSON request and response bodies
//! of the HTTP API ([`api`]), the stable error codes every failure is reported with
//! ([`ErrorCode`]), the Microsoft key blob formats ([`bcrypt`], [`key_credential_link`]) and
//! the exact bytes a device signs to prove possession of a key ([`proof`]). No I/O, no
//! protocol decisions: those live in the service and the agent.
#![forbid(unsafe_code)]

pub mod api;
pub mod b64;
pub mod bcrypt;
pub mod claims;
mod error;
mod error_code;
pub mod key_credential_link;
pub mod proof;
mod redact;

pub use error::FormatError;
pub use error_code::{ApiErrorBody, ErrorCode};

/// The version prefix of every HTTP API route (`/v1/...`).
pub const API_PREFIX: &str = "/v1";
