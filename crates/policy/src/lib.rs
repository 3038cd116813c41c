//! # latchkey-policy
//!
//! The PassportForWork policy tree of Latchkey: every node of the PassportForWork CSP with
//! its type, default, allowed values, operations and scopes ([`node`]); LocURIs
//! ([`locuri`]); a tenant's policy document with a version ([`document`]); the Group Policy
//! layer and `.reg` import ([`gpo`], [`regfile`]); precedence into an [`EffectivePolicy`]
//! ([`effective`]); PIN rules and validation ([`pin`]); the provisioning decision
//! ([`provision`]); SyncML / OMA-DM 1.2 parsing and writing ([`syncml`]) and the command
//! engine ([`engine`]); and the device's side of a session ([`device`]).
//!
//! Pure: no I/O, no async, no panics on any input.

#![forbid(unsafe_code)]

pub mod device;
pub mod document;
pub mod effective;
pub mod engine;
pub mod error;
pub mod gpo;
pub mod locuri;
pub mod node;
pub mod pin;
pub mod provision;
pub mod regfile;
pub mod settings;
pub mod syncml;
pub mod tenant;
pub mod value;

pub use document::PolicyDocument;
pub use effective::{EffectivePolicy, PolicySources, Source};
pub use engine::{apply, Access, Applied, Session};
pub use error::PolicyError;
pub use node::{Node, Scope};
pub use pin::{validate_pin, PinRuleViolation};
pub use provision::{decide, DeviceFacts, JoinType, ProvisioningDecision};
pub use tenant::TenantId;
pub use value::Value;
