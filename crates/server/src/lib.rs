//! The Latchkey identity service as a library: the JSON API (`/v1/*`), tokens, nonces,
//! policy and certificates, on the storage layer (`latchkey-storage`). The web pages,
//! WebAuthn ceremonies and OAuth/OpenID Connect are the `latchkey-web` crate above this one;
//! the administration of a data directory is `latchkeyd`'s library (`latchkeyd::data_admin`).
//!
//! Start it with [`start`], or [`start_with`] and extra routes (the binary `latchkeyd
//! serve` passes the web crate's). Time and randomness come in through
//! [`clock::Env`], so tests run the real service over real HTTP with a
//! [`clock::ManualClock`].
#![forbid(unsafe_code)]

pub use latchkey_storage::audit;
pub mod attempts;
pub mod audit_throttle;
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
pub use server::{default_host, start, start_with, RunningServer, StartError};
