//! The server crate's test harness (`crates/server/tests/common`), shared rather than
//! copied, with the web crate's routes mounted ([`WebHarness`]) and the browser helpers
//! ([`web`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    dead_code,
    unused_imports
)]

#[path = "../../../server/tests/common/mod.rs"]
mod shared;

pub use shared::*;

pub mod web;

use latchkey_server::ServerConfig;

/// Starting the harness with the web crate's routes.
pub trait WebHarness {
    /// The service with `latchkey_web::router()`.
    async fn web() -> Harness;
    /// The same, with `configure` applied to its configuration.
    async fn web_with(configure: impl Fn(&mut ServerConfig) + Send + Sync + 'static) -> Harness;
}

impl WebHarness for Harness {
    async fn web() -> Harness {
        Harness::start_routes(latchkey_web::router(), |_| {}).await
    }

    async fn web_with(configure: impl Fn(&mut ServerConfig) + Send + Sync + 'static) -> Harness {
        Harness::start_routes(latchkey_web::router(), configure).await
    }
}
