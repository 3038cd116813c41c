//! `latchkeyd` as a library: the administration of a tenant's data directory
//! ([`data_admin::Admin`]), which the `latchkeyd` commands run and which other crates' tests
//! use to set a tenant up. The service itself is `latchkey-server`; this crate sits above it.
#![forbid(unsafe_code)]

pub mod data_admin;
