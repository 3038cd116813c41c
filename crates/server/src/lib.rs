//! The Latchkey identity service as a library: directory storage, the HTTP API, tokens,
//! nonces, policy and certificates.
//!
//! Start it with [`start`] (the binary `latchkeyd serve` does exactly that); the
//! administration of a data directory is `latchkeyd`'s library (`latchkeyd::data_admin`),
//! built on this crate's storage and domain modules. Time and randomness come in through
//! [`clock::Env`], so tests run the real service over real HTTP with a
//! [`clock::ManualClock`].
#![forbid(unsafe_code)]

pub use latchkey_storage::audit;
pub mod audit_throttle;
pub mod ceremony;
pub mod certs;
pub mod clock;
pub mod config;
mod conn;
pub mod crypto;
pub mod data_dir;
pub mod error;
pub mod key_report;
pub mod nonce;
pub mod observe;
pub mod password;
pub mod pin_recovery;
pub mod policy;
pub mod ratelimit;
pub mod routes;
pub mod seckey;
pub mod secrets;
mod server;
pub mod state;
pub mod storage;
pub mod tenant;
pub mod tls;
pub mod tokens;
pub mod totp;
pub mod tpm;

pub use config::ServerConfig;
pub use server::{default_host, start, RunningServer, StartError};
