//! The Latchkey identity service as a library: directory storage, the JSON API (`/v1/*`),
//! tokens, nonces, and administration. The web pages, WebAuthn ceremonies and OAuth/OpenID
//! Connect are the `latchkey-web` crate above this one.
//!
//! Start it with [`start`], or [`start_with`] and extra routes (the binary `latchkeyd
//! serve` passes the web crate's); administer a
//! data directory with [`admin::Admin`]. Time and randomness come in through
//! [`clock::Env`], so tests run the real service over real HTTP with a
//! [`clock::ManualClock`].
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod audit_throttle;
pub mod certs;
pub mod clock;
pub mod config;
mod conn;
pub mod crypto;
pub mod data_dir;
pub mod error;
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
pub use server::{start, start_with, RunningServer, StartError};
